"""The Route 53 health verdict model of the sandbox, without moto and without sockets."""

from __future__ import annotations

from datetime import UTC, datetime

from sandbox.route53.health import HealthCheckState, Observation, alarm_state

REGIONS = ("us-east-1", "us-west-1", "eu-west-1", "ap-southeast-1", "sa-east-1")


def _probe(state: HealthCheckState, region: str, ok: bool, at: float, **config: object) -> object:
    status = "Success: HTTP Status Code 200, OK" if ok else "Failure: Connection refused."
    observation = Observation(region, ok, status, datetime.now(UTC), at)
    return state.record(observation, **config)  # type: ignore[arg-type]


def test_unhealthy_only_when_at_most_18_percent_of_checkers_say_healthy() -> None:
    state = HealthCheckState.new("hc-1", REGIONS)
    flips = []
    clock = 0.0
    for _round in range(3):  # FailureThreshold 3: each region turns after its third failure
        for region in REGIONS:
            clock += 1.0
            flips.append(_probe(state, region, False, clock, failure_threshold=3))
    # 1 of 5 regions healthy is 20% > 18%: still healthy until the last region turns
    assert flips[:-1] == [None] * (len(flips) - 1)
    assert flips[-1] is False
    assert not state.healthy
    assert [f.healthy for f in state.flips] == [False]
    assert state.flips[0].monotonic == clock
    first = state.first_failure
    assert first is not None and (first.region, first.monotonic) == (REGIONS[0], 1.0)


def test_recovery_needs_threshold_successes_and_resets_the_outage() -> None:
    state = HealthCheckState.new("hc-1", REGIONS[:1])
    for at in (1.0, 2.0):
        assert _probe(state, REGIONS[0], False, at, failure_threshold=2) in (None, False)
    assert not state.healthy
    assert _probe(state, REGIONS[0], True, 3.0, failure_threshold=2) is None
    assert _probe(state, REGIONS[0], True, 4.0, failure_threshold=2) is True
    assert state.clean
    _probe(state, REGIONS[0], False, 5.0, failure_threshold=2)
    assert state.first_failure is not None and state.first_failure.monotonic == 5.0


def test_disabled_is_healthy_and_inverted_inverts() -> None:
    disabled = HealthCheckState.new("hc-d", REGIONS[:1])
    for at in (1.0, 2.0, 3.0):
        assert _probe(disabled, REGIONS[0], False, at, disabled=True) is None
    assert disabled.healthy
    inverted = HealthCheckState.new("hc-i", REGIONS[:1])
    assert _probe(inverted, REGIONS[0], True, 1.0, inverted=True) is False


def test_alarm_goes_to_alarm_after_its_window_and_back_to_ok() -> None:
    assert alarm_state(False, unhealthy_since=10.0, now=10.5, window=1.0) is None
    assert alarm_state(False, unhealthy_since=10.0, now=11.0, window=1.0) == (
        "ALARM",
        "Health check unhealthy for the evaluation window",
    )
    assert alarm_state(True, unhealthy_since=None, now=11.0, window=1.0) == (
        "OK",
        "Health check is healthy",
    )
