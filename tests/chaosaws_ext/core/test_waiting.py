from __future__ import annotations

import time

import pytest

from chaosaws_ext.core.waiting import WaitTimedOut, wait_until


def test_returns_the_first_truthy_value() -> None:
    values = iter([None, 0, "ready"])
    assert wait_until(lambda: next(values), timeout=5, interval=0.01) == "ready"


def test_times_out_with_the_bound_and_the_name() -> None:
    start = time.monotonic()
    with pytest.raises(WaitTimedOut, match=r"timed out after 0.2s waiting for the moon"):
        wait_until(lambda: False, timeout=0.2, interval=0.05, what="the moon")
    assert time.monotonic() - start < 2


def test_call_count_is_bounded() -> None:
    count = 0

    def check() -> bool:
        nonlocal count
        count += 1
        return False

    with pytest.raises(WaitTimedOut):
        wait_until(check, timeout=0.1, interval=0.05)
    assert count <= 4
