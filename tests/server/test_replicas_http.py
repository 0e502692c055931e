"""Issue 13: two `qb-mcp serve --transport http` replicas on one PostgreSQL database, an external
`qb-mcp emulator` as QuickBooks, every request over real loopback HTTP.

The replicas share nothing but the database (each has its own QBO_HOME, so no lock file or
SQLite file can stand between them) and the token keys. What must hold:
- the same write sent to both at once makes one object;
- many writes spread over both while QuickBooks drops answers and fails requests: every one
  made exactly once (0 duplicates, 0 missing);
- 2 replicas x 20 tasks at once: QuickBooks never throttles (the budget is shared);
- a webhook delivered to replica A shows in replica B's `qbo://events/recent`.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from qb_mcp.emulator import DEMO_REALM_ID
from qb_mcp.webhooks.signature import SIGNATURE_HEADER, sign
from tests.pg_cluster import Cluster
from tests.ports import free_port
from tests.server.http_auth_support import client as bearer_client

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

VERIFIER = "verifier-token-for-the-replica-tests"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Deployment:
    emulator: str
    replicas: list[str]
    token: str

    def state(self) -> dict[str, Any]:
        return dict(httpx2.get(f"{self.emulator}/_emulator/state", timeout=10).json())

    def customers(self) -> int:
        [realm] = [r for r in self.state()["realms"] if r["realmId"] == DEMO_REALM_ID]
        return int(realm["counts"]["Customer"])

    def chaos(self, settings: dict[str, Any] | None) -> None:
        if settings is None:
            httpx2.delete(f"{self.emulator}/_emulator/chaos", timeout=10).raise_for_status()
        else:
            httpx2.post(
                f"{self.emulator}/_emulator/chaos", json=settings, timeout=10
            ).raise_for_status()


def _env(home: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBO_")}
    env["QBO_HOME"] = str(home)
    env.update(settings)
    return env


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "qb_mcp", *args],
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def _wait(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx2.get(url, timeout=1).raise_for_status()
            return
        except httpx2.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{url} did not come up: {log.read_text()[-2000:]}") from None
            time.sleep(0.05)


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "qb_mcp", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, postgres_cluster: Cluster
) -> Iterator[Deployment]:
    """One deployment for the module's tests (starting five processes is the slow part); each
    test sets the faults it needs and counts relative to what is there."""
    tmp_path = tmp_path_factory.mktemp("replicas")
    postgres_url = postgres_cluster.fresh_database()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        port = free_port()
        emulator = f"http://127.0.0.1:{port}"
        log = tmp_path / "emulator.log"
        processes.append(_spawn(["emulator", "--port", str(port)], _env(tmp_path / "emu"), log))
        _wait(f"{emulator}/_emulator/state", processes[-1], log)
        shared = {
            "QBO_ENVIRONMENT": "emulator",
            "QBO_API_BASE_URL": emulator,
            "QBO_OAUTH_BASE_URL": emulator,
            "QBO_CLIENT_ID": "replica-tests",
            "QBO_CLIENT_SECRET": "replica-tests-secret",
            "QBO_DATABASE_URL": postgres_url,
            "QBO_TOKEN_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "QBO_WEBHOOK_VERIFIER_TOKEN": VERIFIER,
        }
        admin = _env(tmp_path / "admin", **shared)
        _connect(emulator, admin)
        token = _run(["tokens", "add", "crm", "--scope", "write"], admin).strip()
        replicas = []
        for name in ("a", "b"):
            port = free_port()
            log = tmp_path / f"replica-{name}.log"
            processes.append(
                _spawn(
                    ["serve", "--transport", "http", "--port", str(port)],
                    _env(tmp_path / f"home-{name}", **shared),
                    log,
                )
            )
            _wait(f"http://127.0.0.1:{port}/healthz", processes[-1], log)
            replicas.append(f"http://127.0.0.1:{port}")
        yield Deployment(emulator=emulator, replicas=replicas, token=token)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        postgres_cluster.drop(postgres_url)


def _connect(emulator: str, env: dict[str, str]) -> None:
    """Store a connection to the emulator's demo company in the shared database, as `auth
    login` would: tokens the emulator issued, saved through the real token manager."""
    script = (
        "import asyncio, json, sys, time\n"
        "from qb_mcp.auth.intuit import TokenGrant\n"
        "from qb_mcp.auth.wiring import open_auth\n"
        "from qb_mcp.config import Settings\n"
        "issued = json.loads(sys.argv[1])\n"
        "async def main():\n"
        "    async with open_auth(Settings.from_env()) as auth:\n"
        "        await auth.manager.save_login(issued['realmId'], TokenGrant(\n"
        "            access_token=issued['access_token'], refresh_token=issued['refresh_token'],\n"
        "            expires_in=issued['expires_in'],\n"
        "            refresh_expires_in=issued['x_refresh_token_expires_in']),\n"
        "            received_at=time.time(), company_name='Replica tests')\n"
        "asyncio.run(main())\n"
    )
    issued = httpx2.post(f"{emulator}/_emulator/tokens", json={}, timeout=10).json()
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(issued)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def contact(n: int) -> dict[str, str]:
    return {
        "crm_id": f"replica-{n}",
        "display_name": f"Replica Customer {n}",
        "email": f"replica{n}@example.com",
    }


async def upsert(base: str, token: str, arguments: dict[str, str]) -> str | None:
    """The customer id the tool answered, or None when the call failed (a fault it gave up on)."""
    async with bearer_client(base, token) as mcp:
        result = await mcp.call_tool("upsert_customer", arguments)
    if result.is_error or result.structured_content is None:
        return None
    return str(result.structured_content["customer"]["id"])


async def test_the_same_write_sent_to_both_replicas_at_once_makes_one_object(
    deployment: Deployment,
) -> None:
    before = deployment.customers()
    # Slow QuickBooks, so the two calls are both in flight at once.
    deployment.chaos(None)
    deployment.chaos({"latency": 0.3})
    answers: list[str | None] = []

    async def one(base: str) -> None:
        answers.append(await upsert(base, deployment.token, contact(0)))

    async with anyio.create_task_group() as tasks:
        for base in deployment.replicas:
            tasks.start_soon(one, base)
    assert None not in answers and len(set(answers)) == 1
    assert deployment.customers() == before + 1


async def test_writes_spread_over_both_replicas_under_faults_are_each_made_once(
    deployment: Deployment,
) -> None:
    count = int(os.environ.get("QB_MCP_REPLICA_WRITES", "40"))  # the full size: 1000
    before = deployment.customers()
    deployment.chaos(None)
    deployment.chaos(
        {"drop": {"rate": 0.15}, "fail": {"status": 503, "rate": 0.1}, "latency": 0.02, "seed": 13}
    )
    ids: dict[int, str] = {}
    limit = anyio.Semaphore(8)

    async def one(n: int) -> None:
        async with limit:
            # A call the client gave up on is sent again, to the other replica: the retry of an
            # ambiguous write is where duplicates would come from.
            for attempt in range(6):
                base = deployment.replicas[(n + attempt) % 2]
                found = await upsert(base, deployment.token, contact(100 + n))
                if found is not None:
                    ids[n] = found
                    return

    async with anyio.create_task_group() as tasks:
        for n in range(count):
            tasks.start_soon(one, n)
    deployment.chaos(None)
    assert len(ids) == count  # 0 missing
    assert len(set(ids.values())) == count  # each its own object
    assert deployment.customers() == before + count  # 0 duplicates


async def test_two_replicas_with_20_tasks_each_are_never_throttled(
    deployment: Deployment,
) -> None:
    # Each request holds one of QuickBooks' 10 concurrent slots for 0.2 s: 40 callers through two
    # replicas that each kept their own 10 would put 20 in flight and be answered 429.
    deployment.chaos(None)
    deployment.chaos({"latency": 0.2})
    failures: list[str] = []

    async def one(base: str, n: int) -> None:
        async with bearer_client(base, deployment.token) as mcp:
            found = await mcp.call_tool("query", {"query": "SELECT * FROM Customer"})
            if found.is_error:
                failures.append(str(found.content))

    async with anyio.create_task_group() as tasks:
        for n in range(20):
            for base in deployment.replicas:
                tasks.start_soon(one, base, n)
    deployment.chaos(None)
    assert failures == []
    assert deployment.state()["limits"]["throttled"] == 0


async def test_a_webhook_delivered_to_one_replica_shows_in_the_others_events(
    deployment: Deployment,
) -> None:
    delivery = _webhook("58")
    first, second = deployment.replicas
    answer = httpx2.post(
        f"{first}/webhooks/intuit",
        content=delivery,
        headers={SIGNATURE_HEADER: sign(delivery, VERIFIER), "content-type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 200
    async with bearer_client(second, deployment.token) as mcp:
        read = await mcp.read_resource("qbo://events/recent")
    events = json.loads(read.contents[0].text)["events"]  # type: ignore[union-attr]
    # (Catch-up at start may have stored the seed company's changes too.)
    ours = [e for e in events if (e["entity"], e["entity_id"]) == ("Customer", "58")]
    assert [(e["operation"], e["source"]) for e in ours] == [("Update", "legacy")]


def _webhook(entity_id: str) -> bytes:
    return json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": DEMO_REALM_ID,
                    "dataChangeEvent": {
                        "entities": [
                            {
                                "name": "Customer",
                                "id": entity_id,
                                "operation": "Update",
                                "lastUpdated": "2026-11-25T01:00:00.000Z",
                            }
                        ]
                    },
                }
            ]
        }
    ).encode()


async def test_a_listener_on_one_replica_hears_of_a_webhook_delivered_to_the_other(
    deployment: Deployment,
) -> None:
    first, second = deployment.replicas
    delivery = _webhook("59")
    async with (
        bearer_client(second, deployment.token) as mcp,
        mcp.listen(resource_subscriptions=["qbo://events/recent"]) as subscription,
    ):
        answer = httpx2.post(
            f"{first}/webhooks/intuit",
            content=delivery,
            headers={
                SIGNATURE_HEADER: sign(delivery, VERIFIER),
                "content-type": "application/json",
            },
            timeout=10,
        )
        assert answer.status_code == 200
        # B polls only every second; NOTIFY makes it at once, but either proves the fan-out.
        with anyio.fail_after(10):
            update = await anext(subscription)
    assert update.uri == "qbo://events/recent"  # type: ignore[union-attr]


def test_a_legacy_client_needs_no_sticky_session(deployment: Deployment) -> None:
    """Stateless /mcp: no session id is handed out, so each request may go to any replica."""
    from tests.server.http_auth_support import INITIALIZE, MCP_HEADERS

    first, second = deployment.replicas
    headers = {**MCP_HEADERS, "authorization": f"Bearer {deployment.token}"}
    hello = httpx2.post(f"{first}/mcp", json=INITIALIZE, headers=headers, timeout=10)
    assert hello.status_code == 200 and "mcp-session-id" not in hello.headers
    listed = httpx2.post(
        f"{second}/mcp",
        json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        headers={**headers, "mcp-protocol-version": "2025-06-18"},
        timeout=10,
    )
    assert listed.status_code == 200
    assert "upsert_customer" in listed.text
