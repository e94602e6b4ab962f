"""Moved to :mod:`chaosaws_ext.core.clients` (the core layer); kept so old imports work."""

from chaosaws_ext.core.clients import (
    CLIENT_HOOK_ENV,
    MAX_ATTEMPTS,
    MIN_PROBE_CLIENT_TIMEOUT_S,
    PROBE_CLIENT_TIMEOUT_S,
    READ_ONLY_PREFIXES,
    ReadOnlyViolation,
    aws_client,
    clear_client_cache,
    error_code,
    is_known_region,
    probe_client_config,
    read_only,
    region_of,
)

__all__ = [
    "CLIENT_HOOK_ENV",
    "MAX_ATTEMPTS",
    "MIN_PROBE_CLIENT_TIMEOUT_S",
    "PROBE_CLIENT_TIMEOUT_S",
    "READ_ONLY_PREFIXES",
    "ReadOnlyViolation",
    "aws_client",
    "clear_client_cache",
    "error_code",
    "is_known_region",
    "probe_client_config",
    "read_only",
    "region_of",
]
