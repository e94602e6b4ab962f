"""The ELBv2/WAFv2 limits AWS enforces and moto does not, as one switchable emulator.

:class:`ElbWafStrictness` turns the switches of a :class:`Strictness` on for moto in this
process (``start``) and back to what was there before (``stop``).
"""

from __future__ import annotations

import contextlib

from sandbox.behaviour.aws_limits import Strictness
from sandbox.behaviour.elb_waf_strict import strict_elb_waf
from sandbox.lifecycle import Lifecycle

__all__ = ["ElbWafStrictness", "Strictness", "strict_elb_waf"]


class ElbWafStrictness(Lifecycle):
    """``strictness`` (None: every switch on, as AWS) while started."""

    def __init__(self, strictness: Strictness | None = None) -> None:
        self.strictness = strictness
        self._stack: contextlib.ExitStack | None = None

    def start(self) -> None:
        if self._stack is None:
            stack = contextlib.ExitStack()
            stack.enter_context(strict_elb_waf(self.strictness))
            self._stack = stack

    def stop(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()
