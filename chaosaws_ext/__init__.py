"""chaosaws-ext: AWS faults for Chaos Toolkit with an exact, crash-safe undo.

Each fault lives in its own subpackage (``blackhole``, ``rds``, ``healthcheck``,
``dynamodb``), declared once in its ``__init__.py`` (see :mod:`chaosaws_ext.faults`);
what Chaos Toolkit discovers is derived from those declarations.
"""

from __future__ import annotations

import logging

from chaoslib.discovery.discover import (
    discover_actions,
    discover_probes,
    initialize_discovery_result,
)
from chaoslib.types import DiscoveredActivities, Discovery

__version__ = "0.1.0"
__all__ = ["__version__", "discover"]

logger = logging.getLogger(__name__)


def __getattr__(name: str) -> tuple[str, ...]:
    """``ACTION_MODULES`` / ``PROBE_MODULES``: derived from the fault declarations, plus
    what is not a fault's. Computed on first use, so that importing the core layer
    (``chaosaws_ext.core``, beneath the faults) does not load the fault packages."""
    from chaosaws_ext.faults import action_modules, probe_modules

    if name == "ACTION_MODULES":
        return (*action_modules(), "chaosaws_ext.undo")
    if name == "PROBE_MODULES":
        return (*probe_modules(), "probes.activities", "probes.drills")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def discover(discover_system: bool = True) -> Discovery:
    """Tell Chaos Toolkit which actions and probes this extension offers."""
    logger.info("Discovering capabilities from chaosaws-ext")
    discovery = initialize_discovery_result("chaosaws-ext", __version__, "aws")
    discovery["activities"].extend(_load_activities())
    return discovery


def _load_activities() -> list[DiscoveredActivities]:
    activities: list[DiscoveredActivities] = []
    for module in __getattr__("ACTION_MODULES"):
        activities.extend(discover_actions(module))
    for module in __getattr__("PROBE_MODULES"):
        activities.extend(discover_probes(module))
    return activities
