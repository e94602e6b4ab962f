"""One experiment, two extensions: chaostoolkit-aws's clients and ours read the same
configuration and secret keys (region, credentials), so an experiment configures both
once."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from chaosaws_ext.core.clients import aws_client

CONFIGURATION = {"aws_region": "eu-west-1"}
SECRETS = {
    "aws_access_key_id": "AKIAEXAMPLEKEY000001",
    "aws_secret_access_key": "example-secret-access-key",
    "aws_session_token": "example-session-token",
}


@pytest.fixture
def fresh_default_session() -> Iterator[None]:
    boto3.DEFAULT_SESSION = None  # chaostoolkit-aws sets it up once per process
    yield
    boto3.DEFAULT_SESSION = None


def test_both_extensions_take_region_and_credentials_from_the_same_keys(
    fresh_default_session: None,
) -> None:
    import chaosaws

    theirs = chaosaws.aws_client("rds", CONFIGURATION, SECRETS)
    ours = aws_client("rds", CONFIGURATION, SECRETS)

    assert theirs.meta.region_name == ours.meta.region_name == "eu-west-1"
    their_credentials = theirs._request_signer._credentials.get_frozen_credentials()
    our_credentials = ours._request_signer._credentials.get_frozen_credentials()
    assert (
        their_credentials.access_key == our_credentials.access_key == SECRETS["aws_access_key_id"]
    )
    assert their_credentials.token == our_credentials.token == SECRETS["aws_session_token"]
