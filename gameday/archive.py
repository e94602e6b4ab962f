"""Nightly history in S3: ``gameday run --archive s3://bucket/prefix`` and reading it back.

Each run goes under its own prefix (``<prefix>/<UTC stamp>-<run>/``): its journals,
ledger, reports and evidence pack, each object written with server-side encryption
(SSE-S3 by default, SSE-KMS with a key id). ``gameday scorecard s3://...`` and
``gameday report --trend s3://...`` download the archived journals into a temporary
folder and read it as a local history. Credentials and endpoint come from the usual AWS
environment (profile, role, ``AWS_ENDPOINT_URL`` for the sandbox's S3).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from gameday.errors import UserError

__all__ = ["ArchiveError", "S3Location", "archive_run", "downloaded_history", "parse_s3_url"]

logger = logging.getLogger(__name__)

#: what of a game day folder is archived (globs relative to --out)
ARCHIVED = ("*.journal.json", "*.jsonl", "report.html", "junit.xml", "evidence/**/*")
#: bound on objects read back (a history of ten years of nightly runs of four suites)
MAX_OBJECTS = 20_000
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10, read_timeout=60
)


class ArchiveError(UserError):
    """The archive cannot be written or read (one line)."""


class S3Location:
    def __init__(self, bucket: str, prefix: str) -> None:
        self.bucket, self.prefix = bucket, prefix.strip("/")

    def key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def parse_s3_url(url: str) -> S3Location:
    """``s3://bucket/prefix`` -> location; ArchiveError naming what is wrong."""
    if not url.startswith("s3://"):
        raise ArchiveError(f"{url!r} is not an s3://bucket/prefix URL")
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not bucket:
        raise ArchiveError(f"{url!r} names no bucket (s3://bucket/prefix)")
    return S3Location(bucket, prefix)


def _client():
    return boto3.client("s3", config=_CONFIG)


def _fail(action: str, where: S3Location, error: Exception) -> ArchiveError:
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "?")
        return ArchiveError(f"cannot {action} {where}: {code}")
    return ArchiveError(f"cannot {action} {where}: {error}")


def archive_run(out_dir: Path, url: str, *, kms_key_id: str | None = None) -> list[str]:
    """Upload the run's files of ``out_dir`` under a new prefix; returns the keys."""
    where = parse_s3_url(url)
    run = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    files = sorted({p for pattern in ARCHIVED for p in out_dir.glob(pattern) if p.is_file()})
    extra = {"ServerSideEncryption": "AES256"}
    if kms_key_id:
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
    client = _client()
    keys = []
    try:
        for path in files:
            key = where.key(run, path.relative_to(out_dir).as_posix())
            client.upload_file(str(path), where.bucket, key, ExtraArgs=extra)
            keys.append(key)
    except (ClientError, BotoCoreError) as error:
        raise _fail("archive to", where, error) from None
    logger.info("archived %d file(s) to %s/%s", len(keys), where, run)
    return keys


@contextmanager
def downloaded_history(url: str) -> Iterator[Path]:
    """A temporary folder holding every journal archived under ``url``."""
    where = parse_s3_url(url)
    client = _client()
    with tempfile.TemporaryDirectory(prefix="gameday-history-") as folder:
        count = 0
        try:
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=where.bucket, Prefix=where.key() + "/" if where.prefix else ""
            )
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"]
                    if not key.endswith(".journal.json"):
                        continue
                    count += 1
                    if count > MAX_OBJECTS:
                        raise ArchiveError(f"{where} holds over {MAX_OBJECTS} journals")
                    target = Path(folder) / key.replace("/", "__")
                    client.download_file(where.bucket, key, str(target))
        except (ClientError, BotoCoreError) as error:
            raise _fail("read", where, error) from None
        if count == 0:
            raise ArchiveError(f"{where} holds no archived journals (*.journal.json)")
        yield Path(folder)
