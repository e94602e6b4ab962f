"""Who is running: the run id, experiment name and ledger path shared by every activity,
and every ``chaos:*`` tag name we write or read.

A control sets these at the start of ``chaos run``; without it, a process-wide default
is created lazily from configuration or the environment, so every activity still tags
and journals its mutations with one run id.
"""

from __future__ import annotations

import os
import threading
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from chaoslib.types import Configuration

from chaosaws_ext.core.numbers import checked_number

__all__ = [
    "RunContext",
    "current_run",
    "start_run",
    "end_run",
    "DEFAULT_MAX_FAULT_SECONDS",
    "TAG_RUN_ID",
    "TAG_EXPIRES_AT",
    "TAG_EXPERIMENT",
    "TAG_MANAGED",
    "TAG_FAULT",
    "TAG_PURPOSE",
    "TAG_PROTECTED",
    "TAG_BLACKHOLE_ID",
    "TAG_ORIGINAL_NACL",
    "TAG_ORIGINAL_PREFIX",
    "LABEL_EXPIRES_AT_PREFIX",
    "MANAGED_BY",
    "chaos_tags",
    "elb_tag_value",
    "expiry_after",
]

DEFAULT_MAX_FAULT_SECONDS = 900
TAG_RUN_ID = "chaos:run-id"
TAG_EXPIRES_AT = "chaos:expires-at"
TAG_EXPERIMENT = "chaos:experiment"
TAG_MANAGED = "chaos:managed-by"
TAG_FAULT = "chaos:fault"
TAG_PURPOSE = "chaos:purpose"  # tables we keep for ourselves (the target-lock table)
TAG_PROTECTED = "chaos:protected"  # the default protection tag (guardrails)
TAG_BLACKHOLE_ID = "chaos:blackhole-id"  # unique per blackhole NACL: its undo key
TAG_ORIGINAL_NACL = "chaos:original-nacl"  # the NACL the subnets on a blackhole came from
TAG_ORIGINAL_PREFIX = "chaos:orig:"  # legacy: chaos:orig:<subnet-id> = original NACL id
# WAF rules carry no tags: their expiry is a label chaos:expires-at:<ISO UTC>
LABEL_EXPIRES_AT_PREFIX = TAG_EXPIRES_AT + ":"
MANAGED_BY = "chaosaws-ext"  # the value of TAG_MANAGED

_lock = threading.Lock()
_current: RunContext | None = None


@dataclass
class RunContext:
    run_id: str
    experiment: str
    ledger_path: Path
    max_fault_seconds: float = DEFAULT_MAX_FAULT_SECONDS
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def expires_at(self) -> str:
        return (self.started_at + timedelta(seconds=self.max_fault_seconds)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )


def _from_configuration(configuration: Configuration | None, experiment: str | None) -> RunContext:
    configuration = configuration or {}
    run_id = str(
        configuration.get("chaos_run_id")
        or os.environ.get("GAMEDAY_RUN_ID")
        or f"run-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    )
    ledger = (
        configuration.get("chaos_ledger_path")
        or os.environ.get("GAMEDAY_LEDGER")
        or "chaos-ledger.jsonl"
    )
    max_fault = checked_number(
        configuration.get("max_fault_seconds") or DEFAULT_MAX_FAULT_SECONDS,
        "max_fault_seconds",
        above=True,
        activity="configuration",
    )
    return RunContext(
        run_id=run_id,
        experiment=experiment or str(configuration.get("chaos_experiment") or "adhoc"),
        ledger_path=Path(str(ledger)).expanduser().absolute(),
        max_fault_seconds=max_fault,
    )


def start_run(configuration: Configuration | None, experiment: str | None = None) -> RunContext:
    """Begin a new run (called by the control before the experiment)."""
    global _current
    with _lock:
        _current = _from_configuration(configuration, experiment)
        return _current


def current_run(configuration: Configuration | None = None) -> RunContext:
    """The active run, created from configuration on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = _from_configuration(configuration, None)
        return _current


def end_run() -> None:
    """Forget the active run (the next :func:`current_run` starts a new one)."""
    global _current
    with _lock:
        _current = None


def elb_tag_value(value: str) -> str:
    """``value`` as ELB accepts a tag value: botocore's elbv2 ``TagValue`` is
    ``^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$``, max 256; any other character becomes ``-``
    (an experiment title with ``'``, ``,`` or ``(`` would be refused with ValidationError)."""
    kept = (
        char if char in "_.:/=+-@" or unicodedata.category(char)[0] in "LZN" else "-"
        for char in value
    )
    return "".join(kept)[:256]


def chaos_tags(run: RunContext, fault: str, service: str | None = None) -> dict[str, str]:
    """Tags put on every resource we create, so orphans can be found without the ledger.

    ``service="elbv2"``: values sanitised with :func:`elb_tag_value` (ELB's pattern)."""
    tags = {
        TAG_RUN_ID: run.run_id,
        TAG_EXPERIMENT: run.experiment[:250],
        TAG_EXPIRES_AT: run.expires_at(),
        TAG_MANAGED: MANAGED_BY,
        TAG_FAULT: fault,
    }
    if service == "elbv2":
        return {key: elb_tag_value(value) for key, value in tags.items()}
    return tags


def expiry_after(written_at: datetime, configuration: Configuration | None) -> str:
    """The expiry of an item that carries only its write time (markers, conflict items):
    its run started before the write, so write time + ``max_fault_seconds`` is at or
    after the run's own ``chaos:expires-at`` (never too early for the live-run check)."""
    max_fault = float((configuration or {}).get("max_fault_seconds") or DEFAULT_MAX_FAULT_SECONDS)
    moment = written_at if written_at.tzinfo else written_at.replace(tzinfo=UTC)
    return (moment.astimezone(UTC) + timedelta(seconds=max_fault)).strftime("%Y-%m-%dT%H:%M:%SZ")
