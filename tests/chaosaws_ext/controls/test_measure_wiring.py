"""Each fault experiment is measured and guarded the same way: a measurement control and
the safety control last, wait_for_recovery while the fault is in place, RTO (and RPO
where markers are written) verdicts in the hypothesis; chaoslib validates it and the
control's own argument check passes once the configuration is substituted."""

from __future__ import annotations

import pytest
import yaml
from chaoslib import substitute
from chaoslib.configuration import load_configuration
from chaoslib.experiment import ensure_experiment_is_valid

from probes.session import parse_spec
from tests.helpers import REPO

ROOT = REPO
ENV = {
    "AWS_REGION": "eu-south-1",
    "GAMEDAY_AZ": "eu-south-1a",
    "GAMEDAY_VPC_ID": "vpc-1",
    "GAMEDAY_API_URL": "https://api.example.com/health",
    "GAMEDAY_HEALTH_CHECK_ID": "hc-1",
    "GAMEDAY_DB_DSN": "host=db.example.com dbname=app user=gameday",
    "GAMEDAY_DNS_SERVER": "192.0.2.53",
    "GAMEDAY_TICKETS_URL": "https://api.example.com/api/tickets",
}
SERVICES = {
    "az-nacl-blackhole": ("ticket-api", True),
    "rds-forced-failover": ("rds-analytics", True),
    "healthcheck-path-block": ("route53-failover", False),
    "dynamodb-replica-conflict": ("dynamodb", True),
}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_experiment_is_measured_and_guarded(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    experiment = yaml.safe_load((ROOT / "experiments" / f"{name}.yaml").read_text())
    ensure_experiment_is_valid(experiment)
    controls = [c["provider"]["module"] for c in experiment["controls"]]
    assert controls == ["chaosaws_ext.controls.measurement", "chaosaws_ext.controls.safety"]
    assert experiment["runtime"]["rollbacks"]["strategy"] == "always"
    assert experiment["configuration"]["chaos_experiment"] == name

    configuration = load_configuration(experiment["configuration"])
    arguments = substitute(experiment["controls"][0]["provider"]["arguments"], configuration, {})
    spec = parse_spec(arguments, configuration)
    service, judges_rpo = SERVICES[name]
    assert spec.target.service == service == arguments["service"]
    assert bool(spec.markers) is judges_rpo

    verdicts = [
        p["provider"]["func"]
        for p in experiment["steady-state-hypothesis"]["probes"]
        if p["provider"]["module"] == "probes.activities"
    ]
    assert verdicts == (
        ["rto_within_target", "rpo_within_target"] if judges_rpo else ["rto_within_target"]
    )
    for probe in experiment["steady-state-hypothesis"]["probes"]:
        if probe["provider"]["module"] == "probes.activities":
            assert probe["tolerance"] == {"type": "jsonpath", "path": "$.met", "expect": True}

    steps = [
        (s["type"], s["provider"]["module"], s["provider"]["func"]) for s in experiment["method"]
    ]
    wait = steps.index(("probe", "probes.activities", "wait_for_recovery"))
    assert steps[0][0] == "action" and wait > 0
    # the fault may end inside the method, but only after the recovery was measured
    ends = [
        i
        for i, (kind, _m, func) in enumerate(steps)
        if kind == "action" and func.startswith(("restore", "unblock"))
    ]
    assert all(i > wait for i in ends)
