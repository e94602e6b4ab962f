"""Every numeric argument refuses inf, nan and negative values with one clear line.

The matrix is built from the code, not written by hand: every activity the extension
exports (``chaos discover``'s list) is inspected, and each parameter annotated ``int`` or
``float`` is tried with inf, -inf, nan, -1 and a wrong type (ints also with 2.5), the
other arguments left at plausible values. Each case must raise ``ActivityFailed`` with
one line that names the argument, before any AWS call is made (so nothing is mutated).
The ``gameday`` options that take numbers are tried the same way through the CLI.
"""

from __future__ import annotations

import importlib
import inspect
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.client
import pytest
from chaoslib.exceptions import ActivityFailed

from chaosaws_ext import ACTION_MODULES, PROBE_MODULES
from tests.helpers import REPO

ROOT = REPO
BAD_NUMBERS: list[Any] = [math.inf, -math.inf, math.nan, -1, "many"]
BAD_INTEGERS: list[Any] = [*BAD_NUMBERS, 2.5]
# required arguments that are not numbers: plausible values (the number is checked first)
REQUIRED = {
    "availability_zone": "eu-south-1a",
    "db_instance_identifier": "production-analytics-db",
    "db_cluster_identifier": "production-analytics",
    "table_name": "support-tickets",
    "health_check_id": "hc-1",
    "record_name": "api.example.com",
    "hosted_zone_id": "Z1",
    "bucket_name": "knowledge-base",
    "tag_key": "app",
    "tag_value": "ticket-api",
    "urls": ["http://api.example.com/health"],
}


def _numeric(annotation: Any) -> str | None:
    text = str(annotation)
    if "float" in text:
        return "float"
    if "int" in text and "Point" not in text:
        return "int"
    return None


def _cases() -> Iterator[Any]:
    for module_name in (*ACTION_MODULES, *PROBE_MODULES):
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            function = getattr(module, name)
            if not inspect.isfunction(function):
                continue
            for parameter in inspect.signature(function).parameters.values():
                kind = _numeric(parameter.annotation)
                if kind is None:
                    continue
                for bad in BAD_INTEGERS if kind == "int" else BAD_NUMBERS:
                    yield pytest.param(
                        function,
                        parameter.name,
                        bad,
                        id=f"{module_name.split('.')[-2]}.{name}.{parameter.name}={bad!r}",
                    )


CASES = list(_cases())


def test_the_matrix_covers_every_numeric_argument() -> None:
    arguments = {(c.values[0].__name__, c.values[1]) for c in CASES}
    assert ("write_conflicting_items", "writes_per_region") in arguments
    assert ("wait_for_recovery", "timeout") in arguments
    assert len(arguments) >= 20


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every botocore call made (none may be: the number is checked first)."""
    calls: list[str] = []

    def record(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        calls.append(operation_name)
        raise AssertionError(f"{operation_name} called before the bad number was refused")

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    return calls


@pytest.mark.timeout(20)  # a nan timeout must not hang the suite
@pytest.mark.parametrize(("function", "argument", "bad"), CASES)
def test_a_bad_number_is_one_line_naming_it_before_any_call(
    function: Any, argument: str, bad: Any, aws_calls: list[str]
) -> None:
    signature = inspect.signature(function)
    kwargs = {
        name: REQUIRED[name]
        for name, parameter in signature.parameters.items()
        if parameter.default is inspect.Parameter.empty and name in REQUIRED
    }
    kwargs[argument] = bad
    with pytest.raises(ActivityFailed) as refused:
        function(**kwargs, configuration={"aws_region": "eu-south-1"}, secrets=None)
    message = str(refused.value)
    assert "\n" not in message and argument in message, message
    assert aws_calls == []


@pytest.mark.parametrize("bad", ["inf", "nan", "-1", "0", "fast"])
@pytest.mark.parametrize(
    "command",
    [
        ["run", "--sandbox", "--time-scale"],
        ["sandbox", "up", "--time-scale"],
        ["sandbox", "up", "--backup-interval"],
    ],
)
def test_gameday_numeric_options_refuse_bad_numbers(
    command: list[str], bad: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gameday", *command, bad],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and command[-1] in lines[0] and "finite number > 0" in lines[0]
    assert not (tmp_path / "gameday-out").exists()  # nothing started, nothing written


@pytest.mark.parametrize("bad", BAD_NUMBERS)
@pytest.mark.parametrize("argument", ["stop_poll_interval", "max_fault_seconds"])
def test_the_safety_control_refuses_bad_numbers_before_the_run(
    argument: str, bad: Any, tmp_path: Path, aws_calls: list[str]
) -> None:
    from chaoslib.exceptions import InterruptExecution

    from chaosaws_ext.controls import safety

    configuration = {"aws_region": "eu-south-1", "chaos_ledger_path": str(tmp_path / "l")}
    arguments: dict[str, Any] = {}
    if argument == "max_fault_seconds":
        configuration[argument] = bad
    else:
        arguments[argument] = bad
    with pytest.raises(InterruptExecution) as refused:
        safety.before_experiment_control(
            {"title": "t"}, configuration=configuration, secrets=None, **arguments
        )
    message = str(refused.value)
    assert "\n" not in message and argument in message, message
    assert aws_calls == [] and not (tmp_path / "l").exists()


MEASUREMENT_NUMBERS = [
    ("frequency_hz", {}),
    ("interval_s", {}),
    ("timeout_s", {}),
    ("consecutive", {}),
    ("recovery_window_s", {}),
    ("series_limit", {}),
    ("max_in_flight", {}),
    ("markers.interval_s", {"kind": "postgres", "dsn": "postgresql://x@127.0.0.1/db"}),
    ("markers.lag_grace_s", {"kind": "postgres", "dsn": "postgresql://x@127.0.0.1/db"}),
    ("markers.failover_at_s", {"kind": "s3", "bucket": "kb", "replica_region": "eu-west-1"}),
]


@pytest.mark.parametrize("bad", BAD_NUMBERS)
@pytest.mark.parametrize(("argument", "markers"), MEASUREMENT_NUMBERS)
def test_the_measurement_control_refuses_bad_numbers(
    argument: str, markers: dict[str, Any], bad: Any
) -> None:
    from probes.samplers import SpecError
    from probes.spec import parse_spec

    arguments: dict[str, Any] = {
        "service": "ticket-api",
        "samplers": [{"name": "api", "kind": "http", "url": "http://127.0.0.1:9/health"}],
    }
    if argument.startswith("markers."):
        arguments["markers"] = {**markers, argument.removeprefix("markers."): bad}
    else:
        arguments[argument] = bad
    with pytest.raises(SpecError) as refused:
        parse_spec(arguments)
    message = str(refused.value)
    assert "\n" not in message and argument.split(".")[-1] in message, message
