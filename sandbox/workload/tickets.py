"""Where the ticket API keeps tickets: the DynamoDB tickets table, as the real API would.

A ticket body (a JSON object) becomes one item of the table (``sandbox.seed.seed_table``:
partition key ``ticket_id``, sort key ``created_at``): ``ticket_id`` is the client's when
it sends one (a non-empty string: an idempotency key a client can read back by),
otherwise one is made up; ``created_at`` is always the server's clock (ISO 8601, UTC,
microseconds); every other top-level field is stored as an attribute (boto3's
``TypeSerializer``; JSON numbers as DynamoDB numbers). ``customer_id`` and ``status`` key
the table's indexes: when present they must be non-empty strings (a body without them is
left out of the indexes). The store talks to the region's own replica through the
sandbox's moto endpoint with boto3; a write that does not succeed raises, and the API
answers 5xx: its 201 means the item is durable.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

__all__ = ["TicketError", "TicketStore"]

log = logging.getLogger(__name__)

HASH_KEY, RANGE_KEY = "ticket_id", "created_at"
INDEX_KEYS = ("customer_id", "status")  # the GSIs' partition keys (sandbox.seed)
SERVER_FIELDS = (RANGE_KEY, "instance", "az", "region")  # set by the API, never the client
MAX_TICKET_ID_BYTES = 2048  # DynamoDB's partition key limit (Developer Guide, "Quotas")


class TicketError(ValueError):
    """The ticket body is not one the API stores (the message names the field): 400."""


def parse_ticket(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object (numbers as Decimal, as DynamoDB takes them)."""
    try:
        body = json.loads(raw or b"{}", parse_float=Decimal)
    except ValueError:
        raise TicketError("body is not JSON") from None
    if not isinstance(body, dict):
        raise TicketError("body must be a JSON object")
    ticket_id = body.get(HASH_KEY)
    if ticket_id is not None and (not isinstance(ticket_id, str) or not ticket_id):
        raise TicketError(f"{HASH_KEY} must be a non-empty string")
    if isinstance(ticket_id, str) and len(ticket_id.encode()) > MAX_TICKET_ID_BYTES:
        raise TicketError(f"{HASH_KEY} is longer than {MAX_TICKET_ID_BYTES} bytes")
    for key in INDEX_KEYS:
        if key in body and (not isinstance(body[key], str) or not body[key]):
            raise TicketError(f"{key} must be a non-empty string")
    return body


def _plain(value: Any) -> Any:
    """A deserialized attribute as JSON can carry it (Decimal -> int or float)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(v) for v in value]
    return value


class TicketStore:
    """Tickets as items of ``table`` through ``client`` (a boto3 DynamoDB client of the
    instance's region). ``hash_key``/``range_key``: the table's key attributes that hold
    ``ticket_id`` and ``created_at`` (the seeded table's own names by default)."""

    def __init__(
        self, client: Any, table: str, hash_key: str = HASH_KEY, range_key: str = RANGE_KEY
    ) -> None:
        self.client, self.table = client, table
        self.hash_key, self.range_key = hash_key, range_key
        self._serializer, self._deserializer = TypeSerializer(), TypeDeserializer()
        self._warm = False

    def warm(self) -> None:
        """One cheap call (DescribeTable) so the first ticket does not pay for the
        client's first connection, as a running API's would not; failures are logged."""
        if self._warm:
            return  # one store serves every AZ's instance of a region: warmed once
        try:
            self.client.describe_table(TableName=self.table)
            self._warm = True
        except Exception as error:  # noqa: BLE001 - the first write will say it again
            # not a fault: the standby's replica is created after its API starts
            log.info("ticket store %s: warm-up failed: %s", self.table, error)

    def put(self, body: dict[str, Any], served_by: dict[str, str]) -> dict[str, Any]:
        """Store one ticket; returns it as stored. Raises on any failed write."""
        ticket = {k: v for k, v in body.items() if k not in SERVER_FIELDS}
        ticket[HASH_KEY] = body.get(HASH_KEY) or f"{served_by['instance']}-{uuid.uuid4().hex}"
        ticket[RANGE_KEY] = datetime.now(UTC).isoformat(timespec="microseconds")
        ticket.update(served_by)
        names = {HASH_KEY: self.hash_key, RANGE_KEY: self.range_key}
        item = {names.get(k, k): self._serializer.serialize(v) for k, v in ticket.items()}
        self.client.put_item(TableName=self.table, Item=item)
        return _plain(ticket)  # type: ignore[no-any-return]

    def get(self, ticket_id: str) -> dict[str, Any] | None:
        """The ticket (its latest version by ``created_at``), or None when absent."""
        page = self.client.query(
            TableName=self.table,
            KeyConditionExpression="#id = :id",
            ExpressionAttributeNames={"#id": self.hash_key},
            ExpressionAttributeValues={":id": {"S": ticket_id}},
            ConsistentRead=True,
            ScanIndexForward=False,
            Limit=1,
        )
        items = page.get("Items") or []
        if not items:
            return None
        names = {self.hash_key: HASH_KEY, self.range_key: RANGE_KEY}
        ticket = {names.get(k, k): self._deserializer.deserialize(v) for k, v in items[0].items()}
        return _plain(ticket)  # type: ignore[no-any-return]
