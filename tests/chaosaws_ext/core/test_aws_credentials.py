"""Assumed-role credentials refresh themselves (runs and recoveries longer than an hour)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.credentials import RefreshableCredentials

from chaosaws_ext.core.clients import aws_client

ROLE = "arn:aws:iam::123456789012:role/gameday-runner"
CONFIG = {"aws_region": "eu-south-1", "aws_assume_role_arn": ROLE}


@pytest.fixture
def assume_calls(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every AssumeRole call any client of this process makes (its RoleArn)."""
    from moto.sts.responses import TokenResponse

    calls: list[str] = []
    original = TokenResponse.assume_role

    def assume_role(self: TokenResponse):  # type: ignore[no-untyped-def]
        calls.append(self._get_param("RoleArn"))
        return original(self)

    monkeypatch.setattr(TokenResponse, "assume_role", assume_role)
    return calls


def _credentials(client) -> RefreshableCredentials:  # type: ignore[no-untyped-def]
    return client._request_signer._credentials


def test_assumed_role_credentials_are_refreshable_and_used(assume_calls: list[str]) -> None:
    sts = aws_client("sts", CONFIG)
    identity = sts.get_caller_identity()
    assert identity["Arn"].startswith("arn:aws:sts::123456789012:assumed-role/gameday-runner/")
    assert isinstance(_credentials(sts), RefreshableCredentials)
    assert assume_calls == [ROLE]
    # other services of the same session share the credentials (one AssumeRole)
    aws_client("ec2", CONFIG).describe_vpcs()
    assert assume_calls == [ROLE]


def test_an_expired_credential_is_refreshed_before_the_next_call(
    assume_calls: list[str],
) -> None:
    sts = aws_client("sts", CONFIG)
    sts.get_caller_identity()
    credentials = _credentials(sts)
    first_key = credentials.get_frozen_credentials().access_key
    # an hour has passed: the expiry is behind us (no sleeping)
    credentials._expiry_time = datetime.now(UTC) - timedelta(minutes=1)
    assert credentials.refresh_needed()

    identity = sts.get_caller_identity()

    assert assume_calls == [ROLE, ROLE]
    assert credentials.get_frozen_credentials().access_key != first_key
    assert identity["Arn"].startswith("arn:aws:sts::123456789012:assumed-role/gameday-runner/")
    assert not credentials.refresh_needed()


def test_without_a_role_the_given_keys_are_used(assume_calls: list[str]) -> None:
    secrets = {"aws": {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "x"}}
    sts = aws_client("sts", {"aws_region": "eu-south-1"}, secrets)
    assert _credentials(sts).access_key == "AKIDEXAMPLE"
    assert assume_calls == []
