"""The DNS failover fault against moto (in process): the runbook's step 2.1 applied and
reverted byte-for-byte, idempotently; the failback's weights and its rollback on a bad
window; refusals in one line with nothing changed; recovery from the TXT record alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chaoslib.exceptions import ActivityFailed

from chaosaws_ext.core.window_judge import (
    WindowVerdict,
    register_window_judge,
    unregister_window_judge,
)
from chaosaws_ext.dnsfailover import actions, undo
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.runcontext import RunContext
from tests.conftest import REGION

NAME = "api.example.com."
ZONE = "example.com"


def _route53() -> Any:
    return boto3.client("route53", region_name=REGION)


def _records(zone: str) -> list[dict[str, Any]]:
    sets = _route53().list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return sorted(
        (r for r in sets if r["Type"] in ("A", "TXT")),
        key=lambda r: (r["Name"], str(r.get("SetIdentifier"))),
    )


@pytest.fixture
def zone(mocked_aws: None, run_context: RunContext) -> Iterator[str]:
    route53 = _route53()
    zone_id = route53.create_hosted_zone(Name=ZONE, CallerReference="t")["HostedZone"]["Id"]
    zone_id = zone_id.split("/")[-1]
    changes = []
    for role, target in (("PRIMARY", "primary.elb.test"), ("SECONDARY", "standby.elb.test")):
        check = route53.create_health_check(
            CallerReference=role,
            HealthCheckConfig={"Type": "HTTP", "FullyQualifiedDomainName": target, "Port": 80},
        )["HealthCheck"]["Id"]
        changes.append({"Action": "CREATE", "ResourceRecordSet": {
            "Name": NAME, "Type": "A", "SetIdentifier": role.lower(), "Failover": role,
            "HealthCheckId": check,
            "AliasTarget": {"HostedZoneId": f"Z{role}", "DNSName": target,
                            "EvaluateTargetHealth": True},
        }})  # fmt: skip
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    yield zone_id
    unregister_window_judge()


def test_step_2_1_points_the_primary_at_the_secondary_and_the_undo_restores_it_exactly(
    zone: str, run_context: RunContext
) -> None:
    before = _records(zone)
    result = actions.fail_over_to_secondary(zone, NAME)
    assert result["changed"] is True
    during = {r.get("SetIdentifier"): r for r in _records(zone)}
    assert during["primary"]["AliasTarget"] == {
        "HostedZoneId": "ZSECONDARY",
        "DNSName": "standby.elb.test",
        "EvaluateTargetHealth": False,
    }
    assert during["primary"]["HealthCheckId"] == before[0]["HealthCheckId"]
    assert during["secondary"] == next(r for r in before if r.get("SetIdentifier") == "secondary")
    marker = next(r for r in _records(zone) if r["Type"] == "TXT")
    assert marker["Name"] == f"_chaos-gameday.{ZONE}."
    entries = Ledger(run_context.ledger_path).entries()
    assert [e.undo["undoer"] for e in entries][-2:] == [
        "dns-failover.delete-marker",
        "dns-failover.restore-records",
    ]
    assert actions.restore_original_records()["reverted"] == 2
    assert _records(zone) == before
    assert actions.restore_original_records()["reverted"] == 0  # idempotent
    again = undo.restore_record_sets(zone, NAME, "A", entries[-1].undo["args"]["original"])
    assert again["restored"] is False and _records(zone) == before


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda z: actions.fail_over_to_secondary(z, NAME, mode="manual"), "mode must be one of"),
        (lambda z: actions.fail_over_to_secondary("ZNOPE", NAME), "hosted zone 'ZNOPE' not found"),
        (lambda z: actions.fail_over_to_secondary(z, "other.example.com"), "one PRIMARY"),
        (lambda z: actions.shift_traffic_back(z, NAME, steps=[50, 10, 100]), "steps must rise"),
        (lambda z: actions.shift_traffic_back(z, NAME, steps=[10, 50]), "last step must be 100"),
        (lambda z: actions.shift_traffic_back(z, NAME, window_s=[1, 2]), "one window"),
        (lambda z: actions.fail_over_to_secondary(z, NAME, timeout=-1), "timeout"),
    ],
)
def test_refusals_are_one_line_and_change_nothing(zone: str, call: Any, expected: str) -> None:
    before = _records(zone)
    with pytest.raises(ActivityFailed) as refused:
        call(zone)
    message = str(refused.value)
    assert "\n" not in message and expected in message, message
    assert _records(zone) == before


def test_a_second_failover_is_refused_while_ours_is_in_place(zone: str) -> None:
    actions.fail_over_to_secondary(zone, NAME)
    during = _records(zone)
    with pytest.raises(ActivityFailed, match="already points at standby.elb.test"):
        actions.fail_over_to_secondary(zone, NAME)
    assert _records(zone) == during
    actions.restore_original_records()


def test_the_failback_sets_each_weight_and_a_bad_window_returns_to_the_secondary(
    zone: str,
) -> None:
    before = _records(zone)
    actions.fail_over_to_secondary(zone, NAME)
    seen: list[dict[str, int]] = []

    def judge(name: str, start: float, end: float) -> WindowVerdict:
        seen.append({r["SetIdentifier"]: r["Weight"] for r in _records(zone) if "Weight" in r})
        bad = name == "failback_50"
        return WindowVerdict(not bad, 10, 5 if bad else 0, 0.5 if bad else 0.0, 12.0,
                             "error rate 0.500 above 0.01" if bad else None)  # fmt: skip

    register_window_judge(judge)
    outcome = actions.shift_traffic_back(zone, NAME, steps=[10, 50, 100], window_s=[0.05] * 3)
    assert seen == [{"primary": 10, "secondary": 90}, {"primary": 50, "secondary": 50}]
    assert outcome["completed"] is False and outcome["rolled_back"] is True
    assert [s["percent"] for s in outcome["steps"]] == [10, 50]
    weights = {r["SetIdentifier"]: r["Weight"] for r in _records(zone) if "Weight" in r}
    assert weights == {"primary": 0, "secondary": 100}
    actions.restore_original_records()
    assert _records(zone) == before


def test_without_a_judge_the_first_monitored_window_is_bad(zone: str) -> None:
    before = _records(zone)
    outcome = actions.shift_traffic_back(zone, NAME, steps=[10, 100], window_s=[0.05, 0])
    assert outcome["rolled_back"] is True
    assert "no window judge" in outcome["steps"][0]["reason"]
    actions.restore_original_records()
    assert _records(zone) == before


def test_the_txt_record_alone_recovers_the_records(zone: str, run_context: RunContext) -> None:
    before = _records(zone)
    actions.fail_over_to_secondary(zone, NAME)
    run_context.ledger_path.unlink()  # the ledger is lost
    specs = undo.find_changed_records({"hosted_zone_id": zone, "aws_region": REGION}, None, REGION)
    # the configuration naming no zone: every hosted zone searched, the same found
    assert undo.find_changed_records({"aws_region": REGION}, None, REGION) == specs
    assert [s["undoer"] for s in specs] == [
        "dns-failover.restore-records",
        "dns-failover.delete-marker",
    ]
    assert all(s["run_id"] == run_context.run_id and s["expires_at"] for s in specs)
    assert undo.find_changed_records({"hosted_zone_id": zone, "aws_region": REGION}, None,
                                     "eu-west-1") == []  # fmt: skip
    for spec in specs:
        getattr(undo, {"dns-failover.restore-records": "restore_record_sets",
                       "dns-failover.delete-marker": "delete_marker_record"}[spec["undoer"]])(
            **spec["args"]
        )  # fmt: skip
    assert _records(zone) == before
    assert undo.find_changed_records({"aws_region": REGION}, None, REGION) == []
