"""`open_books_sync`: the same books for synchronous code, on a private event loop thread."""

from __future__ import annotations

import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from qb_mcp import (
    ConfigError,
    InvalidArgumentError,
    QueryError,
    Settings,
    SyncBooks,
    open_books_sync,
)


@pytest.fixture
def books(settings: Settings, wiring: dict[str, Any]) -> Any:
    with open_books_sync(settings, **wiring) as opened:
        yield opened


def test_the_methods_block_and_return_the_tool_results(books: SyncBooks) -> None:
    created = books.upsert_customer(crm_id="crm-s1", company_name="Sync Ltd")
    assert created.outcome == "created" and created.customer is not None
    found = books.find_customer(name="Sync Ltd")
    assert found.matches[0].id == created.customer.id
    assert books.realm_id().isdigit()


def test_errors_are_raised_in_the_calling_thread(books: SyncBooks) -> None:
    with pytest.raises(QueryError) as caught:
        books.query(query="SELECT * FROM Customer WHERE Nope = 'x'")
    assert caught.value.explanation
    with pytest.raises(InvalidArgumentError):
        books.record_payment(amount=Decimal("5"))


def test_threads_share_one_books_and_a_write_happens_once(books: SyncBooks) -> None:
    items = books.find_items(name="Design").items
    customer = books.upsert_customer(crm_id="crm-s2", company_name="Threaded Ltd").customer
    assert customer is not None

    def quote(_n: int) -> str:
        estimate = books.create_estimate(
            customer_id=customer.id,
            lines=[{"item_id": items[0].id, "quantity": "1"}],  # type: ignore[list-item]
            idempotency_key="same-quote",
        )
        return estimate.id

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = set(pool.map(quote, range(12)))
    assert len(ids) == 1


def test_events_iterate_without_asyncio(books: SyncBooks) -> None:
    books.upsert_customer(crm_id="crm-s3", company_name="Pulled Ltd")
    books.recent_changes(catch_up=True)
    events = list(books.events())
    assert events and all(event.entity for event in events)
    assert list(books.events(since=events[-1].event_id)) == []


def test_close_is_clean_and_final(settings: Settings, wiring: dict[str, Any]) -> None:
    before = {thread.name for thread in threading.enumerate()}
    books = open_books_sync(settings, **wiring)
    books.connection_status()
    books.close()
    books.close()  # again: nothing
    with pytest.raises(ConfigError, match="closed"):
        books.connection_status()
    assert (settings.home / "emulator-state.json").exists()  # the demo company was saved
    assert {thread.name for thread in threading.enumerate()} <= before


def test_calling_from_async_code_says_to_use_open_books(books: SyncBooks) -> None:
    async def inside_a_loop() -> None:
        books.connection_status()

    # From another event loop it works (it only blocks); from the books' own loop it refuses.
    anyio.run(inside_a_loop)
    with pytest.raises(ConfigError, match="open_books"):
        books._portal.call(inside_a_loop)


def test_a_bad_setting_fails_at_open(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="realm id"):
        open_books_sync(Settings(home=tmp_path, environment="emulator"), company="abc")
    with pytest.raises(ConfigError, match="QBO_REALM_ID=123"):
        open_books_sync(Settings(home=tmp_path, environment="emulator"), company="123")


def test_close_ends_a_follower_and_waits_for_calls_in_flight(
    settings: Settings, wiring: dict[str, Any]
) -> None:
    books = open_books_sync(settings, **wiring)
    books.recent_changes(catch_up=True)
    followed: list[str] = []
    started = threading.Event()

    def follow() -> None:
        started.set()
        for change in books.events(follow=True, poll_interval=0.05):
            followed.append(change.event_id)

    follower = threading.Thread(target=follow)
    follower.start()
    started.wait(timeout=30)
    while not followed:  # it has read the stored events and now waits for new ones
        follower.join(timeout=0.05)
    books.close()
    follower.join(timeout=30)
    assert not follower.is_alive()
    assert followed


def test_books_opened_before_a_fork_refuse_to_run_in_the_child(books: SyncBooks) -> None:
    books.connection_status()
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # forking a threaded process
        pid = os.fork()
    if pid == 0:  # the child: a prefork worker that inherited the parent's books
        try:
            books.connection_status()
            answer = b"ran"
        except ConfigError as exc:
            answer = b"refused" if b"each worker process" in str(exc).encode() else b"other"
        except BaseException:
            answer = b"crashed"
        os.write(write, answer)
        os._exit(0)
    os.close(write)
    answer = os.read(read, 100)
    os.close(read)
    os.waitpid(pid, 0)
    assert answer == b"refused"
    assert books.connection_status().reachable  # the parent's books still work
