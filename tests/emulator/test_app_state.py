"""The --state file: companies and tokens survive a restart; a bad file is never overwritten."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from anyio import wait_all_tasks_blocked

from qb_mcp.emulator import Emulator, EmulatorConfig
from qb_mcp.emulator.statefile import StateFileError
from tests.emulator.conftest import FakeClock, in_process_client

pytestmark = pytest.mark.anyio


def emulator_at(path: Path, clock: FakeClock) -> Emulator:
    return Emulator(EmulatorConfig(state_path=path), clock=clock)


async def test_companies_and_tokens_survive_a_restart(
    tmp_path: Path, clock: FakeClock, base: str
) -> None:
    path = tmp_path / "state.json"
    first = emulator_at(path, clock)
    token = first.issue_tokens().access_token
    async with first.running(), in_process_client(first, token) as client:
        created = await client.post(f"{base}/customer", json={"DisplayName": "Survivor Co"})
        assert created.status_code == 200
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    second = emulator_at(path, clock)
    async with in_process_client(second, token) as client:
        read = await client.get(f"{base}/customer/{created.json()['Customer']['Id']}")
    assert read.status_code == 200
    assert read.json()["Customer"]["DisplayName"] == "Survivor Co"


async def test_a_write_is_saved_while_running_without_waiting_for_shutdown(
    tmp_path: Path, clock: FakeClock, base: str
) -> None:
    path = tmp_path / "state.json"
    emulator = emulator_at(path, clock)
    token = emulator.issue_tokens().access_token
    async with emulator.running(), in_process_client(emulator, token) as client:
        await client.post(f"{base}/customer", json={"DisplayName": "Saved Early Co"})
        await wait_all_tasks_blocked()  # the saver wakes on the change and writes at once
        assert "Saved Early Co" in path.read_text()


async def test_a_corrupt_state_file_stops_the_emulator_and_is_kept(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "state.json"
    path.write_text("{ this is not json")
    with pytest.raises(StateFileError, match=str(path)):
        emulator_at(path, clock)
    assert path.read_text() == "{ this is not json"


async def test_a_foreign_json_file_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"some": "other program's file"}))
    with pytest.raises(StateFileError, match="not a qb-mcp emulator state"):
        emulator_at(path, clock)


async def test_a_state_file_with_broken_contents_is_refused(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "state.json"
    path.write_text(
        json.dumps(
            {"format": "qb-mcp-emulator-state", "version": 1, "backend": {"x": 1}, "oauth": {}}
        )
    )
    with pytest.raises(StateFileError, match="cannot be restored"):
        emulator_at(path, clock)
    assert "qb-mcp-emulator-state" in path.read_text()


async def test_an_unreadable_state_path_is_a_one_line_error(
    tmp_path: Path, clock: FakeClock
) -> None:
    with pytest.raises(StateFileError) as caught:
        emulator_at(tmp_path, clock)  # a directory, not a file
    assert "\n" not in str(caught.value)
    assert str(tmp_path) in str(caught.value)
