"""The sandbox's env file: what ``chaos run x.yaml --var-file <file>`` needs.

Chaos Toolkit reads a var file whose extension is neither ``.json`` nor ``.yaml`` as
``KEY=VALUE`` lines and puts them in ``os.environ`` verbatim (no quoting, no
expansion), so values are written bare and must not contain newlines. boto3 then reaches
the sandbox through ``AWS_ENDPOINT_URL``; dummy credentials and empty config files keep
a stray profile from pointing the run at a real account.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# Keys every experiment may read, in the order they are written.
AWS_KEYS = (
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_EC2_METADATA_DISABLED",
)
GAMEDAY_KEYS = (
    "GAMEDAY_TARGET",
    "GAMEDAY_ALLOWED_ACCOUNTS",
    "GAMEDAY_ALLOWED_REGIONS",
    "GAMEDAY_LOCK_TABLE",
    "GAMEDAY_STOP_ALARMS",
    "GAMEDAY_STOP_POLL_INTERVAL",
    "GAMEDAY_AZ",
    "GAMEDAY_VPC_ID",
    "GAMEDAY_SUBNET_TAG",
    "GAMEDAY_BLACKHOLE_SCOPE",
    "GAMEDAY_API_URL",
    "GAMEDAY_API_PATH",
    "GAMEDAY_DB_INSTANCE",
    "GAMEDAY_DB_DSN",
    "GAMEDAY_HEALTH_CHECK_ID",
    "GAMEDAY_HEALTH_CHECK_WAIT_SECONDS",
    "GAMEDAY_BLOCK_MECHANISM",
    "GAMEDAY_FAILOVER_RECORD",
    "GAMEDAY_DNS_SERVER",
    "GAMEDAY_FAILOVER_URL",
    "GAMEDAY_POLL_INTERVAL",
    "GAMEDAY_TABLE",
    "GAMEDAY_OTHER_REGION",
    "GAMEDAY_CONFLICT_WRITES",
    "GAMEDAY_CONVERGENCE_TIMEOUT",
    "GAMEDAY_FAILOVER_TIMEOUT",
    "GAMEDAY_MAX_FAULT_SECONDS",
    "GAMEDAY_TARGETS_FILE",
    "GAMEDAY_SAMPLING_HZ",
    "GAMEDAY_MARKER_INTERVAL",
    "GAMEDAY_MARKER_TIMEOUT",
    "GAMEDAY_TICKET_MARKER_INTERVAL",
    "GAMEDAY_TICKETS_URL",
    "GAMEDAY_RECOVERY_CONSECUTIVE",
    "GAMEDAY_RECOVERY_TIMEOUT",
    "GAMEDAY_RECOVERY_WINDOW",
    "GAMEDAY_QUIET_PERIOD",
    "GAMEDAY_SYMPTOMS_SECONDS",
    "GAMEDAY_SCENARIO_MAX_FAULT_SECONDS",
)
ENV_KEYS = AWS_KEYS + GAMEDAY_KEYS

# Safe values that do not depend on the topology.
FIXED = {
    # dummy credentials, distinct from any word a journal holds: journals mask them
    "AWS_ACCESS_KEY_ID": "SANDBOXDUMMYKEYID",
    "AWS_SECRET_ACCESS_KEY": "sandbox-dummy-secret-access-key",
    "AWS_SESSION_TOKEN": "sandbox-dummy-session-token",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "GAMEDAY_TARGET": "sandbox",
    "GAMEDAY_LOCK_TABLE": "gameday-locks",  # created in moto on first use
    # No stop alarm by default: one env file serves every experiment, and the seeded
    # Route 53 alarms are what the health-check experiment trips on purpose.
    "GAMEDAY_STOP_ALARMS": "",
    "GAMEDAY_SUBNET_TAG": "",
    "GAMEDAY_BLACKHOLE_SCOPE": "all",
    "GAMEDAY_BLOCK_MECHANISM": "listener-rule",
    "GAMEDAY_API_PATH": "/api/tickets",
    "GAMEDAY_CONFLICT_WRITES": "10",
    "GAMEDAY_CONVERGENCE_TIMEOUT": "30",
    "GAMEDAY_FAILOVER_TIMEOUT": "120",
    "GAMEDAY_MAX_FAULT_SECONDS": "300",
    "GAMEDAY_TARGETS_FILE": "",  # empty: experiments/targets.yaml, as in staging
    "GAMEDAY_RECOVERY_CONSECUTIVE": "3",
    # demo pace: the waits poll Route 53 and the stop alarms often; "no outage" is
    # decided after 5 s without a failed sample; Route 53 waits are bounded at 30 s
    "GAMEDAY_POLL_INTERVAL": "0.25",
    "GAMEDAY_STOP_POLL_INTERVAL": "0.5",
    "GAMEDAY_QUIET_PERIOD": "5",
    "GAMEDAY_HEALTH_CHECK_WAIT_SECONDS": "30",
}

HEADER = """\
# Sandbox environment (generated; do not edit, it changes at every start).
#   chaos run experiments/<experiment>.yaml --var-file {path}
# Everything below points at a local moto server and emulators on 127.0.0.0/8:
# no request leaves this machine.
"""


def render_env(values: Mapping[str, str], path: str | os.PathLike[str] = "<file>") -> str:
    """``KEY=VALUE`` lines: the known keys in order, then any extra key, sorted."""
    lines = [HEADER.format(path=path)]
    extra = sorted(k for k in values if k not in ENV_KEYS)
    for key in (*ENV_KEYS, *extra):
        if key not in values:
            continue
        value = str(values[key])
        if "\n" in value or "\r" in value or "=" in key or not key:
            raise ValueError(f"cannot write {key!r} to an env file")
        lines.append(f"{key}={value}\n")
    return "".join(lines)


def parse_env(text: str) -> dict[str, str]:
    """Read an env file the way chaostoolkit does (split on the first ``=``)."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, value = line.split("=", 1)
        values[key] = value
    return values


def write_env_file(values: Mapping[str, str], path: str | os.PathLike[str]) -> Path:
    """Write the env file atomically (mode 0600); returns its path."""
    target = Path(path)
    missing = [k for k in ENV_KEYS if k not in values]
    if missing:
        raise ValueError(f"env file would lack {', '.join(missing)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(render_env(values, target))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    return target
