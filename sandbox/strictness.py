"""The limits AWS enforces and moto does not (ELBv2 rules quota and tag values, WAFv2
capacity), as one set of switches and one switchable emulator.

The models live with their service (:mod:`sandbox.elbv2.limits`,
:mod:`sandbox.wafv2.capacity`), the patches too (``sandbox.elbv2.moto_patch``,
``sandbox.wafv2.moto_patch``); here: the switches, and turning them on and off together.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from sandbox.elbv2 import moto_patch as elbv2_patch
from sandbox.elbv2.limits import ALB_RULES_PER_LOAD_BALANCER
from sandbox.lifecycle import Lifecycle
from sandbox.wafv2 import moto_patch as wafv2_patch
from sandbox.wafv2.capacity import WAF_WEB_ACL_CAPACITY

__all__ = ["ElbWafStrictness", "Strictness", "active", "install", "strict_elb_waf", "uninstall"]


@dataclass(frozen=True)
class Strictness:
    """The sandbox's strictness switches, each on by default; ``None``/False = off (moto's
    leniency), for a focused test."""

    alb_rules_per_load_balancer: int | None = ALB_RULES_PER_LOAD_BALANCER
    waf_web_acl_capacity: int | None = WAF_WEB_ACL_CAPACITY
    elb_tag_values: bool = True


def active() -> Strictness | None:
    return elbv2_patch.active()


def install(strictness: Strictness | None = None) -> None:
    """Apply ``strictness`` (default: every switch on) to moto in this process."""
    chosen = strictness or Strictness()
    elbv2_patch.install(chosen)
    wafv2_patch.install(chosen)


def uninstall() -> None:
    elbv2_patch.uninstall()
    wafv2_patch.uninstall()


@contextlib.contextmanager
def strict_elb_waf(strictness: Strictness | None = None) -> Iterator[Strictness]:
    """``strictness`` for the block; then back to what was installed before (nothing, or
    the previous switches), so a focused test can turn one switch off."""
    previous, was_installed = active(), elbv2_patch.installed()
    install(strictness)
    try:
        yield active() or Strictness()
    finally:
        if was_installed and previous is not None:
            install(previous)
        else:
            uninstall()


class ElbWafStrictness(Lifecycle):
    """:func:`strict_elb_waf` as an emulator: on while started."""

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
