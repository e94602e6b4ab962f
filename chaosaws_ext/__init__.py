"""chaosaws-ext: AWS faults for Chaos Toolkit with an exact, crash-safe undo.

Each fault lives in its own subpackage (``blackhole``, ``rds``, ``healthcheck``,
``dynamodb``) with ``actions.py`` (inject and undo) and ``probes.py``.
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

ACTION_MODULES = (
    "chaosaws_ext.blackhole.actions",
    "chaosaws_ext.rds.actions",
    "chaosaws_ext.healthcheck.actions",
    "chaosaws_ext.dynamodb.actions",
    "chaosaws_ext.undo",
)
PROBE_MODULES = (
    "chaosaws_ext.blackhole.probes",
    "chaosaws_ext.rds.probes",
    "chaosaws_ext.healthcheck.probes",
    "chaosaws_ext.dynamodb.probes",
    "probes.activities",
)


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
