"""The emulator's webhook sender, delivering to a real (tiny) Starlette receiver."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import anyio
import httpx2
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from qb_mcp.emulator.changes import ChangeEvent
from qb_mcp.emulator.webhooks import RETRY_DELAYS, WebhookSender, retry_delays, sign

pytestmark = pytest.mark.anyio

TOKEN = "verifier-token-for-tests"
PACIFIC = timezone(timedelta(hours=-8))
WHEN = datetime(2026, 11, 24, 10, 30, 15, 123456, tzinfo=PACIFIC)


@dataclass
class Receiver:
    """Records every delivery; answers the queued statuses first, then 200."""

    answers: list[int] = field(default_factory=list)
    hang: bool = False
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: anyio.Event = field(default_factory=anyio.Event)

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        self.received.append((dict(request.headers), body))
        self.arrived.set()
        if self.hang:
            self.hang = False
            await anyio.sleep_forever()
        status = self.answers.pop(0) if self.answers else 200
        return Response(status_code=status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    def verified(self, index: int) -> bool:
        headers, body = self.received[index]
        mac = hmac.new(TOKEN.encode(), body, hashlib.sha256).digest()
        return hmac.compare_digest(base64.b64encode(mac).decode(), headers["intuit-signature"])

    def json(self, index: int) -> object:
        return json.loads(self.received[index][1])


def event(
    entity_id: str = "1", *, realm: str = "123", op: str = "Create", **kw: str
) -> ChangeEvent:
    return ChangeEvent(realm, kw.get("entity", "Customer"), entity_id, op, WHEN, kw.get("deleted"))  # type: ignore[arg-type]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


def make_sender(receiver: Receiver, **kw: object) -> WebhookSender:
    options: dict[str, object] = {"retry_scale": 0.0001, "clock": lambda: 1_800_000_000.0}
    options.update(kw)
    return WebhookSender(
        url="http://receiver/hook",
        verifier_token=TOKEN,
        transport=httpx2.ASGITransport(app=receiver.app()),
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
async def legacy(receiver: Receiver) -> AsyncIterator[WebhookSender]:
    sender = make_sender(receiver)
    await sender.start()
    yield sender
    await sender.stop()


@pytest.fixture
async def cloud(receiver: Receiver) -> AsyncIterator[WebhookSender]:
    sender = make_sender(receiver, format="cloudevents")
    await sender.start()
    yield sender
    await sender.stop()


async def drained(sender: WebhookSender) -> None:
    with anyio.fail_after(5):
        await sender.drained()


# ---- signing --------------------------------------------------------------------------------


def test_signature_matches_intuits_test_vector(samples_dir: Path) -> None:
    raw = (samples_dir / "webhook-legacy-signed.raw-body.txt").read_bytes()
    expected = "JC2GUwciPmRBwEO7WvrRmKqu9tGOKL8FFallocTFi8Q="
    assert sign(raw, "b5771f19b12ddb4bcdb9f08bdc50bc63878a") == expected


def test_legacy_body_has_the_shape_of_intuits_signed_sample(samples_dir: Path) -> None:
    raw = json.loads((samples_dir / "webhook-legacy-signed.raw-body.txt").read_bytes())
    sender = WebhookSender(url="http://r/hook", verifier_token=TOKEN)
    ours = json.loads(sender._encode([sender_queued(event())]))
    note, theirs = ours["eventNotifications"][0], raw["eventNotifications"][0]
    assert note.keys() == theirs.keys()
    assert note["dataChangeEvent"].keys() == theirs["dataChangeEvent"].keys()
    assert (
        note["dataChangeEvent"]["entities"][0].keys()
        == theirs["dataChangeEvent"]["entities"][0].keys()
    )


def sender_queued(e: ChangeEvent) -> object:
    from qb_mcp.emulator.webhooks import _Queued

    return _Queued(e, "id-1")


# ---- legacy format --------------------------------------------------------------------------


async def test_legacy_notification_is_signed_and_shaped_like_intuits(
    legacy: WebhookSender, receiver: Receiver
) -> None:
    legacy.notify(event("7"))
    await drained(legacy)
    headers, _ = receiver.received[0]
    assert receiver.verified(0)
    assert headers["content-type"] == "application/json"
    assert receiver.json(0) == {
        "eventNotifications": [
            {
                "realmId": "123",
                "dataChangeEvent": {
                    "entities": [
                        {
                            "name": "Customer",
                            "id": "7",
                            "operation": "Create",
                            "lastUpdated": "2026-11-24T10:30:15.123-0800",
                        }
                    ]
                },
            }
        ]
    }


async def test_events_queued_together_go_out_grouped_by_realm(
    legacy: WebhookSender, receiver: Receiver
) -> None:
    legacy.notify(event("1", realm="111"))
    legacy.notify(event("2", realm="222", entity="Invoice"))
    legacy.notify(event("3", realm="111", op="Update"))
    await drained(legacy)
    assert len(receiver.received) == 1
    notes = receiver.json(0)["eventNotifications"]  # type: ignore[index]
    assert [n["realmId"] for n in notes] == ["111", "222"]
    assert [e["id"] for e in notes[0]["dataChangeEvent"]["entities"]] == ["1", "3"]


async def test_legacy_merge_carries_deleted_id(legacy: WebhookSender, receiver: Receiver) -> None:
    legacy.notify(event("5", op="Merge", deleted="9"))
    await drained(legacy)
    entity = receiver.json(0)["eventNotifications"][0]["dataChangeEvent"]["entities"][0]  # type: ignore[index]
    assert entity["operation"] == "Merge"
    assert entity["deletedId"] == "9"


# ---- CloudEvents format ---------------------------------------------------------------------


async def test_cloudevents_are_an_array_with_intuits_keys(
    cloud: WebhookSender, receiver: Receiver
) -> None:
    cloud.notify(event("7"))
    cloud.notify(event("8", entity="Invoice", op="Void"))
    await drained(cloud)
    events = receiver.json(0)
    assert receiver.verified(0)
    assert isinstance(events, list)
    first = events[0]
    assert list(first) == [
        "specversion",
        "id",
        "source",
        "type",
        "datacontenttype",
        "time",
        "intuitentityid",
        "intuitaccountid",
        "data",
    ]
    assert first["specversion"] == "1.0"
    assert first["type"] == "qbo.customer.created.v1"
    assert events[1]["type"] == "qbo.invoice.voided.v1"
    assert first["intuitentityid"] == "7"
    assert first["intuitaccountid"] == "123"
    assert first["datacontenttype"] == "application/json"
    assert first["time"] == "2026-11-24T18:30:15.123456000Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", first["time"])
    assert first["source"].startswith("intuit.")
    assert first["data"] == {}
    assert first["id"] != events[1]["id"]


@pytest.mark.parametrize(
    ("op", "verb"),
    [("Create", "created"), ("Update", "updated"), ("Delete", "deleted"), ("Merge", "merged")],
)
async def test_cloudevent_type_names_the_operation(
    cloud: WebhookSender, receiver: Receiver, op: str, verb: str
) -> None:
    cloud.notify(event("1", op=op, entity="Estimate", deleted="2"))
    await drained(cloud)
    assert receiver.json(0)[0]["type"] == f"qbo.estimate.{verb}.v1"  # type: ignore[index]


async def test_cloudevent_merge_names_the_merged_away_id(
    cloud: WebhookSender, receiver: Receiver
) -> None:
    cloud.notify(event("5", op="Merge", deleted="9"))
    await drained(cloud)
    assert receiver.json(0)[0]["data"] == {"deletedId": "9"}  # type: ignore[index]


# ---- retries and order ----------------------------------------------------------------------


def test_retry_schedule_is_intuits() -> None:
    delays = retry_delays()
    first = [next(delays) for _ in range(12)]
    assert first == [0, 10, 20, 30, 300, 1200, 7200, 14400, 21600, 21600, 21600, 21600]
    assert RETRY_DELAYS[0] == 0


async def test_failed_delivery_is_retried_with_the_same_body(
    cloud: WebhookSender, receiver: Receiver
) -> None:
    receiver.answers = [500, 503, 404]
    cloud.notify(event("1"))
    await drained(cloud)
    assert [d.status for d in cloud.deliveries] == [500, 503, 404, 200]
    assert [d.attempt for d in cloud.deliveries] == [1, 2, 3, 4]
    assert len({body for _, body in receiver.received}) == 1  # same bytes, same event id
    assert cloud.deliveries[-1].ok
    assert not cloud.deliveries[0].ok


async def test_retries_wait_the_scaled_schedule(receiver: Receiver) -> None:
    sender = make_sender(receiver, retry_scale=0.002)
    receiver.answers = [500, 500, 500, 500]
    await sender.start()
    started = time.monotonic()
    sender.notify(event())
    await drained(sender)
    elapsed = time.monotonic() - started
    await sender.stop()
    # Delays before retries 2..4: 0 + 10 + 20 + 30 s, scaled by 0.002.
    assert elapsed >= 0.12
    assert len(receiver.received) == 5


async def test_later_events_wait_behind_a_failing_one(
    legacy: WebhookSender, receiver: Receiver
) -> None:
    receiver.answers = [500, 500]
    legacy.notify(event("1"))
    await anyio.wait_all_tasks_blocked()
    legacy.notify(event("2"))
    await drained(legacy)
    ids = [
        json.loads(body)["eventNotifications"][0]["dataChangeEvent"]["entities"][0]["id"]
        for _, body in receiver.received
    ]
    assert ids == ["1", "1", "1", "2"]


async def test_timeout_counts_as_a_failure(receiver: Receiver) -> None:
    sender = make_sender(receiver, timeout=0.05)
    receiver.hang = True
    await sender.start()
    sender.notify(event())
    await drained(sender)
    await sender.stop()
    assert sender.deliveries[0].status is None
    assert "timeout" in (sender.deliveries[0].error or "")
    assert sender.deliveries[1].status == 200


async def test_connection_error_counts_as_a_failure() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sender = WebhookSender(
        url=f"http://127.0.0.1:{port}/hook", verifier_token=TOKEN, retry_scale=0.0001
    )
    await sender.start()
    sender.notify(event())
    with anyio.fail_after(5):
        await sender.wait_for_attempts(2)
    await sender.stop(drain_timeout=0)
    assert sender.deliveries[0].status is None
    assert "Connect" in (sender.deliveries[0].error or "")


async def test_a_receiver_crash_counts_as_a_failure() -> None:
    calls: list[int] = []

    async def boom(request: Request) -> Response:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("receiver bug")
        return Response()

    app = Starlette(routes=[Route("/hook", boom, methods=["POST"])])
    sender = WebhookSender(
        url="http://r/hook",
        verifier_token=TOKEN,
        retry_scale=0.0001,
        transport=httpx2.ASGITransport(app=app, raise_app_exceptions=False),
    )
    await sender.start()
    sender.notify(event())
    await drained(sender)
    await sender.stop()
    assert [d.status for d in sender.deliveries] == [500, 200]


# ---- lifecycle ------------------------------------------------------------------------------


async def test_events_queued_before_start_are_delivered(receiver: Receiver) -> None:
    sender = make_sender(receiver)
    sender.notify(event("1"))
    await sender.start()
    await drained(sender)
    await sender.stop()
    assert len(receiver.received) == 1


async def test_notify_from_another_thread_is_delivered(
    legacy: WebhookSender, receiver: Receiver
) -> None:
    thread = threading.Thread(target=legacy.notify, args=(event("42"),))
    thread.start()
    thread.join()
    with anyio.fail_after(5):
        await receiver.arrived.wait()
    await drained(legacy)
    assert receiver.verified(0)


async def test_notify_never_raises_even_for_a_broken_event(
    legacy: WebhookSender, receiver: Receiver
) -> None:
    legacy.notify(event("1", op="Exploded"))  # not an operation QBO has
    legacy.notify(event("2"))
    await drained(legacy)
    # The broken event is dropped (and logged); it does not wedge the queue.
    assert receiver.json(0)["eventNotifications"][0]["dataChangeEvent"]["entities"][1]["id"] == "2"  # type: ignore[index]


async def test_stop_cancels_endless_retries_promptly(receiver: Receiver) -> None:
    sender = make_sender(receiver, retry_scale=1.0)
    receiver.answers = [500] * 100
    await sender.start()
    sender.notify(event())
    with anyio.fail_after(5):
        await sender.wait_for_attempts(1)
    started = time.monotonic()
    await sender.stop(drain_timeout=0.05)
    assert time.monotonic() - started < 1
    assert len(receiver.received) <= 2  # the immediate first retry, nothing after 10 s


async def test_deliveries_record_time_from_the_clock(receiver: Receiver) -> None:
    sender = make_sender(receiver, clock=lambda: 1_700_000_000.5)
    await sender.start()
    sender.notify(event())
    await drained(sender)
    await sender.stop()
    assert sender.deliveries[0].time == datetime.fromtimestamp(1_700_000_000.5, UTC)


@pytest.mark.parametrize(
    "kw",
    [
        {"url": "not a url"},
        {"url": "ftp://host/x"},
        {"verifier_token": ""},
        {"format": "xml"},
        {"retry_scale": -1},
        {"timeout": 0},
    ],
)
def test_bad_configuration_is_refused(kw: dict[str, object]) -> None:
    options: dict[str, object] = {"url": "http://r/hook", "verifier_token": TOKEN}
    options.update(kw)
    with pytest.raises(ValueError):
        WebhookSender(**options)  # type: ignore[arg-type]


# ---- real loopback --------------------------------------------------------------------------


async def test_delivery_over_real_loopback_http(receiver: Receiver) -> None:
    # A socket bound and listening before uvicorn starts: connections wait in its backlog, so
    # the test need not poll for the server to come up.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(receiver.app(), log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        sender = WebhookSender(url=f"http://127.0.0.1:{port}/hook", verifier_token=TOKEN)
        await sender.start()
        sender.notify(event("11"))
        await drained(sender)
        await sender.stop()
    finally:
        server.should_exit = True
        await task
        sock.close()
    assert sender.deliveries[0].status == 200
    assert receiver.verified(0)
