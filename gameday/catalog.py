"""The experiments ``gameday`` knows by name, and where their files are."""

from __future__ import annotations

from pathlib import Path

__all__ = ["EXPERIMENTS", "experiments_dir", "resolve_experiment"]

EXPERIMENTS = (
    "az-nacl-blackhole",
    "rds-forced-failover",
    "healthcheck-path-block",
    "dynamodb-replica-conflict",
)


def experiments_dir() -> Path:
    """``experiments/`` of this checkout (the package is installed editable from it)."""
    return Path(__file__).resolve().parent.parent / "experiments"


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
