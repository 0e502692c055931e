"""The listener's answers: 200 only once stored, and every bad input refused with nothing stored."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from starlette.applications import Starlette

from qb_mcp.errors import ConfigError
from qb_mcp.store import Database
from qb_mcp.store import events as store
from qb_mcp.store.events import StoredEvent
from qb_mcp.webhooks.app import MAX_BODY, webhook_app, webhook_routes
from qb_mcp.webhooks.signature import sign
from tests.webhooks.conftest import TOKEN, post_signed, serving

pytestmark = pytest.mark.anyio

URL = "/webhooks/intuit"
LEGACY = (
    b'{"eventNotifications":[{"realmId":"1185883450","dataChangeEvent":{"entities":[{"name":'
    b'"Customer","id":"1","operation":"Create","lastUpdated":"2015-10-05T14:42:19-0700"}]}}]}'
)
CLOUDEVENTS = json.dumps(
    [
        {
            "specversion": "1.0",
            "id": "ce-1",
            "source": "intuit.x",
            "type": "qbo.invoice.updated.v1",
            "datacontenttype": "application/json",
            "time": "2025-09-10T21:31:25.179851517Z",
            "intuitentityid": "130",
            "intuitaccountid": "1185883450",
            "data": {},
        }
    ]
).encode()


@pytest.fixture
def notified() -> list[list[StoredEvent]]:
    return []


@pytest.fixture
async def http(
    database: Database, notified: list[list[StoredEvent]]
) -> AsyncIterator[httpx2.AsyncClient]:
    async def on_stored(events: list[StoredEvent]) -> None:
        notified.append(events)

    app = webhook_app(database=database, verifier_token=TOKEN, on_stored=on_stored)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://listener"
    ) as client:
        yield client


async def test_a_signed_legacy_delivery_is_stored_and_acknowledged(
    http: httpx2.AsyncClient, database: Database
) -> None:
    response = await post_signed(http, URL, LEGACY)
    assert response.status_code == 200
    assert response.json() == {"stored": 1, "duplicates": 0}
    [event] = await store.recent(database)
    assert (event.entity, event.entity_id, event.source) == ("Customer", "1", "legacy")


async def test_intuits_own_signed_sample_is_accepted(database: Database, samples_dir: Path) -> None:
    app = Starlette(
        routes=webhook_routes(
            database=database, verifier_token="b5771f19b12ddb4bcdb9f08bdc50bc63878a"
        )
    )
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://l"
    ) as c:
        response = await c.post(
            URL,
            content=(samples_dir / "webhook-legacy-signed.raw-body.txt").read_bytes(),
            headers={
                "Content-Type": "application/json",
                "intuit-signature": "JC2GUwciPmRBwEO7WvrRmKqu9tGOKL8FFallocTFi8Q=",
            },
        )
    assert response.status_code == 200
    assert await store.count(database) == 1


async def test_a_signed_cloudevents_delivery_is_stored(
    http: httpx2.AsyncClient, database: Database
) -> None:
    response = await post_signed(
        http, URL, CLOUDEVENTS, content_type="application/cloudevents-batch+json; charset=utf-8"
    )
    assert response.status_code == 200
    [event] = await store.recent(database)
    assert (event.entity, event.operation, event.source) == ("Invoice", "Update", "cloudevents")


async def test_a_duplicate_delivery_is_acknowledged_and_not_stored_again(
    http: httpx2.AsyncClient, database: Database
) -> None:
    await post_signed(http, URL, LEGACY)
    again = await post_signed(http, URL, LEGACY)
    assert again.status_code == 200
    assert again.json() == {"stored": 0, "duplicates": 1}
    assert await store.count(database) == 1


async def test_subscribers_hear_only_new_events(
    http: httpx2.AsyncClient, notified: list[list[StoredEvent]]
) -> None:
    await post_signed(http, URL, LEGACY)
    await post_signed(http, URL, LEGACY)
    assert [[e.entity_id for e in batch] for batch in notified] == [["1"]]


async def test_a_missing_signature_is_401_and_nothing_is_stored(
    http: httpx2.AsyncClient, database: Database
) -> None:
    response = await http.post(URL, content=LEGACY, headers={"Content-Type": "application/json"})
    assert response.status_code == 401
    assert await store.count(database) == 0


async def test_a_signature_made_with_another_token_is_401(
    http: httpx2.AsyncClient, database: Database
) -> None:
    response = await post_signed(http, URL, LEGACY, token="somebody-elses-token")
    assert response.status_code == 401
    assert await store.count(database) == 0


async def test_a_signature_over_other_bytes_is_401(
    http: httpx2.AsyncClient, database: Database
) -> None:
    response = await http.post(
        URL,
        content=LEGACY,
        headers={
            "Content-Type": "application/json",
            "intuit-signature": sign(LEGACY + b" ", TOKEN),
        },
    )
    assert response.status_code == 401
    assert await store.count(database) == 0


async def test_a_signed_malformed_body_is_400_logged_with_its_reason(
    http: httpx2.AsyncClient, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    body = b'{"eventNotifications":[{"realmId":"1","dataChangeEvent":{"entities":[{"name":"Customer","id":"1","operation":"Explode","lastUpdated":"secret-ish"}]}}]}'
    with caplog.at_level(logging.WARNING, logger="qb_mcp.webhooks.app"):
        response = await post_signed(http, URL, body)
    assert response.status_code == 400
    assert await store.count(database) == 0
    assert "operation is not one of" in caplog.text
    assert "secret-ish" not in caplog.text and "Explode" not in caplog.text


async def test_a_signed_unknown_body_is_400(http: httpx2.AsyncClient, database: Database) -> None:
    response = await post_signed(http, URL, b'{"hello": "world"}')
    assert response.status_code == 400
    assert "neither" in response.json()["error"]
    assert await store.count(database) == 0


async def test_a_delivery_with_one_bad_event_stores_none_of_it(
    http: httpx2.AsyncClient, database: Database
) -> None:
    good = json.loads(CLOUDEVENTS)[0]
    body = json.dumps([good, {**good, "id": "ce-2", "time": "not a time"}]).encode()
    assert (await post_signed(http, URL, body)).status_code == 400
    assert await store.count(database) == 0


async def test_a_declared_body_over_1_mib_is_413(
    http: httpx2.AsyncClient, database: Database
) -> None:
    body = b" " * (MAX_BODY + 1)
    response = await post_signed(http, URL, body)
    assert response.status_code == 413
    assert await store.count(database) == 0


async def test_a_body_of_exactly_1_mib_is_read(http: httpx2.AsyncClient) -> None:
    body = LEGACY + b" " * (MAX_BODY - len(LEGACY))
    assert (await post_signed(http, URL, body)).status_code == 200


async def test_wrong_methods_are_405(http: httpx2.AsyncClient) -> None:
    for method in ("GET", "PUT", "DELETE"):
        assert (await http.request(method, URL)).status_code == 405


async def test_a_non_json_content_type_is_415(http: httpx2.AsyncClient, database: Database) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", ""):
        response = await post_signed(http, URL, LEGACY, content_type=content_type)
        assert response.status_code == 415, content_type
    assert await store.count(database) == 0


async def test_healthz_answers_ok(http: httpx2.AsyncClient) -> None:
    response = await http.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_no_verifier_token_refuses_to_build_the_listener(database: Database) -> None:
    for token in (None, ""):
        with pytest.raises(ConfigError, match="QBO_WEBHOOK_VERIFIER_TOKEN"):
            webhook_routes(database=database, verifier_token=token)


async def test_a_broken_subscriber_does_not_undo_the_200(database: Database) -> None:
    async def broken(events: list[StoredEvent]) -> None:
        raise RuntimeError("subscriber bug")

    app = Starlette(
        routes=webhook_routes(database=database, verifier_token=TOKEN, on_stored=broken)
    )
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://l"
    ) as c:
        assert (await post_signed(c, URL, LEGACY)).status_code == 200
    assert await store.count(database) == 1


async def test_a_streamed_oversized_body_is_cut_off_before_it_is_all_read(
    database: Database,
) -> None:
    sent = 0
    chunk = b" " * 65536

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        while sent < 64 * MAX_BODY:
            sent += len(chunk)
            yield chunk

    app = webhook_app(database=database, verifier_token=TOKEN)
    async with serving(app) as url, httpx2.AsyncClient(base_url=url, timeout=10) as http:
        try:
            response = await http.post(
                URL,
                content=endless(),
                headers={"Content-Type": "application/json", "intuit-signature": sign(b"", TOKEN)},
            )
            status = response.status_code
        except httpx2.HTTPError:
            status = None  # the server may close the connection while we are still sending
    assert status in (413, None)
    assert sent < 64 * MAX_BODY
    assert await store.count(database) == 0
