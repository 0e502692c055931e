"""Forwarding stored events to the CRM (QBO_EVENTS_FORWARD_URL), against a real HTTP receiver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from qb_mcp.config import Settings
from qb_mcp.errors import ConfigError
from qb_mcp.store import open_database, outbox
from qb_mcp.store.db import Database
from qb_mcp.store.events import store_events
from qb_mcp.webhooks.events import Event
from qb_mcp.webhooks.forward import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    Forwarder,
    verify_event_signature,
)
from tests.webhooks.receiver import Receiver, running_receiver

pytestmark = pytest.mark.anyio

SECRET = "a-long-secret-the-crm-knows"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def change(entity_id: str, seconds: int, operation: str = "Update") -> Event:
    return Event(
        realm_id="9341453050298",
        entity="Customer",
        entity_id=entity_id,
        operation=operation,
        occurred_at=T0 + timedelta(seconds=seconds),
        source="cloudevents",
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
async def database(tmp_path: Path) -> object:
    opened = await open_database(tmp_path / "home" / "qb-mcp.sqlite3")
    yield opened
    await opened.close()


def forwarder(database: Database, receiver: Receiver, clock: Clock) -> Forwarder:
    return Forwarder(database, receiver.url, SECRET, clock=clock, retry_delays=(1.0, 5.0))


def bodies(receiver: Receiver) -> list[dict[str, object]]:
    return [json.loads(item.body) for item in receiver.received]


async def test_each_stored_event_is_posted_signed(database: Database, receiver: Receiver) -> None:
    stored = await store_events(database, [change("58", 0), change("59", 1)], now=1.0)
    sender = forwarder(database, receiver, Clock())
    report = await sender.run_once()
    await sender.aclose()
    assert (report.queued, report.delivered, report.failed) == (2, 2, 0)
    assert sorted(b["event_id"] for b in bodies(receiver)) == sorted(
        e.event_id for e in stored.stored
    )
    for item in receiver.received:
        assert verify_event_signature(item.body, item.headers[SIGNATURE_HEADER.lower()], SECRET)
        assert not verify_event_signature(item.body, item.headers[SIGNATURE_HEADER.lower()], "x")
        assert item.headers[EVENT_ID_HEADER.lower()] == json.loads(item.body)["event_id"]
        assert item.headers["content-type"] == "application/json"
    body = bodies(receiver)[0]
    assert {"event_id", "realm_id", "entity", "entity_id", "operation", "occurred_at"} <= set(body)
    assert "status" not in body


async def test_the_body_is_the_event_as_its_resource_shows_it(
    database: Database, receiver: Receiver
) -> None:
    [event] = (await store_events(database, [change("58", 0)], now=1.0)).stored
    sender = forwarder(database, receiver, Clock())
    await sender.run_once()
    await sender.aclose()
    shown = event.to_dict()
    del shown["status"]
    assert bodies(receiver) == [shown]


async def test_a_failing_receiver_gets_retries_with_backoff_until_a_2xx(
    database: Database, receiver: Receiver
) -> None:
    receiver.answers = [503, 500]
    await store_events(database, [change("58", 0)], now=1.0)
    clock = Clock()
    sender = forwarder(database, receiver, clock)
    assert (await sender.run_once()).failed == 1
    clock.now += 0.5
    assert (await sender.run_once()).delivered == 0  # not due yet: nothing sent
    assert len(receiver.received) == 1
    clock.now += 0.5
    assert (await sender.run_once()).failed == 1  # the second attempt, 1 s after the first
    clock.now += 4.9
    await sender.run_once()
    assert len(receiver.received) == 2  # the third waits 5 s
    clock.now += 0.1
    assert (await sender.run_once()).delivered == 1
    await sender.aclose()
    attempts = [item.headers["x-qb-mcp-delivery-attempt"] for item in receiver.received]
    assert attempts == ["1", "2", "3"]
    assert len({item.body for item in receiver.received}) == 1  # the same bytes each time
    status = await outbox.status(database)
    assert status.backlog == 0 and status.last_failure == "HTTP 500"


async def test_retry_after_from_the_receiver_is_honoured(
    database: Database, receiver: Receiver
) -> None:
    receiver.answers = [429]
    receiver.retry_after = "120"
    [event] = (await store_events(database, [change("58", 0)], now=1.0)).stored
    clock = Clock()
    sender = forwarder(database, receiver, clock)
    await sender.run_once()
    await sender.aclose()
    row = await outbox.get(database, event.event_id)
    assert row is not None and row.next_attempt_at == clock.now + 120


async def test_one_object_in_order_while_others_go_on(
    database: Database, receiver: Receiver
) -> None:
    receiver.answers = [503]  # the first delivery fails
    first = (await store_events(database, [change("58", 0, "Create")], now=1.0)).stored
    later = (
        await store_events(database, [change("58", 5), change("77", 6, "Create")], now=2.0)
    ).stored
    clock = Clock()
    sender = forwarder(database, receiver, clock)
    await sender.run_once()
    assert [b["entity_id"] for b in bodies(receiver)] == ["58", "77"]  # 58's update waits
    clock.now += 1.0
    await sender.run_once()
    await sender.aclose()
    sent = [(b["entity_id"], b["event_id"]) for b in bodies(receiver)]
    assert sent[2:] == [("58", first[0].event_id), ("58", later[0].event_id)]


async def test_events_stored_by_another_process_are_forwarded_once(
    database: Database, receiver: Receiver, tmp_path: Path
) -> None:
    other = await open_database(tmp_path / "home" / "qb-mcp.sqlite3")
    await store_events(other, [change("58", 0)], now=1.0)
    await other.close()
    sender = forwarder(database, receiver, Clock())
    await sender.run_once()
    await sender.run_once()
    second = Forwarder(database, receiver.url, SECRET, clock=Clock())
    assert (await second.run_once()).queued == 0  # the cursor is shared
    await sender.aclose()
    await second.aclose()
    assert len(receiver.received) == 1


async def test_an_unreachable_receiver_is_a_failure_not_a_crash(database: Database) -> None:
    await store_events(database, [change("58", 0)], now=1.0)
    sender = Forwarder(database, "http://127.0.0.1:9/nothing-listens", SECRET, clock=Clock())
    report = await sender.run_once()
    await sender.aclose()
    assert report.failed == 1
    status = await outbox.status(database)
    assert status.backlog == 1 and (status.last_failure or "").startswith("no answer")


# ---- processes that die ---------------------------------------------------------------------------

FORWARDING_PROCESS = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import anyio

    from qb_mcp.store import open_database
    from qb_mcp.webhooks.forward import Forwarder


    async def main() -> None:
        database = await open_database(Path(sys.argv[1]))
        forwarder = Forwarder(
            database, sys.argv[2], sys.argv[3], retry_delays=(0.05,), poll_interval=0.05
        )
        await forwarder.run()


    anyio.run(main)
    """
)


def start_forwarding_process(path: Path, receiver: Receiver) -> subprocess.Popen[bytes]:
    root = Path(__file__).resolve().parents[2]
    return subprocess.Popen(
        [sys.executable, "-c", FORWARDING_PROCESS, str(path), receiver.url, SECRET],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


async def test_deliveries_pending_when_the_process_died_are_sent_after_restart(
    database: Database, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.answers = [503] * 1000  # the CRM is down while the first process runs
    stored = (
        await store_events(database, [change("58", 0), change("58", 3), change("90", 4)], now=1.0)
    ).stored
    process = start_forwarding_process(tmp_path / "home" / "qb-mcp.sqlite3", receiver)
    try:
        receiver.wait_for(3)  # it is retrying
    finally:
        kill(process)
    assert (await outbox.status(database)).backlog == 3
    receiver.answers.clear()  # the CRM is back
    before = len(receiver.received)
    # The new process starts after the dead one's leases (60 s) ran out: its clock is ahead.
    sender = Forwarder(database, receiver.url, SECRET, clock=Clock(time.time() + 120))
    report = await sender.run_once()
    await sender.aclose()
    assert report.delivered == 3
    after = [json.loads(item.body)["event_id"] for item in receiver.received[before:]]
    assert sorted(after) == sorted(e.event_id for e in stored)
    assert after.index(stored[0].event_id) < after.index(stored[1].event_id)  # in order
    assert (await outbox.status(database)).backlog == 0


async def test_a_delivery_cut_short_by_a_crash_comes_again_with_the_same_event_id(
    database: Database, receiver: Receiver, tmp_path: Path
) -> None:
    [event] = (await store_events(database, [change("58", 0)], now=1.0)).stored
    receiver.hold.clear()  # the CRM takes the request, then the sender dies before the answer
    process = start_forwarding_process(tmp_path / "home" / "qb-mcp.sqlite3", receiver)
    try:
        receiver.wait_for(1)
    finally:
        kill(process)
    receiver.hold.set()
    sender = Forwarder(database, receiver.url, SECRET, clock=Clock(time.time() + 120))
    await sender.run_once()
    await sender.aclose()
    first, again = receiver.received
    assert first.body == again.body  # a duplicate the CRM drops by its event id
    assert first.headers[EVENT_ID_HEADER.lower()] == again.headers[EVENT_ID_HEADER.lower()]
    assert again.headers[EVENT_ID_HEADER.lower()] == event.event_id
    assert verify_event_signature(again.body, again.headers[SIGNATURE_HEADER.lower()], SECRET)


# ---- settings -----------------------------------------------------------------------------------


def test_the_url_needs_a_secret() -> None:
    with pytest.raises(ConfigError, match="QBO_EVENTS_FORWARD_SECRET"):
        Settings.from_env({"QBO_EVENTS_FORWARD_URL": "https://crm.example/qb"})
    with pytest.raises(ConfigError, match="QBO_EVENTS_FORWARD_URL"):
        Settings.from_env(
            {"QBO_EVENTS_FORWARD_URL": "crm.example/qb", "QBO_EVENTS_FORWARD_SECRET": SECRET}
        )
    with pytest.raises(ConfigError, match="at least 16"):
        Settings.from_env(
            {
                "QBO_EVENTS_FORWARD_URL": "https://crm.example/qb",
                "QBO_EVENTS_FORWARD_SECRET": "short",
            }
        )
    settings = Settings.from_env(
        {"QBO_EVENTS_FORWARD_URL": "https://crm.example/qb", "QBO_EVENTS_FORWARD_SECRET": SECRET}
    )
    assert settings.events_forward_url == "https://crm.example/qb"
    assert SECRET not in repr(settings)


# ---- where it runs, and what doctor says -----------------------------------------------------------


async def test_serve_forwards_what_catch_up_stores(tmp_path: Path, receiver: Receiver) -> None:
    from mcp import Client

    from qb_mcp.emulator import Emulator
    from qb_mcp.qbo.limiter import Limits, RealmLimiter
    from qb_mcp.server import build_server

    settings = Settings(
        home=tmp_path / "home",
        environment="emulator",
        events_forward_url=receiver.url,
        events_forward_secret=SECRET,
    )
    limiter = RealmLimiter(Limits(requests_per_window=100_000, window_seconds=1.0))
    server = build_server(settings, emulator=Emulator(), limiter=limiter)
    async with Client(server) as client:  # type: ignore[arg-type]
        result = await client.call_tool("recent_changes", {"catch_up": True, "limit": 500})
        assert not result.is_error
        stored = result.structured_content["caught_up"]["new_events"]  # type: ignore[index]
        assert stored > 0
        await anyio.to_thread.run_sync(receiver.wait_for, stored)
    assert {json.loads(item.body)["entity"] for item in receiver.received} >= {"Customer"}


async def test_doctor_reports_the_backlog_and_the_last_failure(
    database: Database, tmp_path: Path
) -> None:
    from qb_mcp.doctor import diagnose

    await store_events(database, [change("58", 0)], now=1.0)
    sender = Forwarder(database, "http://127.0.0.1:9/down", SECRET, clock=Clock(time.time()))
    await sender.run_once()
    await sender.aclose()
    settings = Settings(
        home=tmp_path / "home",
        environment="emulator",
        events_forward_url="https://user:pw@crm.example/qb?token=x",
        events_forward_secret=SECRET,
    )
    [check] = [c for c in await diagnose(settings, offline=True) if c.name == "events forwarding"]
    assert check.status == "WARN"
    assert "1 event(s) waiting" in check.message and "no answer" in check.message
    assert "https://crm.example/qb;" in check.message and "pw" not in check.message
    off = Settings(home=tmp_path / "home", environment="emulator")
    [check] = [c for c in await diagnose(off, offline=True) if c.name == "events forwarding"]
    assert check.status == "OK" and "off" in check.message


async def test_qb_mcp_webhooks_forwards_what_intuit_sends(
    tmp_path: Path, receiver: Receiver
) -> None:
    """End to end: Intuit's signed notification into `qb-mcp webhooks`, out to the CRM."""
    import httpx2

    from tests.ports import free_port
    from tests.webhooks.conftest import TOKEN, post_signed

    port = free_port()
    env = {
        **os.environ,
        "QBO_HOME": str(tmp_path / "home"),
        "QBO_WEBHOOK_VERIFIER_TOKEN": TOKEN,
        "QBO_EVENTS_FORWARD_URL": receiver.url,
        "QBO_EVENTS_FORWARD_SECRET": SECRET,
    }
    process = await anyio.open_process(
        [sys.executable, "-m", "qb_mcp", "webhooks", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        banner = b""
        while b"webhook listener at" not in banner:
            banner += await process.stderr.receive()
        body = (
            b'{"eventNotifications":[{"realmId":"1185883450","dataChangeEvent":{"entities":'
            b'[{"name":"Invoice","id":"130","operation":"Void",'
            b'"lastUpdated":"2026-01-15T04:00:00.123-0800"}]}}]}'
        )
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            assert (await post_signed(http, "/webhooks/intuit", body)).status_code == 200
        await anyio.to_thread.run_sync(receiver.wait_for, 1)
    finally:
        process.terminate()
        await process.wait()
    [delivery] = receiver.received
    event = json.loads(delivery.body)
    assert (event["entity"], event["entity_id"], event["operation"]) == ("Invoice", "130", "Void")
    assert event["realm_id"] == "1185883450"
    assert verify_event_signature(delivery.body, delivery.headers["x-qb-mcp-signature"], SECRET)
