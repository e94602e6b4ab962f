"""Moved to :mod:`chaosaws_ext.core.waiting` (the core layer); kept so old imports work."""

from chaosaws_ext.core.waiting import WaitTimedOut, wait_until

__all__ = ["wait_until", "WaitTimedOut"]
