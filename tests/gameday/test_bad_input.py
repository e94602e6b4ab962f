"""Bad input never mutates anything and always ends with one clear line.

A matrix of bad inputs for the four faults' inject actions (called directly against
in-process moto holding the seeded world), for ``gameday plan``, ``gameday run
--var-file`` and ``chaos run`` (subprocesses against the moto server), plus
property-based tests (hypothesis) on the actions' arguments. Every case must:

- fail with ``ActivityFailed`` (activities) or a non-zero exit (CLI);
- say why in ONE line (no multi-line message, no "Traceback" anywhere);
- make only read calls (Describe/Get/List...; recorded client side in-process and
  server side for subprocesses) and leave the ledger empty.

The number of bad inputs tried is written to ``bad-input-count.json`` in the session's
temp folder and printed with ``-s``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import botocore.client
import pytest
from chaoslib.exceptions import ActivityFailed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaosaws_ext.blackhole.actions import blackhole_availability_zone
from chaosaws_ext.core.clients import READ_ONLY_PREFIXES, clear_client_cache
from chaosaws_ext.dynamodb.actions import write_conflicting_items
from chaosaws_ext.healthcheck.actions import block_health_check_path
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.rds.actions import failover_db_instance
from chaosaws_ext.runcontext import start_run
from sandbox.behaviour.dynamodb_replication import GlobalTableReplicator
from tests.helpers import REPO
from tests.helpers.aws_world import (
    ACCOUNT,
    OTHER_REGION,
    REGION,
    ServerCalls,
    experiment_env,
    seed_world,
    with_safety_control,
    world_state,
)
from tests.helpers.executables import chaos_executable, gameday_executable

ROOT = REPO
CHAOS = chaos_executable()
GAMEDAY = gameday_executable()
TRIED: Counter[str] = Counter()
MUTATIONS: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _count_report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    summary = {"tried": dict(TRIED), "total": sum(TRIED.values()), "mutations": dict(MUTATIONS)}
    path = tmp_path_factory.getbasetemp() / "bad-input-count.json"
    path.write_text(json.dumps(summary, indent=1))
    print(f"\nbad inputs tried: {summary['total']} {dict(TRIED)}; mutations: {dict(MUTATIONS)}")


# --- recording calls -----------------------------------------------------------------


@contextmanager
def recorded_calls() -> Iterator[list[str]]:
    """Every AWS API call made in this process (any client), as ``service:Operation``."""
    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def record(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        calls.append(f"{self.meta.service_model.service_name}:{operation_name}")
        return original(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = record  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


def mutating(calls: list[str] | set[str]) -> list[str]:
    return sorted(c for c in calls if not c.split(":", 1)[1].startswith(READ_ONLY_PREFIXES))


# --- the world, in-process ---------------------------------------------------------------


@pytest.fixture
def world(mocked_aws: None, tmp_path: Path) -> Iterator[dict[str, Any]]:
    replicator = GlobalTableReplicator(lag_seconds=0.05).start()
    try:
        seeded = seed_world(None, replicator)  # type: ignore[arg-type]
        single = boto3.client("rds", region_name=REGION)
        single.create_db_instance(
            DBInstanceIdentifier="single-az-db",
            Engine="postgres",
            DBInstanceClass="db.t3.micro",
            AllocatedStorage=20,
            MultiAZ=False,
            MasterUsername="admin_user",
            MasterUserPassword="not-a-secret-1",
        )
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName="regional-only",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        seeded["ledger"] = tmp_path / "ledger.jsonl"
        start_run({"chaos_ledger_path": str(seeded["ledger"])}, "bad-input")
        clear_client_cache()
        yield seeded
    finally:
        replicator.stop()


CONFIG: dict[str, Any] = {"aws_region": REGION}


def _blackhole(world: dict[str, Any], **overrides: Any) -> Callable[[], Any]:
    kwargs = {"availability_zone": f"{REGION}a", "vpc_id": world["vpc_id"], **overrides}
    configuration = kwargs.pop("configuration", CONFIG)
    return lambda: blackhole_availability_zone(**kwargs, configuration=configuration)


def _rds(world: dict[str, Any], **overrides: Any) -> Callable[[], Any]:
    kwargs = {"db_instance_identifier": world["db"], **overrides}
    configuration = kwargs.pop("configuration", CONFIG)
    return lambda: failover_db_instance(**kwargs, configuration=configuration)


def _healthcheck(world: dict[str, Any], **overrides: Any) -> Callable[[], Any]:
    kwargs = {"health_check_id": world["health_check_id"], **overrides}
    configuration = kwargs.pop("configuration", CONFIG)
    return lambda: block_health_check_path(**kwargs, configuration=configuration)


def _dynamodb(world: dict[str, Any], **overrides: Any) -> Callable[[], Any]:
    kwargs = {
        "table_name": world["table"],
        "regions": [REGION, OTHER_REGION],
        "writes_per_region": 3,
        "timeout": 10,
        **overrides,
    }
    configuration = kwargs.pop("configuration", CONFIG)
    return lambda: write_conflicting_items(**kwargs, configuration=configuration)


NOWHERE = {"aws_region": "xx-nowhere-1"}
NO_CHECK = "00000000-0000-0000-0000-000000000000"
ELB = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}"
HEX = "0123456789abcdef"
MATRIX: list[tuple[str, Callable[..., Callable[[], Any]], dict[str, Any]]] = [
    # az-nacl-blackhole
    ("unknown AZ", _blackhole, {"availability_zone": f"{REGION}z"}),
    ("AZ of another region", _blackhole, {"availability_zone": f"{OTHER_REGION}a"}),
    ("empty AZ", _blackhole, {"availability_zone": ""}),
    ("AZ not a string", _blackhole, {"availability_zone": 7}),
    ("unknown VPC", _blackhole, {"vpc_id": "vpc-0000000000000dead"}),
    ("no VPC", _blackhole, {"vpc_id": ""}),
    ("VPC id and tag", _blackhole, {"vpc_tag": "Name=x"}),
    ("tag not Key=Value", _blackhole, {"subnet_tag": "tier"}),
    ("tag matches nothing", _blackhole, {"subnet_tag": "tier=none"}),
    ("scope sideways", _blackhole, {"scope": "sideways"}),
    ("scope not a string", _blackhole, {"scope": ["all"]}),
    ("max_subnets 0", _blackhole, {"max_subnets": 0}),
    ("max_subnets negative", _blackhole, {"max_subnets": -3}),
    ("max_subnets 'ten'", _blackhole, {"max_subnets": "ten"}),
    ("blackhole unknown region", _blackhole, {"configuration": NOWHERE}),
    # rds-forced-failover
    ("unknown DB", _rds, {"db_instance_identifier": "no-such-db"}),
    ("empty DB id", _rds, {"db_instance_identifier": ""}),
    ("DB id not a string", _rds, {"db_instance_identifier": ["production-analytics-db"]}),
    ("single-AZ DB", _rds, {"db_instance_identifier": "single-az-db"}),
    ("rds unknown region", _rds, {"configuration": NOWHERE}),
    # healthcheck-path-block
    ("unknown health check", _healthcheck, {"health_check_id": NO_CHECK}),
    ("empty health check", _healthcheck, {"health_check_id": ""}),
    ("mechanism sideways", _healthcheck, {"mechanism": "sideways"}),
    ("no health check, no target", _healthcheck, {"health_check_id": None}),
    ("unknown listener", _healthcheck, {"listener_arn": f"{ELB}:listener/app/x/{HEX}/0"}),
    ("unknown ALB", _healthcheck, {"load_balancer_arn": f"{ELB}:loadbalancer/app/x/{HEX}"}),
    ("listener ARN not an ARN", _healthcheck, {"listener_arn": "listener-80"}),
    ("healthcheck unknown region", _healthcheck, {"configuration": NOWHERE}),
    # dynamodb-replica-conflict
    ("unknown table", _dynamodb, {"table_name": "no-such-table"}),
    ("table not global", _dynamodb, {"table_name": "regional-only", "regions": None}),
    ("writes 'ten'", _dynamodb, {"writes_per_region": "ten"}),
    ("writes 10**9", _dynamodb, {"writes_per_region": 10**9}),
    ("writes 0", _dynamodb, {"writes_per_region": 0}),
    ("writes negative", _dynamodb, {"writes_per_region": -5}),
    ("keys 0", _dynamodb, {"keys": 0}),
    ("keys 10**6", _dynamodb, {"keys": 10**6}),
    ("timeout negative", _dynamodb, {"timeout": -1}),
    ("timeout 'soon'", _dynamodb, {"timeout": "soon"}),
    ("one region only", _dynamodb, {"regions": [REGION]}),
    ("unknown region in regions", _dynamodb, {"regions": [REGION, "xx-nowhere-1"]}),
    ("regions not a list", _dynamodb, {"regions": 42}),
    ("dynamodb unknown region", _dynamodb, {"configuration": NOWHERE, "regions": None}),
]  # fmt: skip


def assert_refused_cleanly(call: Callable[[], Any], ledger: Path, label: str) -> str:
    """Run ``call``; it must raise ActivityFailed (one line) and make no mutating call."""
    TRIED[label.split(":")[0]] += 1
    with recorded_calls() as calls:
        with pytest.raises(ActivityFailed) as raised:
            call()
    message = str(raised.value)
    bad = mutating(calls)
    if bad or (ledger.exists() and Ledger(ledger).entries()):
        MUTATIONS[label] += 1
    assert bad == [], f"{label}: mutating calls {bad}"
    assert not ledger.exists() or Ledger(ledger).entries() == [], label
    assert message and "\n" not in message.strip(), f"{label}: {message!r}"
    assert "Traceback" not in message
    return message


@pytest.mark.parametrize(("label", "make", "overrides"), MATRIX, ids=[m[0] for m in MATRIX])
def test_activity_refuses_bad_input_without_mutating(
    world: dict[str, Any],
    label: str,
    make: Callable[..., Callable[[], Any]],
    overrides: dict[str, Any],
) -> None:
    before = world_state(None, world)  # type: ignore[arg-type]
    assert_refused_cleanly(make(world, **overrides), world["ledger"], f"activity:{label}")
    assert world_state(None, world) == before  # type: ignore[arg-type]


# --- property-based ------------------------------------------------------------------

TEXT = st.text(min_size=0, max_size=40)
PROPERTY = settings(  # examples per run: the profile's (tests/conftest.py)
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(zone=TEXT, scope=TEXT)
def test_random_zone_and_scope_never_mutate(world: dict[str, Any], zone: str, scope: str) -> None:
    if scope in ("all", "availability-zone") and zone.strip().lower() in (
        f"{REGION}a",
        f"{REGION}b",
        f"{REGION}c",
    ):
        scope = scope + "!"
    assert_refused_cleanly(
        _blackhole(world, availability_zone=zone, scope=scope), world["ledger"], "hypothesis"
    )


@PROPERTY
@given(vpc=TEXT, tag=TEXT)
def test_random_vpc_and_subnet_tag_never_mutate(world: dict[str, Any], vpc: str, tag: str) -> None:
    if vpc == world["vpc_id"]:
        vpc += "x"
    assert_refused_cleanly(
        _blackhole(world, vpc_id=vpc, subnet_tag=tag), world["ledger"], "hypothesis"
    )


@PROPERTY
@given(db=TEXT.filter(lambda s: s not in ("production-analytics-db",)))
def test_random_db_ids_never_mutate(world: dict[str, Any], db: str) -> None:
    assert_refused_cleanly(_rds(world, db_instance_identifier=db), world["ledger"], "hypothesis")


@PROPERTY
@given(check=TEXT, mechanism=st.one_of(st.just("listener-rule"), st.just("waf"), TEXT))
def test_random_health_check_ids_never_mutate(
    world: dict[str, Any], check: str, mechanism: str
) -> None:
    if check == world["health_check_id"]:
        check += "x"
    assert_refused_cleanly(
        _healthcheck(world, health_check_id=check, mechanism=mechanism),
        world["ledger"],
        "hypothesis",
    )


@PROPERTY
@given(
    table=st.one_of(st.just("support-tickets"), TEXT),
    writes=st.one_of(
        st.integers(max_value=0),
        st.integers(min_value=1001),
        TEXT.filter(
            lambda s: not (s.strip().isascii() and s.strip().isdigit()) or not 1 <= int(s) <= 1000
        ),
        st.floats().filter(lambda f: not (f == f and f.is_integer() and 1 <= f <= 1000)),
    ),
)
def test_random_tables_and_write_counts_never_mutate(
    world: dict[str, Any], table: str, writes: Any
) -> None:
    assert_refused_cleanly(
        _dynamodb(world, table_name=table, writes_per_region=writes), world["ledger"], "hypothesis"
    )


# --- CLI: gameday plan, gameday run --var-file, chaos run ------------------------------


@pytest.fixture
def server_world(moto_endpoint: str) -> Iterator[dict[str, Any]]:
    replicator = GlobalTableReplicator(lag_seconds=0.05).start()
    try:
        yield seed_world(moto_endpoint, replicator)
    finally:
        replicator.stop()


GOOD_VARS = {
    "az-nacl-blackhole": lambda w: {"GAMEDAY_AZ": f"{REGION}a", "GAMEDAY_VPC_ID": w["vpc_id"]},
    "rds-forced-failover": lambda w: {"GAMEDAY_DB_INSTANCE": w["db"]},
    "healthcheck-path-block": lambda w: {"GAMEDAY_HEALTH_CHECK_ID": w["health_check_id"]},
    "dynamodb-replica-conflict": lambda w: {"GAMEDAY_TABLE": w["table"]},
}
# (label, experiment, var-file overrides; None = drop the key) -> must be refused
CLI_CASES: list[tuple[str, str, dict[str, str | None]]] = [
    ("unknown AZ", "az-nacl-blackhole", {"GAMEDAY_AZ": "eu-south-1z"}),
    ("scope sideways", "az-nacl-blackhole", {"GAMEDAY_BLACKHOLE_SCOPE": "sideways"}),
    ("unknown VPC", "az-nacl-blackhole", {"GAMEDAY_VPC_ID": "vpc-0000000000000dead"}),
    ("AZ not set", "az-nacl-blackhole", {"GAMEDAY_AZ": None}),
    ("unknown region", "az-nacl-blackhole", {"AWS_REGION": "xx-nowhere-1"}),
    ("unknown DB", "rds-forced-failover", {"GAMEDAY_DB_INSTANCE": "no-such-db"}),
    ("timeout 'soon'", "rds-forced-failover", {"GAMEDAY_FAILOVER_TIMEOUT": "soon"}),
    ("unknown health check", "healthcheck-path-block", {"GAMEDAY_HEALTH_CHECK_ID": "nope"}),
    ("mechanism sideways", "healthcheck-path-block", {"GAMEDAY_BLOCK_MECHANISM": "sideways"}),
    ("health check not set", "healthcheck-path-block", {"GAMEDAY_HEALTH_CHECK_ID": None}),
    ("unknown table", "dynamodb-replica-conflict", {"GAMEDAY_TABLE": "no-such-table"}),
    ("writes 'ten'", "dynamodb-replica-conflict", {"GAMEDAY_CONFLICT_WRITES": "ten"}),
    ("writes 10**9", "dynamodb-replica-conflict", {"GAMEDAY_CONFLICT_WRITES": str(10**9)}),
    ("unknown other region", "dynamodb-replica-conflict", {"GAMEDAY_OTHER_REGION": "xx-no-1"}),
]


# Values chaostoolkit itself fails to convert (env_var_type int) with a traceback.
CHAOS_TYPE_ERRORS = {"timeout 'soon'", "writes 'ten'"}


def _var_file(path: Path, experiment: str, world: dict[str, Any], overrides: dict) -> Path:
    values: dict[str, str | None] = {
        "AWS_REGION": REGION,
        "GAMEDAY_LEDGER": str(path.parent / "ledger.jsonl"),
        **GOOD_VARS[experiment](world),
        **overrides,
    }
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items() if v is not None))
    return path


def _cli_env(endpoint: str, key: str, overrides: dict) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}
    env.update(
        AWS_ACCESS_KEY_ID=key,
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_ENDPOINT_URL=endpoint,
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        GAMEDAY_ALLOWED_ACCOUNTS=ACCOUNT,
        PYTHONPATH=str(ROOT),
    )
    if overrides.get("AWS_REGION") is None:
        env["AWS_REGION"] = REGION  # the CLI's own default; the var file may override
    return env


def _assert_clean_cli_failure(done: subprocess.CompletedProcess[str], label: str) -> None:
    output = done.stdout + done.stderr
    assert done.returncode != 0, f"{label}: exit 0\n{output}"
    assert "Traceback" not in output, f"{label}:\n{output}"


def _server_mutations(calls: ServerCalls, key: str, label: str) -> list[str]:
    bad = sorted(a for a in calls.of(key) if not a.split(":", 1)[1].startswith(READ_ONLY_PREFIXES))
    if bad:
        MUTATIONS[label] += 1
    return bad


@pytest.mark.parametrize(
    ("label", "experiment", "overrides"), CLI_CASES, ids=[c[0] for c in CLI_CASES]
)
def test_gameday_plan_refuses_bad_vars(
    server_world: dict[str, Any],
    moto_endpoint: str,
    tmp_path: Path,
    label: str,
    experiment: str,
    overrides: dict,
) -> None:
    TRIED["gameday plan"] += 1
    var_file = _var_file(tmp_path / "vars.env", experiment, server_world, overrides)
    calls = ServerCalls()
    with calls.recording():
        done = subprocess.run(
            [GAMEDAY, "plan", experiment, "--var-file", str(var_file)],
            env=_cli_env(moto_endpoint, "AKIDPLAN", overrides),
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )  # fmt: skip
    _assert_clean_cli_failure(done, label)
    assert _server_mutations(calls, "AKIDPLAN", f"plan:{label}") == []
    lines = [
        x
        for x in (done.stdout + done.stderr).splitlines()
        if "CANNOT RUN" in x or x.startswith("gameday:") or "REFUSED" in x
    ]
    assert lines, done.stdout + done.stderr


def test_gameday_plan_refuses_malformed_files_and_names(moto_endpoint: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("title: [unclosed\nmethod: {\n")
    not_an_experiment = tmp_path / "list.yaml"
    not_an_experiment.write_text("- just\n- a list\n")
    cases = [
        ("malformed YAML", [str(broken)]),
        ("YAML that is not an experiment", [str(not_an_experiment)]),
        ("unknown experiment", ["no-such-experiment"]),
        ("missing var file", ["az-nacl-blackhole", "--var-file", str(tmp_path / "none.env")]),
        ("no var file: env not set", ["az-nacl-blackhole"]),
    ]
    for label, args in cases:
        TRIED["gameday plan"] += 1
        done = subprocess.run(
            [GAMEDAY, "plan", *args],
            env=_cli_env(moto_endpoint, "AKIDPLAN", {}),
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )  # fmt: skip
        _assert_clean_cli_failure(done, label)
        errors = [x for x in done.stderr.splitlines() if x.strip()]
        assert len(errors) <= 1 or "CANNOT RUN" in done.stdout, f"{label}: {done.stderr}"


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("label", "experiment", "overrides"), CLI_CASES, ids=[c[0] for c in CLI_CASES]
)
def test_chaos_run_refuses_bad_vars_without_mutating(
    server_world: dict[str, Any],
    moto_endpoint: str,
    tmp_path: Path,
    label: str,
    experiment: str,
    overrides: dict,
) -> None:
    TRIED["chaos run"] += 1
    # the fault and the safety control only: the DynamoDB measurement writes its own
    # marker items whatever the fault does (reported apart)
    path, _ = with_safety_control(experiment, tmp_path, measured=False)
    var_file = _var_file(tmp_path / "vars.env", experiment, server_world, overrides)
    before = world_state(moto_endpoint, server_world)
    calls = ServerCalls()
    key = {"AWS_ACCESS_KEY_ID": "AKIDCHAOS", "AWS_SECRET_ACCESS_KEY": "x"}
    env = experiment_env(experiment, server_world, tmp_path, moto_endpoint, key)
    for key, value in overrides.items():  # the var file decides these, not the environment
        env.pop(key, None) if value is None else env.update({key: value})
    with calls.recording():
        done = subprocess.run(
            [CHAOS, "--no-version-check", "--no-log-file", "run", "--var-file", str(var_file),
             "--journal-path", str(tmp_path / "journal.json"), str(path)],
            env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )  # fmt: skip
    if label in CHAOS_TYPE_ERRORS:
        # chaostoolkit converts env_var_type itself, before any activity, and prints a
        # traceback; nothing of ours runs. Its last line names the bad value.
        assert done.returncode != 0
        assert repr(overrides[next(iter(overrides))]) in done.stderr.strip().splitlines()[-1]
    else:
        _assert_clean_cli_failure(done, label)
    assert _server_mutations(calls, "AKIDCHAOS", f"chaos:{label}") == [], label
    assert world_state(moto_endpoint, server_world) == before
    ledger = tmp_path / "ledger.jsonl"
    assert not ledger.exists() or Ledger(ledger).unreverted() == []


@pytest.mark.e2e
def test_gameday_run_refuses_a_bad_var_file_without_mutating(
    server_world: dict[str, Any], moto_endpoint: str, tmp_path: Path
) -> None:
    cases = [
        ("unknown AZ", "az-nacl-blackhole", {"GAMEDAY_AZ": "eu-south-1z"}),
        ("writes 'ten'", "dynamodb-replica-conflict", {"GAMEDAY_CONFLICT_WRITES": "ten"}),
    ]
    before = world_state(moto_endpoint, server_world)
    for n, (label, experiment, overrides) in enumerate(cases):
        TRIED["gameday run"] += 1
        var_file = _var_file(tmp_path / f"vars{n}.env", experiment, server_world, overrides)
        calls = ServerCalls()
        with calls.recording():
            done = subprocess.run(
                [GAMEDAY, "run", experiment, "--var-file", str(var_file), "--out",
                 str(tmp_path / f"out{n}")],
                env=_cli_env(moto_endpoint, "AKIDRUN", overrides),
                capture_output=True, text=True, timeout=180, cwd=tmp_path,
            )  # fmt: skip
        _assert_clean_cli_failure(done, label)
        assert _server_mutations(calls, "AKIDRUN", f"run:{label}") == [], label
    missing = subprocess.run(
        [GAMEDAY, "run", "az-nacl-blackhole", "--var-file", str(tmp_path / "none.env")],
        env=_cli_env(moto_endpoint, "AKIDRUN", {}),
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    TRIED["gameday run"] += 1
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "does not exist" in missing.stderr
    assert world_state(moto_endpoint, server_world) == before
