"""Telling MCP clients that QuickBooks events were stored, in both protocol eras.

Two ways a client watches `qbo://events/recent`:
- modern (2026-07-28): a `subscriptions/listen` stream. The SDK fans events out through its
  `SubscriptionBus`; the server is built with our own `InMemorySubscriptionBus` so we can publish
  on it from outside any request (the bus is the SDK's documented seam for publishers that are
  not request handlers; `ctx.notify_resource_updated` publishes on the same bus).
- legacy (handshake era): `resources/subscribe`. `MCPServer` serves no such method, so the server
  registers it on its lowlevel server and remembers each subscribing client's connection; an
  update is sent with the connection's `send_resource_updated(uri)` (what
  `ctx.session.send_resource_updated` does inside a request, without needing one).

Where updates come from: one `EventFollower` per server reads `feed.events_after(last_seq)`, so
events stored by this process (the mounted listener's `on_stored`, catch-up) and by another
process sharing the database (`qb-mcp webhooks` beside a stdio `serve`) take the same path and
are announced once each. In-process sources wake it at once; otherwise it polls every
`interval` seconds (one indexed query on `seq`: cheap enough to run always, subscribers or not).

Which URIs: `qbo://events/recent` whenever events were stored, the company's own
`qbo://companies/{realm_id}/events/recent` (by realm id: a subscription by company name is not
told), and each new event's own URI (`qbo://events/{id}`), so a client that watches one event
(say, waiting for a catch-up to confirm it) hears about it; a URI nobody subscribed to costs
one set lookup.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated
from mcp.types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

if TYPE_CHECKING:
    from mcp.server import MCPServer
    from mcp.server.context import ServerRequestContext

    from qb_mcp.store.db import Database
    from qb_mcp.store.events import StoredEvent

log = logging.getLogger(__name__)

RECENT_URI = "qbo://events/recent"
EVENT_URI_PREFIX = "qbo://events/"
POLL_INTERVAL = 1.0
BATCH = 500


def event_uri(event_id: str) -> str:
    """The resource URI of one stored event."""
    return f"{EVENT_URI_PREFIX}{event_id}"


def company_events_uri(realm_id: str) -> str:
    """The URI of one company's recent events (`qb_mcp.server_resources`)."""
    return f"qbo://companies/{realm_id}/events/recent"


class EventPublisher:
    """Announces updated resources to modern listeners (the bus) and legacy subscribers."""

    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()
        # Keyed by the client's connection, weakly held: a client that went away without
        # unsubscribing is forgotten with its connection instead of being written to forever.
        self._legacy: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()

    def install(self, server: MCPServer[Any]) -> None:
        """Serve `resources/subscribe` and `resources/unsubscribe` for legacy clients.

        `MCPServer` has no public hook for these; its lowlevel server's `add_request_handler`
        is the SDK's documented way to re-provide a handshake-era method (see
        `mcp.server.extension.MethodBinding`). Registering it also makes the server advertise
        `resources.subscribe` to legacy clients.
        """
        lowlevel = server._lowlevel_server  # private: no public accessor in mcp 2.3
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, self._subscribe)
        lowlevel.add_request_handler(
            "resources/unsubscribe", UnsubscribeRequestParams, self._unsubscribe
        )

    async def _subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        self._legacy.setdefault(_connection(ctx), set()).add(str(params.uri))
        return EmptyResult()

    async def _unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        uris = self._legacy.get(_connection(ctx))
        if uris is not None:
            uris.discard(str(params.uri))
        return EmptyResult()

    async def publish(self, uris: Iterable[str]) -> None:
        """Tell every subscriber of any of `uris` that it changed (both eras)."""
        wanted = list(dict.fromkeys(uris))
        for uri in wanted:
            await self.bus.publish(ResourceUpdated(uri=uri))
        for connection, subscribed in list(self._legacy.items()):
            for uri in wanted:
                if uri not in subscribed:
                    continue
                try:
                    await connection.send_resource_updated(uri)
                except Exception as exc:  # a gone client must not stop the others
                    log.info("dropping a legacy subscriber that could not be told: %s", exc)
                    self._legacy.pop(connection, None)
                    break

    async def events_stored(self, events: list[StoredEvent]) -> None:
        """Announce newly stored events: the recent list and each event's own URI."""
        if events:
            await self.publish(
                [
                    RECENT_URI,
                    *(company_events_uri(e.realm_id) for e in events),
                    *(event_uri(e.event_id) for e in events),
                ]
            )


def _connection(ctx: ServerRequestContext[Any, Any]) -> Any:
    """The connection behind a request: it outlives the request, unlike `ctx.session`.

    `ServerSession` is made per request in mcp 2.3 and holds the connection privately; the
    connection's public `send_resource_updated` is what an update outside any request needs.
    """
    return ctx.session._connection  # private: mcp 2.3 has no public accessor


class EventFollower:
    """Follows the event store by `seq` and announces what is new, once each."""

    def __init__(
        self,
        database: Database,
        publisher: EventPublisher,
        *,
        interval: float = POLL_INTERVAL,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._database = database
        self._publisher = publisher
        self._interval = interval
        self._last_seq: int | None = None
        self._wake = anyio.Event()

    def wake(self) -> None:
        """Look for new events now (an in-process source just stored some)."""
        self._wake.set()

    async def on_stored(self, _events: list[StoredEvent]) -> None:
        """An `on_stored` callback for the listener and catch-up: wakes the follower."""
        self.wake()

    async def start(self) -> None:
        """Start after what is already stored: only later events are news."""
        from qb_mcp.webhooks.feed import latest_seq

        self._last_seq = await latest_seq(self._database)

    async def run_once(self) -> int:
        """Announce events stored since the last pass; how many there were."""
        from qb_mcp.webhooks.feed import events_after

        if self._last_seq is None:
            await self.start()
            return 0
        total = 0
        while True:
            found = await events_after(self._database, self._last_seq, limit=BATCH)
            if not found:
                return total
            self._last_seq = found[-1].seq
            total += len(found)
            await self._publisher.events_stored(found)

    async def run(self) -> None:
        """Follow until cancelled: on every wake, and every `interval` seconds. Replicas on
        PostgreSQL also wake each other (`Database.watch_events`: LISTEN/NOTIFY)."""
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._database.watch_events, self.wake)
            await self._follow()

    async def _follow(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                # A locked database must not end the loop; the next pass tries again.
                log.exception("event follower pass failed")
            with anyio.move_on_after(self._interval):
                await self._wake.wait()
            self._wake = anyio.Event()
