"""``gameday recover``: finish every undo a crashed run left behind."""

from __future__ import annotations

import logging
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


def recover_by_tag(
    regions: list[str], configuration: dict[str, Any] | None = None
) -> dict[str, Any]:
    """With the ledger lost: find our tagged leftovers in each region and undo them."""
    results: list[dict[str, Any]] = []
    for spec in undo.find_orphans(configuration or {}, None, regions):
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
