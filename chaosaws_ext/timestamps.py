"""Moved to :mod:`chaosaws_ext.core.clock` (the core layer); kept so old imports work."""

from chaosaws_ext.core.clock import iso_utc

__all__ = ["iso_utc"]
