"""Loopback address literals of a sandbox's own, picked by binding a listener there.

Linux routes all of 127.0.0.0/8 to the loopback interface, so a part of the twin that a
client must reach on a fixed port (the RDS endpoint on 5432, an ALB node on the
listener's port) can take an address nothing else listens on. Two sandboxes on one
machine pick different addresses: the second cannot bind the first one's, and takes
the next candidate. Used by :mod:`sandbox.rds.endpoint` and :mod:`sandbox.elbv2.nodes`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from typing import TypeVar

__all__ = ["bind_free_loopback", "loopback_candidates"]

log = logging.getLogger(__name__)

# The pool the addresses come from: 127.64.0.1 .. 127.127.255.254, away from the
# addresses other parts of the sandbox use (127.0.x.y).
_SECOND_OCTET_RANGE = (64, 127)
Bound = TypeVar("Bound")


def loopback_candidates(count: int, rng: random.Random | None = None) -> Iterator[str]:
    """``count`` distinct loopback addresses in random order (random so that two
    sandboxes starting at once rarely race for the same one)."""
    rng = rng or random.Random()
    seen: set[str] = set()
    for _ in range(count * 4):
        if len(seen) >= count:
            return
        address = (
            f"127.{rng.randint(*_SECOND_OCTET_RANGE)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        )
        if address not in seen:
            seen.add(address)
            yield address


def bind_free_loopback(
    start: Callable[[str], Bound], attempts: int = 32, rng: random.Random | None = None
) -> Bound:
    """``start(address)`` on loopback addresses until one binds (OSError: taken, try
    the next); returns what ``start`` returned. Raises OSError after ``attempts``."""
    last: OSError | None = None
    for address in loopback_candidates(attempts, rng):
        try:
            return start(address)
        except OSError as error:
            log.debug("loopback %s not free: %s", address, error)
            last = error
    raise OSError(f"no free loopback address after {attempts} attempts: {last}")
