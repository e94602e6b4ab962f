"""The DR plan's targets moved to :mod:`probes.dr_targets` (three modules were named
``targets.py``); this path is kept so that old imports work."""

from probes.dr_targets import (
    ServiceTarget,
    TargetsError,
    load_targets,
    meets,
    resolve_targets_file,
    shipped_targets_file,
    target_for,
)

__all__ = [
    "ServiceTarget",
    "TargetsError",
    "load_targets",
    "resolve_targets_file",
    "shipped_targets_file",
    "target_for",
    "meets",
]
