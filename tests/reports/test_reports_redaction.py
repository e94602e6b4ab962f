"""Secret values never reach the HTML report, the JUnit XML or the metrics."""

from __future__ import annotations

import copy
import json
import sys

import pytest
from test_reports_dom import DATA, parse_html

from reports import load_journals, report_main, write_junit, write_textfile
from reports.html import build_report_html
from reports.redaction import (
    MASK,
    is_sensitive_key,
    mask_journal,
    mask_text,
    secret_values_from_var_files,
)

sys.path.insert(0, str(DATA))
from generate import ENV_NAME, ENV_TOKEN, INLINE_PASSWORD, VAR_FILE_SECRET  # noqa: E402

SECRETS = json.loads((DATA / "plain-secrets.json").read_text())
DYNAMIC = json.loads((DATA / "completed-met.json").read_text())


@pytest.fixture
def var_file(tmp_path):
    path = tmp_path / "vars.json"
    path.write_text(json.dumps({"secrets": {"vf": {"signing": VAR_FILE_SECRET}}}))
    return path


def test_the_fixture_really_leaks_every_kind_of_secret():
    raw = json.dumps(SECRETS)
    assert INLINE_PASSWORD in raw and ENV_TOKEN in raw and VAR_FILE_SECRET in raw
    assert ENV_TOKEN in json.dumps(DYNAMIC)  # resolved by chaoslib's dynamic configuration


@pytest.mark.parametrize(
    "key, sensitive",
    [
        ("password", True),
        ("db_password", True),
        ("PGPASSWORD", True),
        ("pwd", True),
        ("api_token", True),
        ("aws_secret_access_key", True),
        ("aws_session_token", True),
        ("apiKey", True),
        ("private-key", True),
        ("client_secret", True),
        ("credentials", True),
        ("Authorization", True),
        ("key", False),
        ("title", False),
        ("tolerance", False),
        ("monkey", False),
        ("resolution_s", False),
        ("service", False),
        ("dsn", False),
    ],
)
def test_sensitive_keys(key, sensitive):
    assert is_sensitive_key(key) is sensitive


@pytest.mark.parametrize(
    "text, expected",
    [
        ("postgresql://u:pw@h/db", f"postgresql://u:{MASK}@h/db"),
        (
            "connect to mysql://root:s3cr:et@db:3306 failed",
            f"connect to mysql://root:{MASK}@db:3306 failed",
        ),
        (
            "host=db user=app password=hunter2 dbname=x",
            f"host=db user=app password={MASK} dbname=x",
        ),
        ('{"token": "abc.def"}', f'{{"token": "{MASK}"}}'),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.x", f"Authorization: Bearer {MASK}"),
        ("http://orders.internal:8080/health", "http://orders.internal:8080/health"),
    ],
)
def test_embedded_passwords_are_masked(text, expected):
    assert mask_text(text) == expected


def test_inline_env_and_var_file_secrets_masked_everywhere(var_file, monkeypatch):
    monkeypatch.setenv(ENV_NAME, ENV_TOKEN)
    extra = secret_values_from_var_files([var_file], SECRETS["experiment"])
    masked = json.dumps(mask_journal(SECRETS, extra_secret_values=extra))
    for secret in (INLINE_PASSWORD, ENV_TOKEN, VAR_FILE_SECRET):
        assert secret not in masked
    # the env secret's *name* stays visible: it is a pointer, not a value
    assert ENV_NAME in masked
    output = mask_journal(SECRETS, extra_secret_values=extra)["run"][0]["output"]
    assert output == {
        "connection": f"postgresql://app:{MASK}@db.internal:5432/orders",
        "note": f"called the API with {MASK}",
        "signed_with": MASK,
    }


def test_input_journal_is_not_modified():
    before = copy.deepcopy(SECRETS)
    mask_journal(SECRETS)
    assert before == SECRETS


def test_resolved_secrets_from_dynamic_configuration_masked_without_env():
    masked = mask_journal(DYNAMIC, environ={})
    text = json.dumps(masked)
    assert ENV_TOKEN not in text and INLINE_PASSWORD not in text
    provider = masked["experiment"]["configuration"]["service_url"]["provider"]
    assert provider["secrets"] == {"db": {"password": MASK, "api_token": MASK}}


def test_var_file_env_lines_and_config_entries(tmp_path):
    env_file = tmp_path / "staging.env"
    env_file.write_text("# comment\nexport DB_PASSWORD='pw-from-env-file'\nREGION=eu-south-1\n")
    yaml_file = tmp_path / "vars.yaml"
    yaml_file.write_text("configuration:\n  signing_ref: cfg-value-42\n  region: eu-west-1\n")
    experiment = {"secrets": {"s": {"signing": "${signing_ref}"}}}
    values = secret_values_from_var_files([env_file, yaml_file], experiment)
    assert sorted(values) == ["cfg-value-42", "pw-from-env-file"]


def _all_outputs(tmp_path, argv_extra=()):
    out = tmp_path / "report.html"
    code = report_main(
        [
            str(DATA / "plain-secrets.json"),
            str(DATA / "completed-met.json"),
            "-o",
            str(out),
            "--junit",
            str(tmp_path / "junit.xml"),
            "--textfile",
            str(tmp_path / "g.prom"),
            *argv_extra,
        ]
    )
    assert code == 0
    return "\n".join(p.read_text() for p in (out, tmp_path / "junit.xml", tmp_path / "g.prom"))


def test_no_secret_in_any_output_with_env_and_var_file(tmp_path, var_file, monkeypatch):
    monkeypatch.setenv(ENV_NAME, ENV_TOKEN)
    text = _all_outputs(tmp_path, ["--var-file", str(var_file)])
    for secret in (INLINE_PASSWORD, ENV_TOKEN, VAR_FILE_SECRET):
        assert secret not in text
    assert MASK in text


def test_without_the_var_file_its_value_cannot_be_known(tmp_path, monkeypatch):
    """Documents the limit: a var-file secret echoed under an innocent key needs --var-file."""
    monkeypatch.delenv(ENV_NAME, raising=False)
    text = _all_outputs(tmp_path)
    assert INLINE_PASSWORD not in text
    # the env token is still masked: the dynamic-configuration journal of the same report
    # resolved it, and secret values are pooled across the report's journals
    assert ENV_TOKEN not in text
    assert VAR_FILE_SECRET in text


def test_secret_in_title_and_labels_is_masked(tmp_path):
    journal = copy.deepcopy(DYNAMIC)
    journal["experiment"]["title"] = f"failover with {INLINE_PASSWORD}"
    journal["recovery"]["service"] = f"svc-{INLINE_PASSWORD}"
    html = build_report_html([journal])
    write_junit([journal], tmp_path / "j.xml")
    write_textfile([journal], tmp_path / "g.prom")
    for text in (html, (tmp_path / "j.xml").read_text(), (tmp_path / "g.prom").read_text()):
        assert INLINE_PASSWORD not in text
    root = parse_html(html)
    section = root.find("section", "experiment")
    assert section.find("h2").text().startswith(f"failover with {MASK}")


def test_loaded_journals_are_kept_raw_and_masked_on_output():
    journals, _ = load_journals([DATA / "plain-secrets.json"])
    assert INLINE_PASSWORD in json.dumps(journals[0].data)
    assert INLINE_PASSWORD not in build_report_html(journals)


def test_configuration_env_pointer_under_a_sensitive_key(monkeypatch):
    journal = copy.deepcopy(DYNAMIC)
    journal["experiment"]["configuration"]["db_password"] = {"type": "env", "key": "PGPASS_X"}
    journal["run"][0]["output"] = "connected with pg-pass-from-env"
    masked = mask_journal(journal, environ={"PGPASS_X": "pg-pass-from-env"})
    assert masked["run"][0]["output"] == f"connected with {MASK}"
    assert masked["experiment"]["configuration"]["db_password"] == {
        "type": "env",
        "key": "PGPASS_X",
    }


@pytest.mark.parametrize("offset", [-9, -3, -1, 0])
def test_a_secret_across_the_cut_of_a_huge_string_is_not_half_shown(offset):
    from reports.redaction import MAX_TEXT

    secret = "half-shown-secret-1234"
    dsn_pw = "dsnpw987654"
    for leaked, text in (
        (secret, "x" * (MAX_TEXT + offset) + secret + "y" * 100_000),
        (dsn_pw, "x" * (MAX_TEXT + offset - 20) + f" postgresql://u:{dsn_pw}@h/db " + "y" * 9),
    ):
        journal = copy.deepcopy(DYNAMIC)
        journal["experiment"]["secrets"]["db"]["password"] = secret
        journal["run"][0]["output"] = text
        masked = mask_journal(journal)["run"][0]["output"]
        assert len(masked) < MAX_TEXT + 100
        assert masked.endswith("characters in total]")
        for size in range(4, len(leaked) + 1):
            assert leaked[:size] not in masked, (leaked, size)
