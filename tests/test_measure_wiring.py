"""The measurement wiring documented for each fault experiment is valid: merged into a
copy of the experiment it passes chaoslib's validation, and its control arguments pass
the control's own check once the configuration is substituted.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from chaoslib import substitute
from chaoslib.configuration import load_configuration
from chaoslib.experiment import ensure_experiment_is_valid

from probes.session import parse_spec

ROOT = Path(__file__).resolve().parent.parent
WIRING = yaml.safe_load((ROOT / "experiments" / "examples" / "measurement-wiring.yaml").read_text())
ENV = {
    "AWS_REGION": "eu-south-1",
    "GAMEDAY_AZ": "eu-south-1a",
    "GAMEDAY_VPC_ID": "vpc-1",
    "GAMEDAY_API_URL": "https://api.example.com/health",
    "GAMEDAY_HEALTH_CHECK_ID": "hc-1",
    "GAMEDAY_DB_DSN": "host=db.example.com dbname=app user=gameday",
    "GAMEDAY_DNS_SERVER": "10.0.0.2",
}


def wired(name: str) -> dict[str, Any]:
    path = ROOT / "experiments" / name
    if not path.exists():
        pytest.skip(f"{name} is not in the tree yet")
    experiment = yaml.safe_load(path.read_text())
    wiring = WIRING["experiments"][name]
    experiment["configuration"].update(copy.deepcopy(wiring["configuration"]))
    experiment.setdefault("controls", []).extend(copy.deepcopy(wiring["controls"]))
    names = [step["name"] for step in experiment["method"]]
    assert wiring["method_after"] in names, f"{name}: no step {wiring['method_after']}"
    experiment["method"].insert(
        names.index(wiring["method_after"]) + 1, copy.deepcopy(wiring["method_probe"])
    )
    experiment["steady-state-hypothesis"]["probes"].extend(copy.deepcopy(wiring["verdicts"]))
    return experiment


@pytest.mark.parametrize("name", sorted(WIRING["experiments"]))
def test_wiring_is_valid(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    experiment = wired(name)
    ensure_experiment_is_valid(experiment)
    configuration = load_configuration(experiment["configuration"])
    (control,) = [c for c in experiment["controls"] if c["name"] == "measurement"]
    arguments = substitute(control["provider"]["arguments"], configuration, {})
    spec = parse_spec(arguments, configuration)
    assert spec.target.service == arguments["service"]
    assert spec.interval == pytest.approx(0.25) and spec.consecutive == 3
    assert not any("${" in str(v) for v in arguments.values())
