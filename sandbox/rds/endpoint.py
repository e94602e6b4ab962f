"""The RDS instance's described ``Endpoint`` as something a client can connect to.

On AWS ``describe-db-instances`` returns ``Endpoint.Address`` (a DNS name that RDS
repoints at the new primary on a Multi-AZ failover, "Failing over a Multi-AZ DB
instance for Amazon RDS") and ``Endpoint.Port`` (5432 for PostgreSQL), and clients
connect there. The twin gives each sandbox a loopback address literal of its own
(127.x.y.z, where nothing listens on the port) with the DB proxy on the instance's port,
and makes moto describe that address. Two sandboxes on one machine pick different
addresses: the second cannot bind the first one's.

- :func:`bind_free_loopback` (:mod:`sandbox.loopback_address`, shared with the ALB
  nodes) picks the address by binding a listener there.
- :class:`DescribedEndpoints` patches moto so the instance describes that address (the
  address stays the same across a failover, as the DNS name of an RDS endpoint does;
  the proxy refuses connections during the window).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from moto.rds.models import DBInstance

from sandbox.lifecycle import Lifecycle
from sandbox.loopback_address import bind_free_loopback, loopback_candidates

__all__ = ["DescribedEndpoints", "bind_free_loopback", "loopback_candidates"]

log = logging.getLogger(__name__)


class DescribedEndpoints(Lifecycle):
    """While started, moto describes the given instances' ``Endpoint.Address`` as the
    address set with :meth:`set_address` (other instances keep moto's name)."""

    _lock = threading.Lock()
    _active: list[DescribedEndpoints] = []
    _original: Any = None

    def __init__(self) -> None:
        self._addresses: dict[tuple[str, str, str], str] = {}

    def set_address(self, account_id: str, region: str, db_id: str, address: str) -> None:
        self._addresses[(account_id, region, db_id)] = address

    def address_of(self, db: Any) -> str | None:
        key = (str(db.account_id), str(db.region), str(db.db_instance_identifier))
        return self._addresses.get(key)

    def start(self) -> None:
        cls = type(self)
        with cls._lock:
            if self in cls._active:
                return
            if not cls._active:
                cls._original = DBInstance.__dict__["address"]
                original_get = cls._original.fget

                def address(db: Any) -> str:
                    for endpoints in reversed(cls._active):
                        found = endpoints.address_of(db)
                        if found is not None:
                            return found
                    return str(original_get(db))

                DBInstance.address = property(address)  # type: ignore[method-assign,assignment]
            cls._active.append(self)

    def stop(self) -> None:
        cls = type(self)
        with cls._lock:
            if self not in cls._active:
                return
            cls._active.remove(self)
            if not cls._active and cls._original is not None:
                DBInstance.address = cls._original  # type: ignore[method-assign]
                cls._original = None
