from __future__ import annotations

import pytest

from chaosaws_ext.core.redaction import MASK, redact, secret_values


def test_values_from_secrets_are_masked_everywhere_even_inside_strings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_DB_PASSWORD", "hunter2-from-env")
    secrets = {
        "db": {"password": {"type": "env", "key": "MY_DB_PASSWORD"}, "user": "inline-s3cr3t"}
    }
    journal = {
        "experiment": {"secrets": secrets, "title": "t"},
        "run": [{"output": "connected with hunter2-from-env as inline-s3cr3t", "ok": True}],
    }
    masked = redact(journal, secret_values(secrets))
    text = repr(masked)
    assert "hunter2-from-env" not in text and "inline-s3cr3t" not in text
    assert masked["run"][0]["output"] == f"connected with {MASK} as {MASK}"
    assert masked["experiment"]["secrets"]["db"]["password"] == {
        "type": "env",
        "key": "MY_DB_PASSWORD",
    }
    assert masked["experiment"]["secrets"]["db"]["user"] == MASK
    assert masked["run"][0]["ok"] is True


def test_credential_looking_keys_and_dsn_passwords_are_masked() -> None:
    doc = {
        "configuration": {
            "api_token": "abc123456",
            "db_dsn": "postgresql://app:pw%40x@db:5432/a",
            "conn": "host=db user=app password=topsecret dbname=x",
            "aws_region": "eu-south-1",
        },
    }
    masked = redact(doc)
    assert masked["configuration"]["api_token"] == MASK
    assert masked["configuration"]["db_dsn"] == f"postgresql://app:{MASK}@db:5432/a"
    assert masked["configuration"]["conn"] == f"host=db user=app password={MASK} dbname=x"
    assert masked["configuration"]["aws_region"] == "eu-south-1"


def test_aws_secret_from_environment_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG")
    masked = redact({"log": "key wJalrXUtnFEMI/K7MDENG leaked"}, secret_values())
    assert masked == {"log": f"key {MASK} leaked"}


def test_log_filter_masks_messages_arguments_and_tracebacks(tmp_path) -> None:
    import logging
    import stat

    from chaosaws_ext.core.redaction import SecretLogFilter, install_log_redaction

    log_file = tmp_path / "chaostoolkit.log"
    log_file.write_text("")
    log_file.chmod(0o644)
    handler = logging.FileHandler(log_file)
    logger = logging.getLogger("chaostoolkit")
    logger.addHandler(handler)
    try:
        installed = install_log_redaction(["tok-3f9a1c"])
        assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
        logger.error("probe failed with %s", "tok-3f9a1c and postgresql://u:dsnpw1@h/db")
        try:
            raise ValueError("bad address 'tok-3f9a1c'")
        except ValueError:
            logger.exception("activity failed")
        handler.flush()
        text = log_file.read_text()
        assert "tok-3f9a1c" not in text and "dsnpw1" not in text
        assert f"probe failed with {MASK} and postgresql://u:{MASK}@h/db" in text
        assert f"ValueError: bad address '{MASK}'" in text
    finally:
        logger.removeHandler(handler)
        handler.close()
        for other in [logging.lastResort, *logging.getLogger().handlers]:
            if other is not None:
                other.removeFilter(installed)
    assert isinstance(installed, SecretLogFilter)


def test_log_redaction_never_chmods_a_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """chaos --no-log-file logs to /dev/null: making that 0600 breaks the machine."""
    import logging
    import os
    from pathlib import Path

    from chaosaws_ext.core.redaction import install_log_redaction

    changed: list[str] = []
    monkeypatch.setattr(Path, "chmod", lambda self, mode: changed.append(str(self)))
    handler = logging.FileHandler(os.devnull)
    logger = logging.getLogger("chaostoolkit")
    logger.addHandler(handler)
    try:
        install_log_redaction({"s3cr3t-value"})
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert os.devnull not in changed
