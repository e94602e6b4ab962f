"""The one exception type the CLI prints as a single line (exit 2)."""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(Exception):
    """A mistake the user can fix: bad input, missing file, leftovers to recover first."""
