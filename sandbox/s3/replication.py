"""The rules of S3 live replication, without moto: which rule of a configuration
replicates a write, whether a delete marker replicates, and when the replica appears.

AWS (Amazon S3 User Guide):
- A rule applies when its ``Status`` is ``Enabled`` AT THE TIME OF THE WRITE and its
  filter matches the key (``Filter.Prefix``, ``Filter.Tag``, ``Filter.And``; the
  legacy V1 rule-level ``Prefix``); of several matching rules to one destination the
  highest ``Priority`` wins ("Replication configuration file elements"). An object
  written while no enabled rule matched is not replicated later by live replication
  ("Replicating existing objects with Batch Replication").
- Delete markers: a V2 rule (with ``Filter``) replicates them only with
  ``DeleteMarkerReplication: Enabled``; a V1 rule (rule-level ``Prefix``) always does.
  A delete of a specific version is never replicated ("Replicating delete markers
  between buckets").
- Timing: "most objects replicate within seconds", and S3 Replication Time Control
  "replicates 99.99 percent of new objects within 15 minutes" ("Meeting compliance
  requirements with S3 Replication Time Control",
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-time-control.html).
  The sandbox's lag: :data:`DEFAULT_LAG_SECONDS` plus a small jitter, bounded by
  :data:`RTC_BOUND_SECONDS`; both parameters.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_LAG_SECONDS",
    "DEFAULT_JITTER_SECONDS",
    "RTC_BOUND_SECONDS",
    "Rule",
    "parse_rules",
    "rule_for",
    "destination_bucket",
    "lag_seconds",
]

DEFAULT_LAG_SECONDS = 2.0  # "most objects replicate within seconds" (S3 User Guide, above)
DEFAULT_JITTER_SECONDS = 1.0
RTC_BOUND_SECONDS = 900.0  # S3 RTC: 99.99 % within 15 minutes (S3 User Guide, above)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Rule:
    id: str
    priority: int
    enabled: bool
    prefix: str
    tags: tuple[tuple[str, str], ...]
    v1: bool  # rule-level Prefix (no Filter): the legacy schema
    delete_markers: bool
    destination: str  # destination bucket name

    def matches(self, key: str, object_tags: dict[str, str]) -> bool:
        return key.startswith(self.prefix) and all(object_tags.get(k) == v for k, v in self.tags)


def destination_bucket(arn_or_name: str) -> str:
    return arn_or_name.split(":::", 1)[-1]


def _tags_of(node: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(t["Key"]), str(t["Value"])) for t in _as_list(node))


def parse_rules(configuration: dict[str, Any] | None) -> list[Rule]:
    """The rules of a replication configuration, as stored by PutBucketReplication
    (XML parsed: ``Rule``) or as the API returns it (``Rules``)."""
    configuration = configuration or {}
    rules = []
    for raw in _as_list(configuration.get("Rule", configuration.get("Rules"))):
        filt = raw.get("Filter")
        v1 = "Filter" not in raw  # an empty <Filter/> is a V2 rule matching everything
        prefix = str(raw.get("Prefix") or "")
        tags: tuple[tuple[str, str], ...] = ()
        if isinstance(filt, dict):
            both = filt.get("And")
            if isinstance(both, dict):
                prefix = str(both.get("Prefix") or "")
                tags = _tags_of(both.get("Tag", both.get("Tags")))
            else:
                prefix, tags = str(filt.get("Prefix") or ""), _tags_of(filt.get("Tag"))
        marker = (raw.get("DeleteMarkerReplication") or {}).get("Status") == "Enabled"
        rules.append(
            Rule(
                id=str(raw.get("ID", "")),
                priority=int(raw.get("Priority") or 0),
                enabled=raw.get("Status") == "Enabled",
                prefix=prefix,
                tags=tags,
                v1=v1,
                delete_markers=v1 or marker,
                destination=destination_bucket(str(raw["Destination"]["Bucket"])),
            )
        )
    return rules


def rule_for(
    rules: list[Rule], key: str, object_tags: dict[str, str], destination: str
) -> Rule | None:
    """The enabled rule that replicates ``key`` to ``destination`` (highest priority)."""
    matching = [
        r
        for r in rules
        if r.enabled and r.destination == destination and r.matches(key, object_tags)
    ]
    return max(matching, key=lambda r: r.priority, default=None)


def lag_seconds(
    base: float = DEFAULT_LAG_SECONDS,
    jitter: float = DEFAULT_JITTER_SECONDS,
    bound: float = RTC_BOUND_SECONDS,
    rng: random.Random | None = None,
) -> float:
    """One replica's delay after the source acknowledged the write."""
    draw = (rng or random).uniform(0.0, max(0.0, jitter))
    return min(bound, max(0.0, base) + draw)
