"""Forwarding QuickBooks' events to the CRM: `QBO_EVENTS_FORWARD_URL`.

Every event the listener or CDC catch-up stores (in this process or any other on the same
database) is POSTed to the URL as JSON: the event as `qbo://events/{id}` shows it (event id,
realm, entity, the changed object's id, operation, time, source). Each delivery is signed as
Intuit signs its own (`signature.sign`: base64 HMAC-SHA256 of the raw body), keyed with
`QBO_EVENTS_FORWARD_SECRET`, in `X-QB-MCP-Signature`; `X-QB-MCP-Event-Id` repeats the event id
so the CRM can drop a duplicate before parsing.

Delivery (`store.outbox`): stored events are first copied into the outbox under a cursor, in the
database, so an event is queued once whoever stored it and a delivery pending when a process
died is sent when a forwarder runs again. A row is sent until the CRM answers 2xx, with backoff
between attempts (`RETRY_DELAYS`, or the CRM's Retry-After when longer); a row waits while an
earlier row of the same object is undelivered, so each object's changes arrive in order, while
other objects go on. At least once: a forwarder killed after the CRM took a delivery but before
it was marked sends it again, with the same event id and the same bytes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import anyio
import httpx2

from qb_mcp import __version__
from qb_mcp.config import Settings
from qb_mcp.qbo.retry import parse_retry_after
from qb_mcp.store import outbox
from qb_mcp.store.db import Database
from qb_mcp.store.events import StoredEvent
from qb_mcp.webhooks import signature

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-QB-MCP-Signature"
EVENT_ID_HEADER = "X-QB-MCP-Event-Id"
ATTEMPT_HEADER = "X-QB-MCP-Delivery-Attempt"
# Seconds before the 1st, 2nd, ... retry of a delivery; the last repeats (forever: until a 2xx).
RETRY_DELAYS = (1.0, 5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0)
MAX_RETRY_AFTER = 3600.0
# Fields of the stored event that are the worker's bookkeeping, not the change.
_NOT_SENT = frozenset({"status", "last_error"})


def verify_event_signature(body: bytes, signature_header: str | None, secret: str) -> bool:
    """For the CRM's receiving view: True when `signature_header` (X-QB-MCP-Signature) signs
    exactly these raw bytes with `secret` (QBO_EVENTS_FORWARD_SECRET); constant time."""
    return signature.verify(body, signature_header, secret)


def delivery_body(event: StoredEvent) -> str:
    """The JSON a delivery carries: the event as `qbo://events/{id}` shows it."""
    shown = {key: value for key, value in event.to_dict().items() if key not in _NOT_SENT}
    return json.dumps(shown, ensure_ascii=False, separators=(",", ":"))


def shown_url(url: str) -> str:
    """The URL without credentials or query (for logs and doctor)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


@dataclass(frozen=True, slots=True)
class ForwardReport:
    """What one pass did."""

    queued: int
    delivered: int
    failed: int


class Forwarder:
    """Sends the outbox to the CRM's URL (see the module docstring)."""

    def __init__(
        self,
        database: Database,
        url: str,
        secret: str,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        lease: float = 60.0,
        timeout: float = 10.0,
        batch: int = 20,
        poll_interval: float = 1.0,
    ) -> None:
        if not url or not secret:
            raise ValueError("the forwarder needs a URL and a secret")
        if not retry_delays or lease <= timeout or batch < 1 or poll_interval <= 0:
            raise ValueError("retry delays given, lease longer than the timeout, batch >= 1")
        self._database = database
        self._url = url
        self._secret = secret
        self._clock = clock
        self._delays = tuple(retry_delays)
        self._lease = lease
        self._batch = batch
        self._poll_interval = poll_interval
        self._client = httpx2.AsyncClient(
            transport=transport,
            timeout=timeout,
            follow_redirects=False,  # a redirect is not the CRM taking the event
            headers={"User-Agent": f"qb-mcp/{__version__}"},
        )
        self._wake = anyio.Event()

    def wake(self) -> None:
        """Look for events now (called when events are stored in this process)."""
        self._wake.set()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def run_once(self) -> ForwardReport:
        """Queue newly stored events, then send every delivery due now."""
        queued = await outbox.enqueue(self._database, now=self._clock(), body=delivery_body)
        delivered = failed = 0
        while True:
            due = await outbox.claim(
                self._database, now=self._clock(), lease=self._lease, limit=self._batch
            )
            if not due:
                return ForwardReport(queued, delivered, failed)
            outcomes: list[bool] = []
            # At most one row per object is due at a time, so these may go out together.
            async with anyio.create_task_group() as tasks:
                for delivery in due:
                    tasks.start_soon(self._send_into, delivery, outcomes)
            delivered += sum(outcomes)
            failed += len(outcomes) - sum(outcomes)
            if not any(outcomes):
                # Everything due failed (the CRM is down): wait for the retry times.
                return ForwardReport(queued, delivered, failed)

    async def run(self) -> None:
        """Forward until cancelled: a pass when woken and every `poll_interval` seconds (events
        stored by other processes, retries coming due). Closes the HTTP client on the way out."""
        try:
            while True:
                try:
                    await self.run_once()
                except Exception:
                    # A locked or broken database must not end the loop; the next pass retries.
                    log.exception("event forwarding pass failed")
                with anyio.move_on_after(self._poll_interval):
                    await self._wake.wait()
                self._wake = anyio.Event()
        finally:
            with anyio.CancelScope(shield=True):
                await self.aclose()

    async def _send_into(self, delivery: outbox.Delivery, outcomes: list[bool]) -> None:
        outcomes.append(await self._send(delivery))

    async def _send(self, delivery: outbox.Delivery) -> bool:
        body = delivery.body.encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature.sign(body, self._secret),
            EVENT_ID_HEADER: delivery.event_id,
            ATTEMPT_HEADER: str(delivery.attempts + 1),
        }
        retry_after = None
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx2.HTTPError as exc:
            # The exception's text can hold the URL (and credentials in it): the type is enough.
            error = f"no answer ({type(exc).__name__})"
        else:
            if 200 <= response.status_code < 300:
                await outbox.mark_delivered(self._database, delivery.seq, now=self._clock())
                return True
            error = f"HTTP {response.status_code}"
            retry_after = parse_retry_after(response.headers.get("retry-after"), now=self._clock())
        delay = self._delays[min(delivery.attempts, len(self._delays) - 1)]
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        now = self._clock()
        await outbox.mark_failed(
            self._database, delivery.seq, now=now, error=error, retry_at=now + delay
        )
        log.warning(
            "event %s not forwarded to %s (%s, attempt %d); retrying in %.0f s",
            delivery.event_id,
            shown_url(self._url),
            error,
            delivery.attempts + 1,
            delay,
        )
        return False


def forwarder_for(settings: Settings, database: Database, **options: object) -> Forwarder | None:
    """The forwarder `settings` ask for (QBO_EVENTS_FORWARD_URL), or None."""
    if not settings.events_forward_url or not settings.events_forward_secret:
        return None
    return Forwarder(
        database,
        settings.events_forward_url,
        settings.events_forward_secret,
        **options,  # type: ignore[arg-type]
    )
