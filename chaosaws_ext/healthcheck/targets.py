"""Kept for imports written before the rename: see :mod:`.load_balancers`."""

from chaosaws_ext.healthcheck.load_balancers import *  # noqa: F403
from chaosaws_ext.healthcheck.load_balancers import (  # noqa: F401 - not in its __all__
    DEFAULT_PORTS,
    ELB_PATTERN_MAX,
    MAX_PAGES,
    PATH_TYPES,
    __all__,
)
