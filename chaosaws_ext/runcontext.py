"""Kept for imports written before the core layer: the run identity and the ``chaos:*``
tag names live in :mod:`chaosaws_ext.core.identity`."""

from chaosaws_ext.core.identity import *  # noqa: F403
from chaosaws_ext.core.identity import __all__  # noqa: F401
