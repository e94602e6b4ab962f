"""The fault declarations: what they derive resolves, undoer names follow the rule, the
names older ledgers hold still replay, and what experiment YAML names keeps working."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

import chaosaws_ext
from chaosaws_ext import faults, undo
from chaosaws_ext.ledger import Ledger
from gameday import catalog, planner
from tests.conftest import REGION
from tests.helpers import REPO

EXPERIMENTS_DIR = REPO / "experiments"

# undoer name a ledger written before the naming rule holds -> the name written now
OLD_UNDOER_NAMES = {
    "rds.wait-available": "rds-failover.wait-available",
    "dynamodb-delete-conflict-items": "dynamodb-conflict.delete-items",
    "az-blackhole.entries-go-with-acl": "az-blackhole.forget-entries",
    "lock.release": "target-lock.release-lock",
    "measurement.delete-markers": "measurement-markers.delete-markers",
}
# names that already followed the rule: ledgers hold them as they are
KEPT_UNDOER_NAMES = (
    "az-blackhole.delete-acl",
    "az-blackhole.delete-entries",
    "az-blackhole.restore-subnets",
    "healthcheck-block.delete-listener-rule",
    "healthcheck-block.remove-waf-rule",
)


def _providers(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if node.get("type") == "python" and "module" in node else []
        return found + [p for value in node.values() for p in _providers(value)]
    if isinstance(node, list):
        return [p for item in node for p in _providers(item)]
    return []


def test_every_module_and_function_named_in_experiment_yaml_resolves() -> None:
    named = {
        (provider["module"], provider.get("func"))
        for path in sorted(EXPERIMENTS_DIR.rglob("*.yaml"))
        for provider in _providers(yaml.safe_load(path.read_text()))
    }
    assert len(named) >= 20
    for module_name, func in sorted(named, key=str):
        module = importlib.import_module(module_name)
        if func is not None:
            assert callable(getattr(module, func, None)), f"{module_name}:{func}"


def test_discovery_plan_and_catalog_are_derived_from_the_declarations() -> None:
    declared = faults.fault_declarations()
    assert [d.id for d in declared] == [
        "az-blackhole",
        "rds-failover",
        "healthcheck-block",
        "dynamodb-conflict",
        "s3-replication-pause",
        "fis-experiment",
        "rds-restore",
        "dynamodb-restore",
        "dynamodb-replication-pause",
        "ec2-stop",
        "dns-failover",
    ]
    assert chaosaws_ext.ACTION_MODULES == (
        *(f"{d.package}.actions" for d in declared),
        "chaosaws_ext.undo",
    )
    assert chaosaws_ext.PROBE_MODULES == (
        *(f"{d.package}.probes" for d in declared),
        "probes.activities",
    )
    # one per fault, then the scenarios composing them (once each: the Full DR drill is
    # also the dns-failover fault's own experiment)
    own = tuple(d.experiment for d in declared)
    assert catalog.EXPERIMENTS == (
        *own,
        *(s for s in catalog.SCENARIO_EXPERIMENTS if s not in own),
    )
    assert len(set(catalog.EXPERIMENTS)) == len(catalog.EXPERIMENTS)
    for name in catalog.EXPERIMENTS:  # each declared experiment ships
        assert (EXPERIMENTS_DIR / f"{name}.yaml").is_file()
    # `gameday run` without names runs the four original experiments only
    assert catalog.DEFAULT_EXPERIMENTS == (
        "az-nacl-blackhole",
        "rds-forced-failover",
        "healthcheck-path-block",
        "dynamodb-replica-conflict",
    )
    # ours (the DR drill's failover and failback, the scenario's conditional RDS
    # failover and the EC2 stop included), and chaostoolkit-aws's RDS failovers that the
    # rds-failover fault adopts
    assert len(planner.PLAN_FUNCTIONS) == 16
    assert ("chaosaws.rds.actions", "reboot_db_instance") in planner.PLAN_FUNCTIONS
    for (actions, action), (planning, plan) in planner.PLAN_FUNCTIONS.items():
        inject = getattr(importlib.import_module(actions), action)
        read_only = getattr(importlib.import_module(planning), plan)
        # every argument the plan needs is one of the inject action's (gameday plan
        # passes the action's arguments on)
        required = {
            name
            for name, parameter in inspect.signature(read_only).parameters.items()
            if parameter.default is inspect.Parameter.empty
        }
        assert required <= set(inspect.signature(inject).parameters), (action, plan)


def test_undoer_names_follow_one_rule_and_are_unique() -> None:
    undo.load_undo_modules()
    seen: dict[str, str] = {}
    for declaration in faults.declarations():
        for verb_object in declaration.undoers:
            name = declaration.undoer_name(verb_object)
            assert re.fullmatch(rf"{re.escape(declaration.id)}\.[a-z]+(-[a-z]+)+", name)
            assert name not in seen, (name, seen.get(name))
            seen[name] = declaration.id
            assert undo.registered_undoer(name) is getattr(
                importlib.import_module(declaration.module(declaration.undo)),
                declaration.undoers[verb_object],
            )
    assert set(KEPT_UNDOER_NAMES) <= set(seen)
    assert set(OLD_UNDOER_NAMES.values()) <= set(seen)


def test_a_declaration_refuses_a_name_outside_the_rule() -> None:
    with pytest.raises(ValueError, match="not <verb>-<object>"):
        faults.FaultDeclaration(id="x", package="x", undoers={"Undo": "f"})
    with pytest.raises(ValueError, match="names no undoer"):
        faults.FaultDeclaration(id="x", package="x", undoers={"undo-x": "f"}, aliases={"a": "b"})


@pytest.mark.parametrize("old, new", sorted(OLD_UNDOER_NAMES.items()))
def test_an_old_undoer_name_resolves_to_the_same_function(old: str, new: str) -> None:
    assert undo.registered_undoer(old) is undo.registered_undoer(new)


def test_a_ledger_line_with_each_old_name_replays(mocked_aws: None, tmp_path: Path) -> None:
    """Ledger lines as older versions wrote them (old undoer names, their arguments),
    each on something already gone: the replay runs the right undoer and closes all."""
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="orders",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    old_lines = {
        "rds.wait-available": {"kind": "db-instance", "db_id": "orders-db", "timeout": 5},
        "dynamodb-delete-conflict-items": {
            "table_name": "orders",
            "regions": [REGION],
            "keys": [{"id": {"S": "chaos-run-1-1"}}],
            "run_id": "run-1",
        },
        "az-blackhole.entries-go-with-acl": {"vpc_id": "vpc-1", "network_acl_id": "acl-1"},
        "lock.release": {"table": "no-lock-table", "target": "db:orders", "run_id": "run-1"},
        "measurement.delete-markers": {"kind": "dynamodb", "run_id": "run-1", "table": "orders"},
    }
    assert set(old_lines) == set(OLD_UNDOER_NAMES)
    ledger = Ledger(tmp_path / "old-ledger.jsonl")
    for name, args in old_lines.items():
        entry_id = ledger.record(
            run_id="run-1",
            experiment="written-by-an-older-version",
            fault="old",
            region=REGION,
            resource=name,
            change="old change",
            undoer=name,
            undo_args=args,
            undo_describe="old undo",
        )
        ledger.outcome(entry_id, ok=True)

    results = {r["resource"]: r for r in undo.replay(ledger)}

    assert all(r["ok"] for r in results.values()), results
    assert results["rds.wait-available"]["detail"]["status"] == "gone"
    assert results["az-blackhole.entries-go-with-acl"]["detail"] == {
        "network_acl_id": "acl-1",
        "entries": "deleted with the NACL",
    }
    assert results["lock.release"]["detail"] == "lock table gone"
    assert results["measurement.delete-markers"]["detail"] == {"deleted": 0}
    assert ledger.unreverted() == []


@pytest.mark.parametrize("declaration", faults.fault_declarations(), ids=lambda d: d.id)
def test_every_fault_package_has_the_same_layout(declaration: faults.FaultDeclaration) -> None:
    folder = Path(importlib.import_module(declaration.package).__file__ or "").parent
    for module in ("planning", "actions", "undo", "probes"):
        assert (folder / f"{module}.py").is_file(), f"{declaration.package}.{module}"
    assert (declaration.planning, declaration.actions, declaration.undo, declaration.probes) == (
        "planning",
        "actions",
        "undo",
        "probes",
    )
