"""Shared test helpers (a fake fault with a file-backed 'resource', AWS worlds, recorders)
and the two paths every test folder needs, whatever its depth."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the checkout
TESTS = REPO / "tests"

__all__ = ["REPO", "TESTS"]
