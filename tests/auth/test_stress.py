"""Issue 4's stress test: access tokens that live 2 s, a new refresh token on every refresh,
4 processes x 25 tasks calling the API for 20 s, and a process killed in the middle of a refresh.

Every call must succeed, no refresh may meet invalid_grant, the emulator must have served close to
the minimum number of refreshes, and no token may appear in the database file or in any log line.
"""

import asyncio
import base64
import json
import logging
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qb_mcp.auth.intuit import TokenGrant
from qb_mcp.auth.wiring import open_auth
from qb_mcp.config import Settings
from qb_mcp.emulator import DEMO_REALM_ID, Emulator, EmulatorConfig
from qb_mcp.store import connections
from tests.auth.live import serve
from tests.auth.secrets_check import database_bytes, leaks

REPO = Path(__file__).resolve().parents[2]
DURATION = 20.0
TTL = 2.0
PROCESSES = 4
TASKS = 25


def worker(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[str]:
    # Logs go to a file, not a pipe: a worker blocked on a full pipe while it holds the store's
    # write lock would stall every other worker.
    with log.open("w") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.auth.stress_worker", *args, "--realm", DEMO_REALM_ID],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )


async def connect(settings: Settings, emulator: Emulator) -> None:
    pair = emulator.issue_tokens(DEMO_REALM_ID)
    grant = TokenGrant(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        refresh_expires_in=pair.x_refresh_token_expires_in,
    )
    async with open_auth(settings) as auth:
        await auth.manager.save_login(DEMO_REALM_ID, grant, received_at=time.time())


async def final_row(settings: Settings) -> tuple[connections.ConnectionRow, list[str]]:
    async with open_auth(settings) as auth:
        row = await connections.get(auth.database, DEMO_REALM_ID)
        assert row is not None
        tokens = auth.manager.decrypt(row)
    return row, [tokens.access_token, tokens.refresh_token]


async def stored_text(settings: Settings) -> str:
    """Every column of every connection row, as text: what a dump of the database would hold."""
    from qb_mcp.store import open_store

    database = await open_store(settings)
    try:
        rows = await database.fetchall("SELECT * FROM connections")
    finally:
        await database.close()
    return "\n".join(str(value) for row in rows for value in row)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_processes_share_rotating_tokens_and_survive_a_refresh_killed_midway(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, backend: str, request: pytest.FixtureRequest
) -> None:
    """On PostgreSQL the processes are replicas of one database, each with its own QBO_HOME
    (nothing but the database between them): the row lock held across the token call, freed
    by the server when the victim dies, keeps the refreshes single-flight."""
    caplog.set_level(logging.DEBUG)
    emulator = Emulator(
        EmulatorConfig(
            access_token_ttl=TTL,
            rotate_refresh_after=0,
            # The emulator's rate limits are not under test here; tokens are.
            requests_per_window=10**9,
            max_in_flight=10**6,
        )
    )
    with serve(emulator.app) as base_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QBO_")}
        env.update(
            QBO_HOME=str(tmp_path / "home"),
            QBO_ENVIRONMENT="emulator",
            QBO_OAUTH_BASE_URL=base_url,
            QBO_TOKEN_KEYS=base64.urlsafe_b64encode(os.urandom(32)).decode(),
            # INFO, not DEBUG: 100 tasks at full speed would write gigabytes of DEBUG lines.
            QBO_LOG_LEVEL="INFO",
        )
        if backend == "postgresql":
            env["QBO_DATABASE_URL"] = request.getfixturevalue("postgres_url")
        settings = Settings.from_env(env)
        asyncio.run(connect(settings, emulator))

        started = time.time()
        until = started + DURATION
        logs = [tmp_path / f"worker-{n}.log" for n in range(PROCESSES + 1)]
        call = ["call", "--until", str(until), "--tasks", str(TASKS), "--base-url", base_url]

        def own_home(n: int) -> dict[str, str]:
            if backend == "sqlite":
                return env
            return {**env, "QBO_HOME": str(tmp_path / f"home-{n}")}

        callers = [worker(own_home(n), log, *call) for n, log in enumerate(logs[:PROCESSES])]
        victim = worker(own_home(PROCESSES), logs[-1], "stall")
        assert victim.stdout is not None
        line = victim.stdout.readline()  # returns once the victim's refresh holds the write lock
        assert line.strip() == "STALLED", logs[-1].read_text()[-2000:]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        outputs = [process.communicate(timeout=DURATION + 30)[0] for process in callers]
        elapsed = time.time() - started
        refreshes = emulator.oauth.refresh_count

    text = "".join(log.read_text() for log in logs)
    for process, out in zip(callers, outputs, strict=True):
        assert process.returncode == 0, text[-2000:]
        tally = json.loads(out.strip().splitlines()[-1])
        assert tally["failures"] == {}
        assert tally["ok"] > 0
    assert "invalid_grant" not in text
    assert "refreshed the access token" in text  # the workers' logs were captured

    # Each token lives 2 s, so covering the run needs about elapsed/2 refreshes (fewer if the
    # workers were slow to start); the manager refreshes with a quarter of the life left, so
    # about elapsed/1.5 are expected. More would mean refreshes that were not single-flight.
    minimum = math.floor(elapsed / TTL)
    assert minimum // 2 <= refreshes <= math.ceil(1.5 * minimum) + 2, (refreshes, minimum)

    row, known = asyncio.run(final_row(settings))
    assert not row.needs_reauth
    if backend == "sqlite":
        assert leaks(database_bytes(settings.database_path), known) == []
    else:
        assert leaks(asyncio.run(stored_text(settings)), known) == []
    assert leaks(text, known) == []
    bad = [r.getMessage() for r in caplog.records if leaks(r.getMessage(), known)]
    assert bad == []
