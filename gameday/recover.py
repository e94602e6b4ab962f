"""``gameday recover``: finish every undo a crashed run left behind."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaoslib import substitute

from chaosaws_ext import undo
from chaosaws_ext.faults import faults_used_by
from chaosaws_ext.ledger import Ledger
from gameday.catalog import EXPERIMENTS, resolve_experiment

__all__ = ["recover_from_ledger", "recover_by_tag", "recovery_configuration"]

MEASUREMENT_CONTROL = "chaosaws_ext.controls.measurement"
REGION_KEYS = ("aws_region", "other_region")

logger = logging.getLogger("gameday")


def recover_from_ledger(path: Path, configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """Replay every unreverted entry of the ledger, whatever its run."""
    ledger = Ledger(path)
    pending = ledger.unreverted()
    results = undo.replay(ledger, configuration or {}, None)
    left = ledger.unreverted()
    return {"pending": len(pending), "results": results, "left": [e.describe() for e in left]}


def _load_lenient(path: Path, var_files: list[Path]) -> tuple[dict, dict, dict, list[str]]:
    """(experiment, configuration, secrets, keys that did not load): each key loaded on
    its own, as ``chaos run`` would, so a key the finders do not need (an AZ, a health
    check id) missing from the environment does not hide the ones they do need."""
    from chaoslib import merge_vars
    from chaoslib.configuration import load_configuration
    from chaoslib.exceptions import ChaosException
    from chaoslib.experiment import load_experiment
    from chaoslib.secret import load_secrets

    config_vars, secret_vars = merge_vars(None, [str(f) for f in var_files])
    experiment = load_experiment(str(path))
    configuration: dict[str, Any] = {}
    missing: list[str] = []
    for key, value in (experiment.get("configuration") or {}).items():
        try:
            configuration.update(load_configuration({key: value}, config_vars))
        except (ChaosException, ValueError, TypeError):
            missing.append(key)
    try:
        secrets = load_secrets(experiment.get("secrets") or {}, secret_vars)
    except (ChaosException, ValueError, TypeError):
        secrets = {}
    return experiment, configuration, secrets, missing


def recovery_configuration(
    experiments: list[str] | None, var_files: list[Path]
) -> tuple[dict[str, Any], list[str]]:
    """What the finders need, read the way ``chaos run`` reads it (each experiment's
    configuration from ``--var-file`` and the environment): tables, DSNs, regions, the
    lock table, and the markers spec of each experiment (``chaos_markers``). Returns
    (configuration, problems): an experiment that does not load, or a markers spec
    naming configuration that is not set, is a problem (no finder would look there)."""
    from chaoslib.exceptions import ChaosException

    merged: dict[str, Any] = {"chaos_recovery_configured": True, "chaos_markers": []}
    problems: list[str] = []
    regions: list[str] = []
    faults: set[str] = set()
    for given in experiments or list(EXPERIMENTS):
        name = Path(given).stem  # a path given: shown by its file name
        try:
            experiment, configuration, secrets, missing = _load_lenient(
                resolve_experiment(given), var_files
            )
        except (ChaosException, FileNotFoundError, ValueError) as error:
            problems.append(f"{name}: experiment not loaded: {' '.join(str(error).split())}")
            continue
        faults |= faults_used_by(experiment)
        for key, value in configuration.items():
            if value not in (None, ""):
                merged.setdefault(key, value)
        regions += [str(configuration[k]) for k in REGION_KEYS if configuration.get(k)]
        for control in experiment.get("controls") or []:
            provider = control.get("provider") or {}
            markers = (provider.get("arguments") or {}).get("markers")
            if provider.get("module") != MEASUREMENT_CONTROL or not markers:
                continue
            spec = substitute(markers, configuration, secrets)
            unset = sorted(k for k in missing if "${" + k + "}" in json.dumps(markers))
            if unset:
                problems.append(
                    f"{name}: write markers not searched: configuration {', '.join(unset)} "
                    "not set (pass the experiment's --var-file)"
                )
                continue
            # one markers block, or one per measured service (a scenario)
            for block in spec if isinstance(spec, list) else [spec]:
                merged["chaos_markers"].append(block)
                regions += [str(block[k]) for k in ("region", "replica_region") if block.get(k)]
        if "table_name" in missing:
            problems.append(f"{name}: conflict items not searched: table_name not set")
    merged["chaos_recovery_regions"] = list(dict.fromkeys(regions))
    if experiments:  # named ones: search their faults only (default: every fault)
        merged["chaos_recovery_faults"] = sorted(faults)
    return merged, problems


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
    it is skipped (and listed) unless ``force``. ``problems`` lists what could not be
    searched (no configuration, a truncated scan): the recovery is then incomplete."""
    results: list[dict[str, Any]] = []
    problems: list[str] = []
    now = datetime.now(UTC)
    configuration = dict(configuration or {})
    configuration["chaos_recovery_regions"] = list(regions)  # the ones searched
    seen: set[str] = set()
    faults = configuration.get("chaos_recovery_faults")
    for spec in undo.find_orphans(configuration, None, regions, problems, faults):
        identity = json.dumps([spec["undoer"], spec.get("args", {}), spec["region"]], default=str)
        if identity in seen:
            continue
        seen.add(identity)
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
                configuration=configuration,
                secrets=None,
                region=None if spec["region"] == "local" else spec["region"],
            )
            results.append({"resource": spec["resource"], "ok": True, "detail": detail})
        except Exception as error:  # noqa: BLE001 - reported to the user
            results.append({"resource": spec["resource"], "ok": False, "error": str(error)})
    return {
        "results": results,
        "left": [r["resource"] for r in results if not r["ok"]],
        "problems": problems,
    }
