"""Undo registry and replay: how a ledger entry is turned back into AWS calls.

The undoers and orphan finders are those the fault declarations name
(:mod:`chaosaws_ext.faults`); a fault written outside this package registers its own
with :func:`undoer` / :func:`orphan_finder` in a module named by
``GAMEDAY_EXTRA_UNDO_MODULES``. An undoer receives the
arguments stored in the ledger plus ``configuration``/``secrets``/``region`` and must be
idempotent: running it twice, or after a partial undo, ends in the same state.
Orphan finders rebuild undo specs from tags when the ledger is lost.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Collection
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.identity import current_run
from chaosaws_ext.faults import SUPPORT_DECLARATIONS, declarations, undo_modules
from chaosaws_ext.ledger import Ledger, LedgerEntry

__all__ = ["revert_faults"]  # the activities chaos discover lists

logger = logging.getLogger(__name__)

Undoer = Callable[..., Any]
OrphanFinder = Callable[..., list[dict[str, Any]]]


class FinderSkipped(Exception):
    """An orphan finder could not look (no table, DSN or region configured): reported to
    the user and fails the recovery, never read as "nothing found"."""


_UNDOERS: dict[str, Undoer] = {}
_incomplete: list[str] = []
_ORPHAN_FINDERS: dict[str, OrphanFinder] = {}
_registered_modules: set[str] = set()  # undo modules of declarations already registered
UNDO_MODULES = undo_modules()  # derived from the declarations


def undoer(name: str) -> Callable[[Undoer], Undoer]:
    """Register an idempotent undo function under a stable name stored in ledgers (for
    faults outside this package; ours are named by their declarations)."""

    def register(func: Undoer) -> Undoer:
        _UNDOERS[name] = func
        return func

    return register


def orphan_finder(fault: str) -> Callable[[OrphanFinder], OrphanFinder]:
    """Register a function returning undo specs for resources found by our tags (for
    faults outside this package; ours are named by their declarations)."""

    def register(func: OrphanFinder) -> OrphanFinder:
        _ORPHAN_FINDERS[fault] = func
        return func

    return register


def _register_declared() -> None:
    """The undoers (every name, aliases too) and orphan finders the declarations name."""
    for declaration in declarations():
        if declaration.module(declaration.undo) in _registered_modules:
            continue
        module = importlib.import_module(declaration.module(declaration.undo))
        for name, func_name in declaration.undoer_names().items():
            _UNDOERS[name] = getattr(module, func_name)
        if declaration.orphan_finder:
            _ORPHAN_FINDERS[declaration.id] = getattr(module, declaration.orphan_finder)
        _registered_modules.add(module.__name__)


def load_undo_modules() -> None:
    """Register every declared undoer, then import ``GAMEDAY_EXTRA_UNDO_MODULES`` (comma
    separated) for faults written outside this package."""
    _register_declared()
    extra = [m.strip() for m in os.environ.get("GAMEDAY_EXTRA_UNDO_MODULES", "").split(",")]
    for module in filter(None, extra):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:  # a fault not built yet must not block the others
            if not error.name or not module.startswith(error.name):
                raise
            logger.debug("fault module %s not present", module)


def registered_undoer(name: str) -> Undoer:
    """The undo function stored under ``name`` in ledgers."""
    load_undo_modules()
    func = _UNDOERS.get(name)
    if func is None:
        raise ActivityFailed(f"unknown undoer {name!r} (is this chaosaws-ext too old?)")
    return func


def undo_entry(
    entry: LedgerEntry, configuration: Configuration | None, secrets: Secrets | None
) -> Any:
    """Run the undoer the entry names with its recorded arguments (in its region)."""
    func = registered_undoer(entry.undo.get("undoer", ""))
    return func(
        **entry.undo.get("args", {}),
        configuration=configuration,
        secrets=secrets,
        region=entry.region or None,
    )


def replay(
    ledger: Ledger,
    configuration: Configuration | None = None,
    secrets: Secrets | None = None,
    run_id: str | None = None,
    fault: str | None = None,
    skip: Collection[str] = (),
) -> list[dict[str, Any]]:
    """Undo every unreverted entry (newest first) and mark each reverted on success;
    entries whose id is in ``skip`` are left alone (an inject that failed half-way undoes
    only what it recorded itself).

    Goes on after a failed undo so one stuck resource does not keep the others
    broken; the failures are returned (and left unreverted in the ledger).
    """
    results: list[dict[str, Any]] = []
    for entry in reversed(ledger.unreverted(run_id=run_id, fault=fault)):
        if entry.id in skip:
            continue
        try:
            detail = undo_entry(entry, configuration, secrets)
        except Exception as error:  # noqa: BLE001 - reported, entry stays unreverted
            logger.error("undo of %s failed: %s", entry.describe(), error)
            results.append(
                {"entry": entry.id, "resource": entry.resource, "ok": False, "error": str(error)}
            )
            continue
        ledger.mark_reverted(entry.id, detail)
        results.append(
            {"entry": entry.id, "resource": entry.resource, "ok": True, "detail": detail}
        )
    return results


def undo_failures(results: list[dict[str, Any]]) -> list[str]:
    """``resource: error`` of each failed undo of :func:`replay`'s results."""
    return [f"{r['resource']}: {r['error']}" for r in results if not r["ok"]]


def report_incomplete(message: str) -> None:
    """A finder looked but not everywhere (e.g. its scan bound was hit): the recovery
    lists it and fails instead of claiming it found everything."""
    _incomplete.append(message)


def find_orphans(
    configuration: Configuration | None,
    secrets: Secrets | None,
    regions: list[str],
    problems: list[str] | None = None,
    faults: Collection[str] | None = None,
) -> list[dict[str, Any]]:
    """Undo specs ``{"fault", "region", "resource", "undoer", "args"}`` found by tag.

    ``faults``: search only these faults' leftovers (what we create for ourselves, locks
    and markers, is always searched); None searches every fault. What a finder could not
    search (:class:`FinderSkipped`, :func:`report_incomplete`) is appended to
    ``problems`` (logged when None)."""
    load_undo_modules()
    found: list[dict[str, Any]] = []
    seen: set[tuple[Any, Any, Any]] = set()
    missed: list[str] = []
    support = {d.id for d in SUPPORT_DECLARATIONS}
    for fault, finder in _ORPHAN_FINDERS.items():
        if faults is not None and fault not in faults and fault not in support:
            continue
        for region in regions:
            _incomplete.clear()
            try:
                specs = finder(configuration=configuration, secrets=secrets, region=region)
            except FinderSkipped as error:
                missed.append(f"{fault} in {region}: not searched: {error}")
                continue
            except Exception as error:  # noqa: BLE001 - one failed search must not hide the rest
                missed.append(f"{fault} in {region}: search failed: {error}")
                continue
            missed.extend(f"{fault} in {region}: {message}" for message in _incomplete)
            for spec in specs:
                spec.setdefault("fault", fault)
                spec.setdefault("region", region)
                # a finder may search a second region (a drill's DR region) that the
                # list names too: one undo per resource
                key = (spec["fault"], spec["region"], spec.get("resource"))
                if key not in seen:
                    seen.add(key)
                    found.append(spec)
    _incomplete.clear()
    if problems is None:
        for line in missed:
            logger.warning("orphan search incomplete: %s", line)
    else:
        problems.extend(missed)
    return found


def revert_faults(
    fault: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Undo every unreverted mutation of this run (optionally of one fault) from the ledger.

    Idempotent: safe as a rollback and again after a crash. Fails when anything is
    left unreverted, naming what.
    """
    run = current_run(configuration)
    ledger = Ledger(run.ledger_path)
    results = replay(ledger, configuration, secrets, run_id=run.run_id, fault=fault)
    failed = [r for r in results if not r["ok"]]
    if failed:
        raise ActivityFailed(
            "could not undo: "
            + "; ".join(f"{r['resource']}: {r['error']}" for r in failed)
            + f" (run `gameday recover --ledger {ledger.path}` once fixed)"
        )
    return {"reverted": len(results), "ledger": str(ledger.path), "run_id": run.run_id}
