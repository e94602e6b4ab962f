"""Where a measurement ran (sandbox or AWS, region, account) and with which tools: a
figure is only comparable with its environment and its tooling."""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

from botocore.config import Config
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, region_of
from chaosaws_ext.core.recovery_schema import EnvironmentBlock

__all__ = ["environment", "is_loopback", "tool_versions", "account_id"]

logger = logging.getLogger(__name__)
ACCOUNT_LOOKUP_S = 3.0  # GetCallerIdentity is cheap; never let it hold the journal


def is_loopback(url: str | None) -> bool:
    """True for a URL on localhost or 127.0.0.0/8 (::1): the sandbox's addresses."""
    if not url:
        return False
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tool_versions() -> dict[str, str | None]:
    """Tool versions for the journal (a figure is only comparable with its tooling)."""
    found: dict[str, str | None] = {}
    for name in ("chaostoolkit", "chaostoolkit-lib", "chaosaws-ext", "boto3"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def account_id(
    configuration: Configuration | None, secrets: Secrets | None, region: str
) -> str | None:
    """The account id via STS, bounded to 3 s (None when not cheap or not allowed)."""
    result: list[str] = []

    def lookup() -> None:
        try:
            client = aws_client(
                "sts",
                configuration,
                secrets,
                region,
                config=Config(connect_timeout=2, read_timeout=2, retries={"total_max_attempts": 1}),
            )
            result.append(client.get_caller_identity()["Account"])
        except Exception as error:
            logger.debug("no account id: %s", error)

    thread = threading.Thread(target=lookup, daemon=True)
    thread.start()
    thread.join(ACCOUNT_LOOKUP_S)
    return result[0] if result else None


def environment(
    samplers: list[dict[str, Any]],
    markers: dict[str, Any] | None,
    configuration: Configuration | None,
    secrets: Secrets | None,
) -> EnvironmentBlock:
    """The ``environment`` of the recovery block, from the sampler and marker specs."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    sandbox = os.environ.get("GAMEDAY_TARGET") == "sandbox" or is_loopback(endpoint)
    if not sandbox and not endpoint:
        urls = [s.get("url") for s in samplers if s.get("url")]
        sandbox = bool(urls) and all(is_loopback(u) for u in urls)
    try:
        region = region_of(configuration)
    except Exception:
        region = None
    aws_kinds = ("dynamodb", "s3")
    uses_aws = any(s["kind"] in aws_kinds for s in samplers) or (
        (markers or {}).get("kind") in (*aws_kinds, "ticket-api")  # read back from a table
    )
    account = None
    if region and (uses_aws or is_loopback(endpoint)):
        account = account_id(configuration, secrets, region)
    return EnvironmentBlock(
        target="sandbox" if sandbox else "aws",
        region=region,
        account=account,
        versions=tool_versions(),
    )
