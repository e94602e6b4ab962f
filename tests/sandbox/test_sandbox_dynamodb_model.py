"""The DynamoDB replication model of the sandbox, without moto: last writer wins, the
MRSC conflict rule, strictly increasing stamps, the bounded delivery queue."""

from __future__ import annotations

import threading
import time

from sandbox.dynamodb.replication import (
    NO_VERSION,
    AcceptClock,
    DeliveryQueue,
    conflicts,
    is_newer,
    key_id,
)


def test_last_writer_wins_by_accept_time_then_region() -> None:
    assert is_newer((2.0, "eu-west-1"), (1.0, "eu-south-1"))
    assert not is_newer((1.0, "eu-south-1"), (2.0, "eu-west-1"))
    assert not is_newer((1.0, "eu-south-1"), (1.0, "eu-south-1"))  # the same write
    assert is_newer((0.5, "eu-south-1"), NO_VERSION)
    assert key_id({"pk": {"S": "a"}, "sk": {"N": "1"}}) == key_id(
        {"sk": {"N": "1"}, "pk": {"S": "a"}}
    )


def test_a_write_conflicts_only_with_a_recent_write_of_another_region() -> None:
    held = (100.0, "eu-west-1")
    assert conflicts(held, "eu-south-1", now=100.05, window=0.1)
    assert not conflicts(held, "eu-south-1", now=100.2, window=0.1)
    assert not conflicts(held, "eu-west-1", now=100.05, window=0.1)  # its own region
    assert not conflicts(NO_VERSION, "eu-south-1", now=0.01, window=0.1)


def test_stamps_increase_strictly_even_when_the_wall_clock_does_not() -> None:
    walls = iter([10.0, 10.0, 9.0])
    clock = AcceptClock(wall=lambda: next(walls))
    stamps = [clock.stamp("eu-south-1") for _ in range(3)]
    assert stamps[0] == (10.0, "eu-south-1")
    assert stamps[0] < stamps[1] < stamps[2]


def test_items_are_delivered_in_due_order_and_drain_waits_for_them() -> None:
    delivered: list[str] = []
    queue = DeliveryQueue(delivered.append)
    queue.start()
    try:
        now = time.monotonic()
        assert queue.put("late", now + 0.10)
        assert queue.put("early", now + 0.02)
        assert queue.pending() == 2
        assert queue.drain(timeout=5)
        assert delivered == ["early", "late"]
        assert queue.pending() == 0
    finally:
        queue.stop()
    assert not queue.running


def test_a_full_queue_drops_after_its_timeout_and_stop_discards_the_rest() -> None:
    queue = DeliveryQueue(lambda item: None, max_pending=1, enqueue_timeout=0.05)
    far = time.monotonic() + 60
    assert queue.put("first", far)
    began = time.monotonic()
    assert not queue.put("second", far)  # nobody delivers: dropped after the timeout
    assert time.monotonic() - began >= 0.05
    queue.stop()
    assert queue.pending() == 0  # "first" discarded


def test_a_failing_delivery_does_not_stop_the_thread() -> None:
    done = threading.Event()

    def deliver(item: str) -> None:
        if item == "bad":
            raise ValueError("bad item")
        done.set()

    queue = DeliveryQueue(deliver)
    queue.start()
    try:
        queue.put("bad", time.monotonic())
        assert queue.drain(timeout=5)
        queue.put("good", time.monotonic())
        assert done.wait(timeout=5)
        assert queue.running
    finally:
        queue.stop()
