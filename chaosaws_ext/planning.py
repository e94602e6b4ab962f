"""What a fault would change, resolved before anything is mutated.

Every inject action is split in two: a read-only ``plan_*`` function that resolves and
validates the targets and returns a :class:`FaultPlan`, and the execution, which passes
the plan through the guardrails (:mod:`chaosaws_ext.guardrails`) and then mutates.
``gameday plan`` prints the same plan without executing it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["PlannedChange", "FaultPlan"]


@dataclass
class PlannedChange:
    resource: str  # stable id or ARN of what changes
    change: str  # what will change, in words ("association nacl-1 -> new blackhole NACL")
    undo: str  # how it is undone, in words
    resource_tags: dict[str, str] = field(default_factory=dict)  # for the protection tag
    kind: str = ""  # e.g. "subnet", "db-instance", "listener", "web-acl", "table"


@dataclass
class FaultPlan:
    fault: str
    region: str
    target: str  # the lock key: one run at a time may fault this target
    changes: list[PlannedChange] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # fault-specific facts
    # why the action will change nothing (no target, as AWS FIS skips an action
    # without targets); None: it will apply ``changes``
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
