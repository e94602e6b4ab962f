"""The DNS failover's Route 53 shapes: the batches that change a failover pair and put it
back, the weighted records of the failback, and the recovery TXT record's round trip
within Route 53's TXT limits."""

from __future__ import annotations

from typing import Any

import pytest

from chaosaws_ext.dnsfailover.record_sets import (
    TXT_STRING_MAX,
    TXT_VALUE_MAX,
    failover_pair,
    marker_name,
    marker_value,
    parse_marker,
    replace_batch,
    same_record_sets,
    weighted_from,
)


def _record(role: str, dns_name: str) -> dict[str, Any]:
    return {
        "Name": "api.example.com.",
        "Type": "A",
        "SetIdentifier": f"{role.lower()}-region",
        "Failover": role,
        "HealthCheckId": f"hc-{role.lower()}",
        "AliasTarget": {"HostedZoneId": "Z1", "DNSName": dns_name, "EvaluateTargetHealth": True},
    }


PAIR = [_record("PRIMARY", "primary.elb.test"), _record("SECONDARY", "standby.elb.test")]


def test_the_weighted_records_keep_targets_health_checks_and_identifiers() -> None:
    primary, secondary = failover_pair(PAIR)
    weighted = weighted_from(primary, secondary, 10)
    assert [r["Weight"] for r in weighted] == [10, 90]
    assert all("Failover" not in r for r in weighted)
    for record, original in zip(weighted, PAIR, strict=True):
        assert {k: v for k, v in record.items() if k != "Weight"} == {
            k: v for k, v in original.items() if k != "Failover"
        }


def test_batches_upsert_same_identities_and_nothing_when_equal() -> None:
    primary, secondary = failover_pair(PAIR)
    weighted = weighted_from(primary, secondary, 50)
    changes = replace_batch(PAIR, weighted)
    assert [c["Action"] for c in changes] == ["UPSERT", "UPSERT"]
    back = replace_batch(weighted, PAIR)
    assert [c["ResourceRecordSet"] for c in back] == PAIR
    assert replace_batch(PAIR, list(reversed(PAIR))) == []
    assert same_record_sets(PAIR, list(reversed(PAIR)))
    # a record set only on one side is deleted or created
    extra = {**PAIR[0], "SetIdentifier": "third"}
    assert [c["Action"] for c in replace_batch([*PAIR, extra], PAIR)] == ["DELETE"]
    assert [c["Action"] for c in replace_batch(PAIR, [*PAIR, extra])] == ["CREATE"]


def test_a_name_without_a_failover_pair_is_refused() -> None:
    with pytest.raises(ValueError, match="one PRIMARY and one SECONDARY"):
        failover_pair(PAIR[:1])


def test_the_recovery_marker_round_trips_within_route53_txt_limits() -> None:
    value = marker_value("run-1", "2026-12-01T16:00:00Z", PAIR)
    strings = value.split(" ")
    assert all(len(s.strip('"')) <= TXT_STRING_MAX for s in strings)
    assert len(value) <= TXT_VALUE_MAX
    parsed = parse_marker(value)
    assert parsed == {"run_id": "run-1", "expires_at": "2026-12-01T16:00:00Z", "originals": PAIR}
    assert marker_name("Example.COM") == "_chaos-gameday.example.com."
    with pytest.raises(ValueError, match="4000"):
        marker_value("run-1", "x", PAIR * 20)
    with pytest.raises(ValueError, match="not a chaos-gameday marker"):
        parse_marker('"v=spf1 -all"')
