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

from chaosaws_ext.faults import action_modules, probe_modules

__version__ = "0.1.0"
__all__ = ["__version__", "discover"]

logger = logging.getLogger("chaosaws_ext")

# derived from the fault declarations, plus what is not a fault's
ACTION_MODULES = (*action_modules(), "chaosaws_ext.undo")
PROBE_MODULES = (*probe_modules(), "probes.activities")


def discover(discover_system: bool = True) -> Discovery:
    """Tell Chaos Toolkit which actions and probes this extension offers."""
    logger.info("Discovering capabilities from chaosaws-ext")
    discovery = initialize_discovery_result("chaosaws-ext", __version__, "aws")
    discovery["activities"].extend(_load_activities())
    return discovery


def _load_activities() -> list[DiscoveredActivities]:
    activities: list[DiscoveredActivities] = []
    for module in ACTION_MODULES:
        activities.extend(discover_actions(module))
    for module in PROBE_MODULES:
        activities.extend(discover_probes(module))
    return activities
