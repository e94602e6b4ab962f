"""The sandbox's ticket API stores tickets durably in the tickets table (moto server):
a 201 only once the item is in the table, read back by id, 404 when absent, 400 for a
body it cannot store, 503 (and nothing acknowledged) when the table refuses the write."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from sandbox.seed import TABLE_NAME, seed_table
from sandbox.workload.api import ApiInstance
from sandbox.workload.tickets import TicketStore
from tests.conftest import REGION


@pytest.fixture
def dynamodb(moto_endpoint: str) -> Any:
    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_endpoint)
    seed_table(client)
    return client


@pytest.fixture
def api(dynamodb: Any) -> Iterator[ApiInstance]:
    instance = ApiInstance(
        "api-eu-south-1a", REGION, f"{REGION}a", store=TicketStore(dynamodb, TABLE_NAME)
    )
    instance.start()
    yield instance
    instance.stop()


def request(api: ApiInstance, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    connection = http.client.HTTPConnection(*api.address, timeout=10)
    try:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        connection.request(method, path, body=payload if body is not None else None)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def items(dynamodb: Any) -> list[dict[str, Any]]:
    return dynamodb.scan(TableName=TABLE_NAME, ConsistentRead=True)["Items"]


def test_a_post_is_acknowledged_once_the_item_is_in_the_table(api, dynamodb) -> None:
    status, ticket = request(
        api, "POST", "/api/tickets", {"ticket_id": "T-1", "subject": "help", "priority": 2}
    )
    assert status == 201
    (item,) = items(dynamodb)
    assert item["ticket_id"] == {"S": "T-1"}
    assert item["created_at"] == {"S": ticket["created_at"]}  # the server's clock
    assert item["subject"] == {"S": "help"} and item["priority"] == {"N": "2"}
    assert item["az"] == {"S": f"{REGION}a"} and item["region"] == {"S": REGION}
    assert "customer_id" not in item and "status" not in item  # out of the indexes
    assert ticket["ticket_id"] == ticket["id"] == "T-1"
    status, read = request(api, "GET", "/api/tickets/T-1")
    assert status == 200 and read["subject"] == "help" and read["priority"] == 2
    # the listing of the instance still shows what it took
    status, listing = request(api, "GET", "/api/tickets")
    assert status == 200 and [t["ticket_id"] for t in listing["tickets"]] == ["T-1"]


def test_an_id_is_made_up_and_the_client_cannot_set_the_server_fields(api, dynamodb) -> None:
    status, ticket = request(
        api, "POST", "/api/tickets", {"created_at": "1999", "az": "elsewhere", "x": "y"}
    )
    assert status == 201
    (item,) = items(dynamodb)
    assert item["ticket_id"]["S"] == ticket["ticket_id"]
    assert ticket["ticket_id"].startswith("api-eu-south-1a-")
    assert item["created_at"]["S"] != "1999" and item["az"]["S"] == f"{REGION}a"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "body is not JSON"),
        ([1, 2], "body must be a JSON object"),
        ({"ticket_id": ""}, "ticket_id must be a non-empty string"),
        ({"ticket_id": 7}, "ticket_id must be a non-empty string"),
        ({"customer_id": ""}, "customer_id must be a non-empty string"),
        ({"status": 3}, "status must be a non-empty string"),
    ],
)
def test_a_body_it_cannot_store_is_refused_and_nothing_is_written(
    api, dynamodb, body: Any, error: str
) -> None:
    status, answer = request(api, "POST", "/api/tickets", body)
    assert (status, answer["error"]) == (400, error)
    assert items(dynamodb) == []


def test_an_absent_ticket_is_404(api) -> None:
    status, answer = request(api, "GET", "/api/tickets/nope")
    assert status == 404 and answer["ticket_id"] == "nope"


def test_a_failed_write_is_never_acknowledged(api, dynamodb) -> None:
    dynamodb.delete_table(TableName=TABLE_NAME)
    status, answer = request(api, "POST", "/api/tickets", {"ticket_id": "T-2"})
    assert status == 503 and answer == {"error": "ticket not stored"}
    status, _ = request(api, "GET", "/api/tickets/T-2")
    assert status == 503
    status, listing = request(api, "GET", "/api/tickets")
    assert listing["tickets"] == []
