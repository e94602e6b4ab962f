"""Small helpers the moto patches share: replace a class attribute once, keep the
original, put it back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["before", "patch", "restore"]


def before(original: Any, *checks: Callable[[Any], None]) -> Callable[[Any], Any]:
    """``original`` (a response method) preceded by ``checks`` of the response."""

    def patched(self: Any) -> Any:
        for check in checks:
            check(self)
        return original(self)

    patched.__name__ = getattr(original, "__name__", "patched")
    return patched


def patch(
    originals: dict[tuple[type, str], Any], cls: type, name: str, make: Callable[[Any], Any]
) -> None:
    """Replace ``cls.name`` by ``make(current)`` once, keeping the original."""
    key = (cls, name)
    if key not in originals:
        originals[key] = cls.__dict__.get(name)
        setattr(cls, name, make(getattr(cls, name, None)))


def restore(originals: dict[tuple[type, str], Any]) -> None:
    for (cls, name), original in originals.items():
        if original is None:
            delattr(cls, name)
        else:
            setattr(cls, name, original)
    originals.clear()
