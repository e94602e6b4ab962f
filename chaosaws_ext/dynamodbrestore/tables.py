"""The shapes the DynamoDB restore drill touches: the names of what it creates, the
source's restore window, and the bounded waits for a restored table.

Names carry the run id, so a table or backup left by a crashed run is found by name even
before it could be tagged (``RestoreTableToPointInTime`` and ``CreateBackup`` take no
tags: the restored table is tagged right after the call, the backup never can be).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

__all__ = [
    "RESTORED_PREFIX",
    "BACKUP_PREFIX",
    "RestoreWindow",
    "restored_table_name",
    "backup_name",
    "run_of_name",
    "safe_name",
    "restore_window",
    "error_code",
    "table_status",
    "wait_until",
    "MAX_COUNT_PAGES",
    "count_items",
]

logger = logging.getLogger(__name__)

# "chaos-drill-<run id>-<source>": a restored table; "chaos-drill-<run id>": the backup
RESTORED_PREFIX = "chaos-drill-"
BACKUP_PREFIX = "chaos-drill-"
# TableName and BackupName: 3-255 characters of [a-zA-Z0-9_.-] (DynamoDB API reference)
_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_.-]")
_MAX_NAME = 255
# run ids are "<run or experiment>-<YYYYmmddTHHMMSS>-<6 hex>" (core.identity, gameday)
_RUN_IN_NAME = re.compile(r"^chaos-drill-([a-zA-Z0-9_.-]+?-\d{8}T\d{6}-[0-9a-f]{6})")


def safe_name(value: str) -> str:
    """``value`` with every character a table or backup name refuses as ``-``."""
    return _NAME_CHARS.sub("-", value)


def restored_table_name(run_id: str, source: str) -> str:
    """The new table of run ``run_id`` restored from ``source`` (255 characters at most)."""
    return f"{RESTORED_PREFIX}{safe_name(run_id)}-{source}"[:_MAX_NAME]


def backup_name(run_id: str) -> str:
    """The on-demand backup of run ``run_id`` (one per run and source table)."""
    return f"{BACKUP_PREFIX}{safe_name(run_id)}"[:_MAX_NAME]


def run_of_name(name: str) -> str | None:
    """The run id a drill name carries (None: not one of ours)."""
    found = _RUN_IN_NAME.match(name)
    return found.group(1) if found else None


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@dataclass(frozen=True)
class RestoreWindow:
    """The source table's point-in-time recovery: enabled, and what may be restored."""

    enabled: bool
    earliest: datetime | None
    latest: datetime | None

    def lag_behind(self, moment: datetime) -> float | None:
        """Seconds the latest restorable time is behind ``moment``."""
        if self.latest is None:
            return None
        return round((moment - self.latest).total_seconds(), 3)


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(value), UTC)


def restore_window(client: Any, table_name: str) -> RestoreWindow:
    """``DescribeContinuousBackups`` of ``table_name`` as a :class:`RestoreWindow`."""
    answer = client.describe_continuous_backups(TableName=table_name)
    pitr = answer["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription") or {}
    return RestoreWindow(
        enabled=pitr.get("PointInTimeRecoveryStatus") == "ENABLED",
        earliest=_utc(pitr.get("EarliestRestorableDateTime")),
        latest=_utc(pitr.get("LatestRestorableDateTime")),
    )


def table_status(client: Any, table_name: str) -> str | None:
    """The table's status, None when it does not exist."""
    try:
        return str(client.describe_table(TableName=table_name)["Table"]["TableStatus"])
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None
        raise


def wait_until(check: Any, interval: float, timeout: float, what: str) -> float:
    """Poll ``check()`` every ``interval`` s until true; the monotonic time it was.
    TimeoutError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        now = time.monotonic()
        if check():
            return now
        if now >= deadline:
            raise TimeoutError(f"{what} not within {timeout:g}s")
        time.sleep(max(0.0, min(interval, deadline - now)))


# A Scan page reads at most 1 MB ("Scan", Amazon DynamoDB API Reference): 1000 pages is
# about 1 GB of items, the most the drill counts before calling the count unknown
MAX_COUNT_PAGES = 1000


def count_items(client: Any, table_name: str, max_pages: int = MAX_COUNT_PAGES) -> int | None:
    """The table's item count now: a ``Select=COUNT`` scan, paginated, consistent, at
    most ``max_pages`` pages (None beyond: too big to count here). Not a snapshot:
    writes during the scan may or may not be counted."""
    total = 0
    request: dict[str, Any] = {"TableName": table_name, "Select": "COUNT", "ConsistentRead": True}
    for _ in range(max_pages):
        page = client.scan(**request)
        total += int(page.get("Count", 0))
        last = page.get("LastEvaluatedKey")
        if not last:
            return total
        request["ExclusiveStartKey"] = last
    logger.info("%s: more than %d scan pages, item count not taken", table_name, max_pages)
    return None
