"""``gameday recover``: finish every undo a crashed run left behind."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaosaws_ext import undo
from chaosaws_ext.ledger import Ledger

__all__ = ["recover_from_ledger", "recover_by_tag"]

logger = logging.getLogger("gameday")


def recover_from_ledger(path: Path, configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """Replay every unreverted entry of the ledger, whatever its run."""
    ledger = Ledger(path)
    pending = ledger.unreverted()
    results = undo.replay(ledger, configuration or {}, None)
    left = ledger.unreverted()
    return {"pending": len(pending), "results": results, "left": [e.describe() for e in left]}


def _still_live(spec: dict[str, Any], now: datetime) -> str | None:
    """The expiry of a resource whose run may still be going on (None: safe to undo)."""
    expires = spec.get("expires_at")
    if not expires:
        return None
    try:
        moment = datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
    except ValueError:
        return None
    return str(expires) if moment > now else None


def recover_by_tag(
    regions: list[str], configuration: dict[str, Any] | None = None, force: bool = False
) -> dict[str, Any]:
    """With the ledger lost: find our tagged leftovers in each region and undo them.

    A resource whose ``chaos:expires-at`` is still ahead may belong to a run in progress:
    it is skipped (and listed) unless ``force``."""
    results: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    for spec in undo.find_orphans(configuration or {}, None, regions):
        live_until = None if force else _still_live(spec, now)
        if live_until:
            results.append(
                {
                    "resource": spec["resource"],
                    "ok": False,
                    "skipped": True,
                    "error": f"skipped: its run may still be live (expires {live_until}); "
                    "use --force",
                }
            )
            continue
        func = undo.registered_undoer(spec["undoer"])
        try:
            detail = func(
                **spec.get("args", {}),
                configuration=configuration or {},
                secrets=None,
                region=spec["region"],
            )
            results.append({"resource": spec["resource"], "ok": True, "detail": detail})
        except Exception as error:  # noqa: BLE001 - reported to the user
            results.append({"resource": spec["resource"], "ok": False, "error": str(error)})
    return {"results": results, "left": [r["resource"] for r in results if not r["ok"]]}
