"""The webhook listener under load: signed deliveries over loopback, duplicates and forgeries mixed in.

Runs `qb-mcp webhooks` as its own process (uvicorn, the worker on, a fresh data folder) and sends
it N deliveries from C concurrent tasks over real loopback HTTP:
- unique deliveries, half legacy `eventNotifications` bodies and half CloudEvents arrays, one
  change each (a distinct customer id, so every one must be stored);
- 10% duplicate deliveries: half the exact bytes of an earlier delivery (Intuit's retry), half
  the same change re-encoded in the other format (the 2026 migration); sent soon after the
  original, so some race it;
- 5% with a bad signature (signed with another token), each carrying a change of its own that
  must never be stored.
Then it counts rows in the listener's database (SQLite, read directly):
lost = unique changes not stored, doubled = rows beyond one per change, bad_stored = rows of
forged deliveries. Latency is per delivery, from sending to the answer's arrival.

    .venv/bin/python bench/webhooks.py                  # N = 5000, concurrency 50
    .venv/bin/python bench/webhooks.py --n 20000 --concurrency 100

Last line: one JSON object `{"deliveries_per_s", "p50_ms", "p99_ms", "lost", "doubled",
"bad_stored"}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from qb_mcp.webhooks.signature import sign

TOKEN = "bench-verifier-token"
REALM = "9130355377388"
FORGED_REALM = "4620816365000000666"  # forged deliveries speak for this realm only
T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Delivery:
    body: bytes
    signature: str
    kind: str  # unique | duplicate | forged


@dataclass(frozen=True)
class Change:
    entity_id: str
    when: datetime
    cloudevents: bool


def legacy_body(change: Change, realm: str = REALM) -> bytes:
    local = change.when.astimezone(datetime.now().astimezone().tzinfo)
    stamp = local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}"
    stamp += local.strftime("%z")
    entity = {
        "name": "Customer",
        "id": change.entity_id,
        "operation": "Update",
        "lastUpdated": stamp,
    }
    payload = {
        "eventNotifications": [{"realmId": realm, "dataChangeEvent": {"entities": [entity]}}]
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def cloudevents_body(change: Change, realm: str = REALM) -> bytes:
    time_text = (
        change.when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{change.when.microsecond * 1000:09d}Z"
    )
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "intuit.bench",
        "type": "qbo.customer.updated.v1",
        "datacontenttype": "application/json",
        "time": time_text,
        "intuitentityid": change.entity_id,
        "intuitaccountid": realm,
        "data": {},
    }
    return json.dumps([event], separators=(",", ":")).encode()


def plan(n: int, seed: int) -> tuple[list[Delivery], int]:
    """The deliveries in sending order, and how many unique changes they carry."""
    rng = random.Random(seed)
    forged = n * 5 // 100
    duplicates = n * 10 // 100
    unique = n - forged - duplicates
    changes = [
        Change(str(1000 + i), T0 + timedelta(milliseconds=137 * i), i % 2 == 1)
        for i in range(unique)
    ]
    sent: list[Delivery] = []
    originals: list[tuple[Change, bytes]] = []
    for change in changes:
        body = cloudevents_body(change) if change.cloudevents else legacy_body(change)
        originals.append((change, body))
        sent.append(Delivery(body, sign(body, TOKEN), "unique"))
    # Duplicates go in shortly after their original (within ~2 concurrency windows), so some are
    # in flight at the same time as it.
    for d in range(duplicates):
        position = rng.randrange(len(originals))
        change, body = originals[position]
        if d % 2 == 0:
            again = body
        else:
            again = legacy_body(change) if change.cloudevents else cloudevents_body(change)
        index = min(len(sent), position + rng.randrange(1, 100) + d)
        sent.insert(index, Delivery(again, sign(again, TOKEN), "duplicate"))
    for f in range(forged):
        change = Change(str(900_000 + f), T0, f % 2 == 1)
        body = (
            cloudevents_body(change, FORGED_REALM)
            if change.cloudevents
            else legacy_body(change, FORGED_REALM)
        )
        sent.insert(
            rng.randrange(len(sent) + 1), Delivery(body, sign(body, "wrong-token"), "forged")
        )
    return sent, unique


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delivery: Delivery
) -> int:
    """One HTTP/1.1 POST on a kept-alive connection; returns the status code."""
    writer.write(
        b"POST /webhooks/intuit HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nintuit-signature: "
        + delivery.signature.encode()
        + b"\r\nContent-Length: "
        + str(len(delivery.body)).encode()
        + b"\r\n\r\n"
        + delivery.body
    )
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def send_all(
    port: int, deliveries: list[Delivery], concurrency: int
) -> tuple[float, list[float], dict[str, list[int]]]:
    """Send every delivery from `concurrency` kept-alive connections, one request at a time each.

    A minimal HTTP/1.1 client on asyncio streams, not httpx2: on a two-core machine httpx2's own
    CPU cost per request capped the run at about 790 deliveries/s against a listener that does
    nothing at all (measured), so it measured the client, not the listener.
    """
    latencies: list[float] = []
    statuses: dict[str, list[int]] = {"unique": [], "duplicate": [], "forged": []}
    queue = iter(deliveries)
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(concurrency)]

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for delivery in queue:
            started = time.perf_counter()
            status = await post(reader, writer, delivery)
            latencies.append(time.perf_counter() - started)
            statuses[delivery.kind].append(status)

    began = time.perf_counter()
    await asyncio.gather(*(worker(r, w) for r, w in connections))
    elapsed = time.perf_counter() - began
    for _, writer in connections:
        writer.close()
    return elapsed, latencies, statuses


def count(database: Path, unique: int) -> tuple[int, int, int, int]:
    """(lost, doubled, bad_stored, rows) from the listener's database."""
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT realm_id, entity_id, COUNT(*) FROM webhook_events GROUP BY realm_id, entity_id"
        ).fetchall()
        total = db.execute("SELECT COUNT(*) FROM webhook_events").fetchone()[0]
    expected = {str(1000 + i) for i in range(unique)}
    stored = {entity_id: n for realm, entity_id, n in rows if realm == REALM}
    lost = len(expected - stored.keys())
    doubled = sum(n - 1 for n in stored.values()) + len(stored.keys() - expected)
    bad = sum(n for realm, _, n in rows if realm == FORGED_REALM)
    return lost, doubled, bad, int(total)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--floor",
        action="store_true",
        help="send to bench/webhook_floor.py (signature check only) instead of the listener",
    )
    args = parser.parse_args()

    deliveries, unique = plan(args.n, args.seed)
    kinds = {k: sum(d.kind == k for d in deliveries) for k in ("unique", "duplicate", "forged")}
    print(
        f"{len(deliveries)} deliveries ({kinds['unique']} unique changes, {kinds['duplicate']} "
        f"duplicates, {kinds['forged']} forged) at concurrency {args.concurrency}"
    )
    with tempfile.TemporaryDirectory(prefix="qb-mcp-bench-") as tmp:
        home = Path(tmp) / "home"
        port = free_port()
        env = {
            **os.environ,
            "QBO_HOME": str(home),
            "QBO_WEBHOOK_VERIFIER_TOKEN": TOKEN,
            "QBO_LOG_LEVEL": "ERROR",  # 250 forged deliveries would otherwise log 250 warnings
        }
        command = (
            [sys.executable, str(Path(__file__).with_name("webhook_floor.py"))]
            if args.floor
            else [sys.executable, "-m", "qb_mcp", "webhooks"]
        )
        server = subprocess.Popen(
            [*command, "--port", str(port)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stderr is not None
            banner = server.stderr.readline()  # printed once the socket listens
            if "webhook listener at" not in banner:
                raise SystemExit(f"the listener did not start: {banner.strip()}")
            elapsed, latencies, statuses = asyncio.run(send_all(port, deliveries, args.concurrency))
        finally:
            server.terminate()
            server.wait(timeout=30)
        if args.floor:  # nothing is stored: only the answers are checked
            lost, doubled, bad, rows = 0, 0, 0, 0
        else:
            lost, doubled, bad, rows = count(home / "qb-mcp.sqlite3", unique)

    wrong = {
        kind: sum(s != want for s in statuses[kind])
        for kind, want in (("unique", 200), ("duplicate", 200), ("forged", 401))
    }
    rate = len(deliveries) / elapsed
    p50 = percentile(latencies, 50) * 1000
    p99 = percentile(latencies, 99) * 1000
    print(f"sent in {elapsed:.2f} s: {rate:.0f} deliveries/s")
    print(
        f"time to answer: p50 {p50:.1f} ms, p90 {percentile(latencies, 90) * 1000:.1f} ms, "
        f"p99 {p99:.1f} ms, max {max(latencies) * 1000:.1f} ms, mean "
        f"{statistics.fmean(latencies) * 1000:.1f} ms"
    )
    print(
        f"answers not as expected (unique/duplicate want 200, forged 401): "
        f"{wrong['unique']}/{wrong['duplicate']}/{wrong['forged']}"
    )
    print(
        f"database: {rows} rows for {unique} unique changes; lost {lost}, doubled {doubled}, "
        f"forged stored {bad}"
    )
    print(
        json.dumps(
            {
                "deliveries_per_s": round(rate, 1),
                "p50_ms": round(p50, 2),
                "p99_ms": round(p99, 2),
                "lost": lost,
                "doubled": doubled,
                "bad_stored": bad,
            }
        )
    )
    return 0 if not any(wrong.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
