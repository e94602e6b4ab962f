"""EC2 network ACLs as strict as AWS where moto is lenient: eventual consistency and quota.

moto 5.x is instantly consistent and enforces no NACL quota. :class:`Ec2Strictness`
wraps moto's ``NetworkAclBackend`` methods of THIS process (the one running
``ThreadedMotoServer`` or ``mock_aws``) so that:

- **propagation** (``propagation_s``): a NACL just created is unknown for that long to
  ``DescribeNetworkAcls`` (left out of listings, ``InvalidNetworkAclID.NotFound`` by id),
  to entry calls and to ``ReplaceNetworkAclAssociation`` (``InvalidNetworkAclID.NotFound``).
  "If you run a command to modify or describe the resource that you just created, its ID
  might not have propagated throughout the system, and you will get an error responding
  that the resource does not exist" (EC2 developer guide, eventual consistency,
  https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html);
- **stale reads** (``stale_read_s``): for that long after a change to a NACL, its
  entries or associations, ``DescribeNetworkAcls`` answers the state from before the
  first change of the burst (same guide: "a describe right after a change can return
  the previous state");
- **quota** (``max_entries_per_direction``, 20): ``CreateNetworkAclEntry`` beyond 20
  entries in one direction, "the default deny rules (rule number 32767 for IPv4 and
  32768 for IPv6 ...)" included, answers ``NetworkAclEntryLimitExceeded``
  (https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html). moto gives a
  custom NACL no default entries: they are counted as AWS has them (32767, and 32768 in
  a VPC with IPv6);
- ``ReplaceNetworkAclAssociation`` is atomic, as in AWS: an unknown target NACL or
  association id is refused before anything changes (moto drops the old association
  first and then fails, leaving the subnet on no NACL); NACL changes are made one at a
  time (moto's dictionaries are not thread safe: concurrent swaps, as the blackhole
  makes them, raised "dictionary changed size during iteration").

AWS publishes no figure for the delays; the defaults (1 s, 0.5 s) are assumptions of
"a moment", parameters so a test can pick its own. Each switch turns off on its own:
``propagation_s=0``/``stale_read_s=0``/``max_entries_per_direction=None``, or the
environment (read by :func:`from_environment`): ``SANDBOX_EC2_CONSISTENCY=0`` (both
delays off), ``SANDBOX_NACL_QUOTA=0``, ``SANDBOX_EC2_PROPAGATION_S``,
``SANDBOX_EC2_STALE_READ_S``. This module is "AWS": it imports nothing from
chaosaws_ext, probes or gameday.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
from typing import Any

from moto.ec2.exceptions import (
    EC2ClientError,
    InvalidAssociationIdError,
    InvalidNetworkAclIdError,
)
from moto.ec2.models.network_acls import NetworkAclBackend

__all__ = [
    "Ec2Strictness",
    "from_environment",
    "PROPAGATION_SECONDS",
    "STALE_READ_SECONDS",
    "MAX_ENTRIES_PER_DIRECTION",
]

logger = logging.getLogger(__name__)

PROPAGATION_SECONDS = 1.0  # no published figure: "a moment"
STALE_READ_SECONDS = 0.5  # no published figure
MAX_ENTRIES_PER_DIRECTION = 20  # VPC quotas: rules per network ACL, default deny included
DEFAULT_DENY_V4, DEFAULT_DENY_V6 = 32767, 32768

_WRAPPED = (
    "create_network_acl",
    "delete_network_acl",
    "create_network_acl_entry",
    "delete_network_acl_entry",
    "replace_network_acl_entry",
    "replace_network_acl_association",
    "describe_network_acls",
)
_active: Ec2Strictness | None = None
_active_lock = threading.Lock()


class NetworkAclEntryLimitExceeded(EC2ClientError):
    def __init__(self, network_acl_id: str, egress: bool) -> None:
        super().__init__(
            "NetworkAclEntryLimitExceeded",
            f"The maximum number of {'egress' if egress else 'ingress'} network ACL "
            f"entries for network ACL '{network_acl_id}' has been reached.",
        )


def _is_true(value: Any) -> bool:
    return value is True or str(value).strip().lower() == "true"


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


def _seconds(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def from_environment() -> Ec2Strictness:
    """The switches as the environment sets them (all on by default)."""
    eventual = _flag("SANDBOX_EC2_CONSISTENCY", True)
    propagation = _seconds("SANDBOX_EC2_PROPAGATION_S", PROPAGATION_SECONDS)
    stale = _seconds("SANDBOX_EC2_STALE_READ_S", STALE_READ_SECONDS)
    return Ec2Strictness(
        propagation_s=propagation if eventual else 0.0,
        stale_read_s=stale if eventual else 0.0,
        max_entries_per_direction=MAX_ENTRIES_PER_DIRECTION
        if _flag("SANDBOX_NACL_QUOTA", True)
        else None,
    )


class Ec2Strictness:
    """Install with :meth:`install`, remove with :meth:`uninstall` (one per process)."""

    def __init__(
        self,
        propagation_s: float = PROPAGATION_SECONDS,
        stale_read_s: float = STALE_READ_SECONDS,
        max_entries_per_direction: int | None = MAX_ENTRIES_PER_DIRECTION,
    ) -> None:
        self.propagation_s = max(0.0, float(propagation_s))
        self.stale_read_s = max(0.0, float(stale_read_s))
        self.max_entries = max_entries_per_direction
        self._lock = threading.RLock()
        self._born: dict[str, float] = {}  # acl id -> when it becomes visible
        self._stale: dict[int, tuple[float, list[Any]]] = {}  # backend -> (until, snapshot)
        self._originals: dict[str, Any] = {}

    # -- lifecycle ---------------------------------------------------------------------
    def install(self) -> Ec2Strictness:
        global _active
        with _active_lock:
            if _active is not None:
                raise RuntimeError("EC2 strictness is already installed in this process")
            _active = self
        for name in _WRAPPED:
            self._originals[name] = getattr(NetworkAclBackend, name)
            setattr(NetworkAclBackend, name, self._wrapper(name))
        logger.info(
            "EC2 NACL strictness on: propagation %.2fs, stale reads %.2fs, quota %s",
            self.propagation_s,
            self.stale_read_s,
            self.max_entries,
        )
        return self

    def start(self) -> None:
        """The sandbox's one lifecycle (sandbox.lifecycle): start = install the patch."""
        self.install()

    def stop(self) -> None:
        """Idempotent, harmless before start."""
        self.uninstall()

    def uninstall(self) -> None:
        global _active
        for name, original in self._originals.items():
            setattr(NetworkAclBackend, name, original)
        self._originals.clear()
        with _active_lock:
            if _active is self:
                _active = None

    def __enter__(self) -> Ec2Strictness:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    # -- the rules -----------------------------------------------------------------------
    def _hidden(self, acl_id: str) -> bool:
        with self._lock:
            return time.monotonic() < self._born.get(acl_id, 0.0)

    def _require_visible(self, backend: Any, acl_id: str) -> None:
        if acl_id not in backend.network_acls or self._hidden(acl_id):
            raise InvalidNetworkAclIdError(acl_id)

    def _changing(self, backend: Any) -> None:
        """Before a change: keep the state as it was for stale reads (first change of a
        burst; a later change within the window extends it)."""
        if not self.stale_read_s:
            return
        now = time.monotonic()
        with self._lock:
            until, snapshot = self._stale.get(id(backend), (0.0, []))
            if now >= until:
                snapshot = [self._copy(acl) for acl in backend.network_acls.values()]
            self._stale[id(backend)] = (now + self.stale_read_s, snapshot)

    @staticmethod
    def _copy(acl: Any) -> Any:
        frozen = copy.copy(acl)
        frozen._associations = dict(acl._associations)
        frozen.network_acl_entries = list(acl.network_acl_entries)
        return frozen

    def _check_quota(self, backend: Any, acl_id: str, egress: bool) -> None:
        if self.max_entries is None:
            return
        acl = backend.get_network_acl(acl_id)
        numbers = {
            int(e.rule_number) for e in acl.network_acl_entries if _is_true(e.egress) == egress
        }
        defaults = {DEFAULT_DENY_V4}
        vpc = backend.vpcs.get(acl.vpc_id)
        if vpc is not None and vpc.ipv6_cidr_block_association_set:
            defaults.add(DEFAULT_DENY_V6)
        count = len(numbers | defaults)
        if count + 1 > self.max_entries:
            raise NetworkAclEntryLimitExceeded(acl_id, egress)

    def _wrapper(self, name: str) -> Any:
        original = self._originals[name]
        strict = self

        if name == "create_network_acl":

            def create_network_acl(backend: Any, *args: Any, **kwargs: Any) -> Any:
                strict._changing(backend)
                acl = original(backend, *args, **kwargs)
                if not acl.default and strict.propagation_s:
                    with strict._lock:
                        strict._born[acl.id] = time.monotonic() + strict.propagation_s
                return acl

            return create_network_acl

        if name == "describe_network_acls":

            def describe_network_acls(
                backend: Any, network_acl_ids: list[str] | None = None, filters: Any = None
            ) -> Any:
                from moto.ec2.utils import generic_filter

                with strict._lock:
                    until, snapshot = strict._stale.get(id(backend), (0.0, []))
                acls = snapshot if time.monotonic() < until else list(backend.network_acls.values())
                acls = [a for a in acls if not strict._hidden(a.id)]
                if network_acl_ids:
                    known = {a.id for a in acls}
                    missing = sorted(set(network_acl_ids) - known)
                    if missing:
                        raise InvalidNetworkAclIdError(missing[0])
                    acls = [a for a in acls if a.id in network_acl_ids]
                return generic_filter(filters, acls)

            return describe_network_acls

        if name == "replace_network_acl_association":

            def replace_network_acl_association(
                backend: Any, association_id: str, network_acl_id: str
            ) -> Any:
                with strict._lock:  # one change at a time: moto's dicts are not thread safe
                    strict._require_visible(backend, network_acl_id)
                    if not any(
                        association_id in acl._associations
                        for acl in list(backend.network_acls.values())
                    ):
                        raise InvalidAssociationIdError(association_id)
                    strict._changing(backend)
                    return original(backend, association_id, network_acl_id)

            return replace_network_acl_association

        # entry calls and delete: the NACL must be visible; entries count against the quota
        def acl_call(backend: Any, *args: Any, **kwargs: Any) -> Any:
            acl_id = kwargs.get("network_acl_id", args[0] if args else "")
            with strict._lock:  # the quota check and the change as one (AWS is atomic)
                strict._require_visible(backend, acl_id)
                if name == "create_network_acl_entry":
                    egress = kwargs.get("egress", args[4] if len(args) > 4 else False)
                    strict._check_quota(backend, acl_id, _is_true(egress))
                strict._changing(backend)
                return original(backend, *args, **kwargs)

        acl_call.__name__ = name
        return acl_call
