"""The experiments ``gameday`` knows by name, and where their files are.

They ship inside the package as the data package ``chaosaws_ext.experiments`` (the
checkout's ``experiments/`` folder), so an installed wheel finds them as an editable
checkout does.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from chaosaws_ext.faults import default_experiments, experiments

__all__ = [
    "EXPERIMENTS",
    "DEFAULT_EXPERIMENTS",
    "DRILL_EXPERIMENTS",
    "SCENARIO_EXPERIMENTS",
    "SUITES",
    "experiments_dir",
    "resolve_experiment",
    "suite_experiments",
]

# the scenarios: several of our faults composed in one experiment (one run id, one
# ledger, one measurement of several services), as AWS FIS's scenario library has them
SCENARIO_EXPERIMENTS = ("az-power-interruption", "region-failover-drill")
# one per fault, from the fault declarations (chaosaws_ext.faults), then the scenarios
EXPERIMENTS = experiments() + tuple(s for s in SCENARIO_EXPERIMENTS if s not in experiments())
# what `gameday run` runs without names (the newer faults are run by name)
DEFAULT_EXPERIMENTS = default_experiments()
# the backup restore drills (the DR plan's monthly "Backup Restore" test): restored side
# by side, measured, deleted; run with `gameday run --suite drills` (or `all`)
DRILL_EXPERIMENTS = ("rds-restore-drill", "dynamodb-pitr-drill")
# the scenarios: several faults composed into one measured experiment (the DR plan's
# annual Full DR drill, region-failover-drill: the runbook's Scenario 1 and its failback)
# `gameday run --suite NAME`: default = the four faults, drills, scenarios; all = every
# one of them, faults first
SUITES = {
    "default": DEFAULT_EXPERIMENTS,
    "drills": DRILL_EXPERIMENTS,
    "scenarios": SCENARIO_EXPERIMENTS,
    "all": DEFAULT_EXPERIMENTS + DRILL_EXPERIMENTS + SCENARIO_EXPERIMENTS,
}


def suite_experiments(suite: str) -> tuple[str, ...]:
    """The experiments of suite ``suite`` (ValueError naming the suites for another)."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r} (suites: {', '.join(SUITES)})")
    return SUITES[suite]


def experiments_dir() -> Path:
    """The shipped experiments folder (in the checkout or in site-packages)."""
    return Path(str(files("chaosaws_ext.experiments")))


def resolve_experiment(name_or_path: str) -> Path:
    """A built-in name (``rds-forced-failover``) or a path to an experiment file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml", ".json") and candidate.exists():
        return candidate.resolve()
    builtin = experiments_dir() / f"{name_or_path.removesuffix('.yaml')}.yaml"
    if builtin.exists():
        return builtin
    known = ", ".join(EXPERIMENTS)
    raise FileNotFoundError(f"unknown experiment {name_or_path!r} (built-in: {known}; or a path)")
