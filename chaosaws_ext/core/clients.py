"""One AWS client factory for every activity.

Uses the same configuration and secret keys as chaostoolkit-aws so both extensions can
be mixed in one experiment. Endpoints come from boto3's own ``AWS_ENDPOINT_URL`` /
``AWS_ENDPOINT_URL_<SERVICE>`` variables, which is how the sandbox is reached.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from functools import lru_cache
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import (
    CredentialProvider,
    CredentialResolver,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

__all__ = [
    "aws_client",
    "region_of",
    "is_known_region",
    "clear_client_cache",
    "read_only",
    "ReadOnlyViolation",
    "MAX_ATTEMPTS",
    "probe_client_config",
    "PROBE_CLIENT_TIMEOUT_S",
    "MIN_PROBE_CLIENT_TIMEOUT_S",
    "error_code",
    "READ_ONLY_PREFIXES",
    "CLIENT_HOOK_ENV",
]

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# Measurement clients (samplers, markers, lag poller): connect and read timeout. Not the
# per-tick deadline, which the Sampler enforces: a new TLS connection to a distant region
# takes 2-3 round trips (100-200 ms and more for EU<->US), and a botocore timeout closes
# the pooled connection, so a timeout tied to a 0.1-0.25 s tick makes every call open a
# new connection and fail (AWS-FIDELITY #14). Configuration ``aws_probe_client_timeout``.
PROBE_CLIENT_TIMEOUT_S = 2.0
MIN_PROBE_CLIENT_TIMEOUT_S = 1.0
_CONFIG_KEYS = (
    "aws_region",
    "aws_profile_name",
    "aws_assume_role_arn",
    "aws_assume_role_session_name",
)
_SECRET_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")

READ_ONLY_PREFIXES = (
    "Describe",
    "Get",
    "List",
    "Head",
    "Search",
    "Scan",
    "Query",
    "BatchGet",
    "Lookup",
    "Test",
    "Check",  # wafv2 CheckCapacity: computes, changes nothing
)
_read_only = threading.local()
_call_log: list[tuple[str, str]] | None = None
# "module:function" called with every new client, e.g. to record the calls of a run in a
# subprocess (tests/helpers/aws_calls.py checks them against the IAM policies).
CLIENT_HOOK_ENV = "GAMEDAY_AWS_CLIENT_HOOK"


def error_code(error: ClientError) -> str:
    """The AWS error code of a failed call ("" when the answer names none)."""
    return str(error.response.get("Error", {}).get("Code", ""))


class ReadOnlyViolation(ActivityFailed):
    """A mutating call was attempted where only reads are allowed (``gameday plan``)."""


def _before_call(model: Any, **kwargs: Any) -> None:
    service = model.service_model.service_name
    if _call_log is not None:
        _call_log.append((service, model.name))
    if getattr(_read_only, "active", False) and not model.name.startswith(READ_ONLY_PREFIXES):
        raise ReadOnlyViolation(f"{service}:{model.name} refused: read-only (plan) mode")


class read_only:  # noqa: N801 - used as a context manager
    """Within this block every client of this thread refuses mutating calls; with
    ``record=True`` the calls made (service, operation) are collected in ``.calls``."""

    def __init__(self, record: bool = False) -> None:
        self.record = record
        self.calls: list[tuple[str, str]] = []

    def __enter__(self) -> read_only:
        global _call_log
        _read_only.active = True
        if self.record:
            _call_log = self.calls
        return self

    def __exit__(self, *exc: object) -> None:
        global _call_log
        _read_only.active = False
        if self.record:
            _call_log = None


_lock = threading.Lock()
_sessions: dict[tuple, boto3.session.Session] = {}
_clients: dict[tuple, Any] = {}


@lru_cache(maxsize=1)
def _known_regions() -> frozenset[str]:
    """Every region botocore's endpoint data knows (all partitions; EC2 is everywhere)."""
    session = botocore.session.get_session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("ec2", partition)
    )


def is_known_region(name: str) -> bool:
    """Whether botocore's endpoint data knows region ``name``."""
    return name in _known_regions()


def _checked(region: str) -> str:
    """Refuse, in one line and before any call, a region botocore does not know (a typo
    would otherwise surface as a connection error after retries). A region newer than
    the installed botocore: upgrade botocore, or set GAMEDAY_ALLOW_UNKNOWN_REGIONS=1."""
    known = _known_regions()
    if known and region not in known and not os.environ.get("GAMEDAY_ALLOW_UNKNOWN_REGIONS"):
        raise ActivityFailed(
            f"unknown AWS region {region!r} (not in botocore's endpoint data; a typo? "
            "for a region newer than botocore set GAMEDAY_ALLOW_UNKNOWN_REGIONS=1)"
        )
    return region


def region_of(configuration: Configuration | None, region: str | None = None) -> str:
    """The region an activity acts in: explicit argument, then ``aws_region``, then boto3."""
    if region:
        return _checked(str(region))
    configured = (configuration or {}).get("aws_region")
    if configured:
        return _checked(str(configured))
    found = boto3.session.Session().region_name
    if not found:
        raise ActivityFailed(
            "no AWS region: set configuration 'aws_region' (or AWS_REGION in the environment)"
        )
    return _checked(found)


def _aws_secrets(secrets: Secrets | None) -> dict[str, str]:
    """Accept both flat secrets and chaostoolkit-aws' ``{"aws": {...}}`` scope."""
    flat: dict[str, str] = {}
    for scope in (secrets or {}, (secrets or {}).get("aws") or {}):
        if isinstance(scope, dict):
            for key in _SECRET_KEYS:
                if scope.get(key):
                    flat[key] = str(scope[key])
    return flat


def _session(configuration: Configuration | None, secrets: Secrets | None, region: str):
    configuration = configuration or {}
    creds = _aws_secrets(secrets)
    key = (
        region,
        tuple(str(configuration.get(k) or "") for k in _CONFIG_KEYS),
        tuple(creds.get(k, "") for k in _SECRET_KEYS),
    )
    with _lock:
        cached = _sessions.get(key)
    if cached is not None:
        return cached, key
    session = boto3.session.Session(
        aws_access_key_id=creds.get("aws_access_key_id"),
        aws_secret_access_key=creds.get("aws_secret_access_key"),
        aws_session_token=creds.get("aws_session_token"),
        profile_name=configuration.get("aws_profile_name") or None,
        region_name=region,
    )
    role_arn = configuration.get("aws_assume_role_arn")
    if role_arn:
        name = configuration.get("aws_assume_role_session_name") or "chaosaws-ext"
        session = _assumed_role_session(session, str(role_arn), str(name), region)
    with _lock:
        _sessions[key] = session
    return session, key


class _AssumedRoleProvider(CredentialProvider):
    """Hands botocore the refreshable assumed-role credentials (the only provider)."""

    METHOD = CANONICAL_NAME = "chaosaws-assume-role"

    def __init__(self, credentials: DeferredRefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> DeferredRefreshableCredentials:
        return self._credentials


def _assumed_role_session(
    source: boto3.session.Session, role_arn: str, session_name: str, region: str
) -> boto3.session.Session:
    """A session whose credentials re-assume ``role_arn`` before they expire.

    AssumeRole credentials last one hour by default, and role chaining caps them at one
    hour (IAM user guide, "Methods to assume a role"); a run or a ``gameday recover``
    longer than that would meet ExpiredToken mid-undo with static keys. botocore's
    refreshable credentials call ``refresh`` again inside their refresh window (15
    minutes before expiry, advisory; 10 minutes, mandatory), thread-safely.
    """
    sts = source.client("sts", config=_botocore_config())

    def refresh() -> dict[str, str]:
        logger.debug("assuming role %s as session %s", role_arn, session_name)
        assumed = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)
        credentials = assumed["Credentials"]
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": credentials["Expiration"].isoformat(),
        }

    credentials = DeferredRefreshableCredentials(refresh_using=refresh, method="assume-role")
    core = botocore.session.Session()
    core.register_component(
        "credential_provider", CredentialResolver([_AssumedRoleProvider(credentials)])
    )
    return boto3.session.Session(botocore_session=core, region_name=region)


def _botocore_config() -> Config:
    return Config(
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=5,
        read_timeout=30,
        user_agent_extra="chaosaws-ext",
    )


def probe_client_config(configuration: Configuration | None = None) -> Config:
    """botocore config of a measurement client: no retries (a failed call is a failed
    sample) and connect/read timeouts of ``aws_probe_client_timeout`` seconds (default
    PROBE_CLIENT_TIMEOUT_S), never below MIN_PROBE_CLIENT_TIMEOUT_S."""
    asked = (configuration or {}).get("aws_probe_client_timeout")
    try:
        seconds = float(asked) if asked not in (None, "") else PROBE_CLIENT_TIMEOUT_S
    except (TypeError, ValueError) as error:
        raise ActivityFailed(
            f"aws_probe_client_timeout must be a number of seconds, got {asked!r}"
        ) from error
    if seconds < MIN_PROBE_CLIENT_TIMEOUT_S:
        logger.warning(
            "aws_probe_client_timeout %gs raised to %gs (per-sample deadlines are the "
            "sampler's timeout_s, not the client's)",
            seconds,
            MIN_PROBE_CLIENT_TIMEOUT_S,
        )
        seconds = MIN_PROBE_CLIENT_TIMEOUT_S
    return Config(
        connect_timeout=seconds,
        read_timeout=seconds,
        retries={"mode": "standard", "total_max_attempts": 1},
    )


def aws_client(
    service: str,
    configuration: Configuration | None = None,
    secrets: Secrets | None = None,
    region: str | None = None,
    config: Config | None = None,
) -> Any:
    """A boto3 client for ``service``, cached per service, region and credentials.

    ``config`` is merged over the default botocore config (the samplers use it for short
    timeouts and no retries); clients with different overrides are cached apart.
    """
    name = region_of(configuration, region)
    session, key = _session(configuration, secrets, name)
    overrides = repr(sorted(config._user_provided_options.items())) if config else ""
    client_key = (service, key, overrides)
    with _lock:
        client = _clients.get(client_key)
        if client is None:
            merged = _botocore_config().merge(config) if config else _botocore_config()
            client = session.client(service, config=merged)
            client.meta.events.register("before-call.*.*", _before_call)
            _client_hook()(client)
            _clients[client_key] = client
    return client


def _no_hook(client: Any) -> None:
    return None


def _client_hook() -> Any:
    """The function named by ``GAMEDAY_AWS_CLIENT_HOOK`` (a no-op when unset)."""
    named = os.environ.get(CLIENT_HOOK_ENV, "")
    if not named:
        return _no_hook
    module, _, function = named.partition(":")
    return getattr(importlib.import_module(module), function)


def clear_client_cache() -> None:
    """Forget cached sessions and clients (tests switch endpoints between cases)."""
    with _lock:
        _sessions.clear()
        _clients.clear()
