"""`qb-mcp serve` and `qb-mcp demo` as real processes, and the MCP Inspector as an outside client."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters

from tests.ports import free_port
from tests.server.conftest import effective_hints
from tests.server.http_auth_support import client as bearer_client
from tests.server.test_tools import CONTACT, TOOLS

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

# The Inspector version CI installs (see the report: .ci/run).
INSPECTOR = "@modelcontextprotocol/inspector@0.15.0"
VERIFIER = "test-verifier-token"


def _env(home: Path) -> dict[str, str]:
    """The parent's environment without any QBO_* setting, with QBO_HOME set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBO_")}
    env["QBO_HOME"] = str(home)
    return env


async def test_quote_to_cash_through_a_serve_subprocess_on_stdio(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "qb_mcp", "serve"], env=_env(tmp_path / "home")
    )
    async with Client(params) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        customer = (await client.call_tool("upsert_customer", CONTACT)).structured_content
        assert customer is not None
        customer_id = customer["customer"]["id"]
        estimate = (
            await client.call_tool(
                "create_estimate",
                {
                    "customer_id": customer_id,
                    "lines": [{"item_name": "Design", "quantity": 2, "unit_price": "75.00"}],
                },
            )
        ).structured_content
        assert estimate is not None
        converted = (
            await client.call_tool("convert_estimate", {"estimate_id": estimate["id"]})
        ).structured_content
        assert converted is not None
        invoice_id = converted["invoice"]["id"]
        paid = await client.call_tool(
            "record_payment",
            {"customer_id": customer_id, "amount": "150.00", "invoice_ids": [invoice_id]},
        )
    assert names == TOOLS
    assert estimate["total"] == "150.00"
    assert not paid.is_error
    assert paid.structured_content["applied"][0]["remaining_balance"] == "0.00"  # type: ignore[index]
    assert (tmp_path / "home" / "emulator-state.json").exists()


def test_a_bad_setting_is_one_line_on_stderr(tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    env["QBO_REALM_ID"] = "123"
    done = subprocess.run(
        [sys.executable, "-m", "qb_mcp", "serve"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "qb-mcp: QBO_REALM_ID=123 is not a connected company (connected: none); run "
        "`qb-mcp auth login` to connect it, or unset QBO_REALM_ID"
    ]


async def test_serve_over_streamable_http_with_healthz_and_webhooks(tmp_path: Path) -> None:
    from qb_mcp.emulator import DEMO_REALM_ID
    from qb_mcp.webhooks.signature import SIGNATURE_HEADER, sign

    port = free_port()
    token = _add_token(tmp_path / "home", "e2e", "write")
    process = _spawn_http(tmp_path / "home", port, verifier_token=VERIFIER)
    base = f"http://127.0.0.1:{port}"
    delivery = json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": DEMO_REALM_ID,
                    "dataChangeEvent": {
                        "entities": [
                            {
                                "name": "Customer",
                                "id": "7",
                                "operation": "Update",
                                "lastUpdated": "2026-11-24T01:00:00.000Z",
                            }
                        ]
                    },
                }
            ]
        }
    ).encode()
    try:
        health = _wait_for_health(f"{base}/healthz", process)
        forged = httpx2.post(
            f"{base}/webhooks/intuit",
            content=delivery,
            headers={SIGNATURE_HEADER: "bad", "content-type": "application/json"},
        )
        signed = httpx2.post(
            f"{base}/webhooks/intuit",
            content=delivery,
            headers={
                SIGNATURE_HEADER: sign(delivery, VERIFIER),
                "content-type": "application/json",
            },
        )
        refused = httpx2.post(f"{base}/mcp", json={}, headers={"accept": "application/json"})
        async with bearer_client(base, token) as mcp:
            names = {tool.name for tool in (await mcp.list_tools()).tools}
            found = await mcp.call_tool("find_customer", {"name": "Amy"})
            read = await mcp.read_resource("qbo://events/recent")
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stderr is not None
        process.stderr.close()
    assert health["status"] == "ok"
    assert refused.status_code == 401  # /mcp wants the token; /healthz and webhooks do not
    assert names == TOOLS
    assert not found.is_error
    assert forged.status_code == 401
    assert signed.status_code == 200
    events = json.loads(read.contents[0].text)["events"]  # type: ignore[union-attr]
    assert [(e["entity"], e["entity_id"], e["operation"]) for e in events] == [
        ("Customer", "7", "Update")
    ]


def _add_token(home: Path, name: str, scope: str) -> str:
    """`qb-mcp tokens add` as a process: the token is its whole stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "qb_mcp", "tokens", "add", name, "--scope", scope],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def _spawn_http(
    home: Path, port: int, *args: str, verifier_token: str | None = None
) -> subprocess.Popen[bytes]:
    env = _env(home)
    if verifier_token is not None:
        env["QBO_WEBHOOK_VERIFIER_TOKEN"] = verifier_token
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "qb_mcp", "serve", "--transport", "http"),
            *("--port", str(port), *args),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_for_health(url: str, process: subprocess.Popen[bytes]) -> dict[str, str]:
    # A server process has no readiness signal but its port: poll it, bounded by a deadline.
    deadline = time.monotonic() + 20
    while True:
        try:
            answer = httpx2.get(url, timeout=1)
            return dict(answer.json())
        except httpx2.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_demo_runs_the_walkthrough_and_exits_0(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "qb_mcp", "demo"],
        env=_env(tmp_path / "untouched"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for tool in (
        "find_customer",
        "upsert_customer",
        "create_estimate",
        "convert_estimate",
        "record_payment",
        "void_transaction",
        "report",
        "explain_fault",
    ):
        assert f"-> {tool} " in done.stdout
    assert "tool error: " in done.stdout and "4001" in done.stdout
    # The demo uses a temporary home: the user's stays untouched.
    assert not (tmp_path / "untouched").exists()


def _inspector(tmp_path: Path, *args: str) -> dict[str, object]:
    npx = shutil.which("npx")
    if npx is None:
        if os.environ.get("CI"):
            pytest.fail("npx is not installed: CI must run the MCP Inspector check (.ci/run)")
        pytest.skip("npx is not installed: the MCP Inspector check needs Node")
    command = [npx, "--yes", INSPECTOR, "--cli", sys.executable, "-m", "qb_mcp", "serve", *args]
    done = subprocess.run(
        command,
        env=_env(tmp_path / "home"),
        cwd=os.environ.get("QB_MCP_NODE_PREFIX") or None,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout))


def test_the_mcp_inspector_lists_the_tools_with_annotations_and_output_schemas(
    tmp_path: Path,
) -> None:
    listed = _inspector(tmp_path, "--method", "tools/list")
    tools = {tool["name"]: tool for tool in listed["tools"]}  # type: ignore[attr-defined]
    assert set(tools) == TOOLS
    for tool in tools.values():
        hints = effective_hints(tool["annotations"])
        assert hints["readOnlyHint"] or {"destructiveHint", "idempotentHint"} <= set(
            tool["annotations"]
        )
        assert tool["outputSchema"]["type"] == "object"


def test_the_mcp_inspector_calls_find_customer(tmp_path: Path) -> None:
    called = _inspector(
        tmp_path,
        "--method",
        "tools/call",
        "--tool-name",
        "find_customer",
        "--tool-arg",
        "name=Amy",
    )
    assert called.get("isError") in (None, False)
    matches = called["structuredContent"]["matches"]  # type: ignore[index]
    assert matches[0]["display_name"] == "Amy's Bird Sanctuary"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        # Neither tokens nor an issuer: refused, naming both ways.
        ((), ("qb-mcp tokens add NAME", "QBO_AUTH_ISSUER")),
        (("--no-auth", "--host", "0.0.0.0"), ("--no-auth is only for development",)),
        (("--allowed-hosts", "https://mcp.example.com"), ("--allowed-hosts",)),
    ],
)
def test_serve_over_http_refuses_to_start_unauthenticated(
    tmp_path: Path, args: tuple[str, ...], says: tuple[str, ...]
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "qb_mcp", "serve", "--transport", "http", "--port", "1", *args],
        env=_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert all(part in done.stderr for part in says), done.stderr


async def test_serve_with_no_auth_on_loopback_warns_and_serves(tmp_path: Path) -> None:
    port = free_port()
    process = _spawn_http(tmp_path / "home", port, "--no-auth")
    try:
        _wait_for_health(f"http://127.0.0.1:{port}/healthz", process)
        async with Client(f"http://127.0.0.1:{port}/mcp") as mcp:
            names = {tool.name for tool in (await mcp.list_tools()).tools}
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stderr is not None
        stderr = process.stderr.read().decode()
        process.stderr.close()
    assert names == TOOLS
    assert "WARNING: --no-auth" in stderr


async def test_serve_on_every_address_keeps_the_host_check_on(tmp_path: Path) -> None:
    port = free_port()
    token = _add_token(tmp_path / "home", "lan", "read")
    process = _spawn_http(tmp_path / "home", port, "--host", "0.0.0.0")
    url = f"http://127.0.0.1:{port}/mcp"
    headers = {
        "authorization": f"Bearer {token}",
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
    }
    try:
        _wait_for_health(f"http://127.0.0.1:{port}/healthz", process)
        async with httpx2.AsyncClient() as http:
            forged = await http.post(url, json={}, headers={**headers, "host": "evil.example"})
        async with bearer_client(f"http://127.0.0.1:{port}", token) as mcp:
            names = {tool.name for tool in (await mcp.list_tools()).tools}
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stderr is not None
        stderr = process.stderr.read().decode()
        process.stderr.close()
    assert forged.status_code == 421
    assert "find_customer" in names and "record_payment" not in names
    assert "Host check accepts only loopback names: set QBO_ALLOWED_HOSTS" in stderr
