"""targets.yaml: the DR plan's figures, the schema check and the file resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from probes.dr_targets import (
    TargetsError,
    load_targets,
    meets,
    resolve_targets_file,
    shipped_targets_file,
    target_for,
)


def test_project_targets_match_the_dr_plan() -> None:
    targets = load_targets(shipped_targets_file())
    expected = {
        "api-gateway": (0, 0),
        "lambda": (0, 0),
        "dynamodb": (60, 1),
        "s3-knowledge-base": (0, 0),
        "rds-analytics": (300, 300),
        "opensearch": (1800, 3600),
        "sagemaker-endpoint": (3600, None),
        "ticket-api": (300, 0),
        "ai-generation": (900, 0),
        "knowledge-base": (1800, 3600),
        "analytics-db": (14400, 14400),
        "logs": (86400, 86400),
        "route53-failover": (360, None),
        "dynamodb-restore": (None, None),  # the runbook's Scenario 3 gives no target
    }
    assert {name: (t.rto_s, t.rpo_s) for name, t in targets.items()} == expected
    assert targets["dynamodb"].rto_bound == "<" and targets["dynamodb"].rpo_bound == "<"
    assert targets["rds-analytics"].rto_bound == "<="
    assert all(t.source for t in targets.values())
    assert "| DynamoDB | < 1 min | < 1 sec |" in targets["dynamodb"].source


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services:\n  db: {rto_s: fast, rpo_s: 0, source: x}\n", "services.db.rto_s"),
        ("services:\n  db: {rto_s: -1, rpo_s: 0, source: x}\n", "services.db.rto_s"),
        ("services:\n  db: {rto_s: 1, source: x}\n", "services.db.rpo_s is missing"),
        ("services:\n  db: {rto_s: 1, rpo_s: 0, rto: 3, source: x}\n", "unknown key 'rto'"),
        ("services:\n  db: {rto_s: 1, rpo_s: 0}\n", "services.db.source"),
        ("services:\n  db: {rto_s: 1, rpo_s: 0, rpo_bound: '>', source: x}\n", "rpo_bound"),
        ("servces: {}\n", "unknown top-level key 'servces'"),
        ("services: []\n", "'services' must be a non-empty mapping"),
        ("version: 2\nservices: {db: {rto_s: 1, rpo_s: 0, source: x}}\n", "version"),
        ("services: [\n", "not valid YAML"),
    ],
)
def test_schema_errors_name_the_bad_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(TargetsError, match=message.replace("(", r"\(").replace("'", "'")):
        load_targets(write(tmp_path, text))


def test_unknown_service_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "services:\n  db: {rto_s: 1, rpo_s: 0, source: x}\n")
    with pytest.raises(TargetsError, match=r"'web' is not in .* \(known: db\)"):
        target_for("web", str(path))


def test_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = write(tmp_path, "services:\n  a: {rto_s: 1, rpo_s: 0, source: x}\n")
    other = tmp_path / "other.yaml"
    other.write_text("services:\n  b: {rto_s: 2, rpo_s: 0, source: y}\n")
    monkeypatch.chdir(tmp_path)
    # nothing set, no ./experiments/targets.yaml: the project's file
    assert resolve_targets_file() == shipped_targets_file()
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "targets.yaml").write_text(explicit.read_text())
    assert resolve_targets_file() == tmp_path / "experiments" / "targets.yaml"
    monkeypatch.setenv("GAMEDAY_TARGETS_FILE", "other.yaml")
    assert resolve_targets_file() == other
    assert resolve_targets_file(None, {"targets_file": str(explicit)}) == explicit
    assert resolve_targets_file("other.yaml", {"targets_file": str(explicit)}) == other
    assert target_for("b").rto_s == 2
    with pytest.raises(TargetsError, match="does not exist"):
        resolve_targets_file("missing.yaml")


def test_meets() -> None:
    assert meets(60.0, 60.0, "<=") is True
    assert meets(60.0, 60.0, "<") is False
    assert meets(0.0, 0.0, "<=") is True
    assert meets(None, 10.0, "<=") is False
    assert meets(5.0, None, "<=") is None


def test_the_old_module_path_still_imports_the_same_objects() -> None:
    import probes.dr_targets as new
    import probes.targets as old

    assert set(old.__all__) == set(new.__all__)
    assert all(getattr(old, name) is getattr(new, name) for name in new.__all__)
