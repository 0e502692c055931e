"""The emulator's webhook sender: signed change notifications, delivered the way Intuit does.

Every `ChangeEvent` the backend announces is queued; one background task delivers the queue in
order. Events queued together go out in one request (legacy: one `eventNotifications` entry per
realm; CloudEvents: one JSON array). A failed delivery (non-2xx, connection error, timeout) is
retried on Intuit's schedule, and later events wait behind it, as Intuit may hold them.

What follows Intuit's documents (QBO_API.md section 8 and Intuit's CloudEvents announcement of
2025-11-12) and what is a choice:
- Signature: `intuit-signature` = base64(HMAC-SHA256(verifier token, exact body bytes)): documented.
- Legacy body keys and the Merge `deletedId`: documented. `lastUpdated` carries milliseconds and an
  offset without a colon (both spellings occur at Intuit).
- CloudEvents keys, their order and `specversion` "1.0", `time` in UTC with nanoseconds, `data` {}:
  as in Intuit's published sample. Unverified: what `source` encodes (Intuit's looks like
  "intuit." + a base64 string; ours is random per sender), the `type` for Emailed (we use
  "emailed"), whether `data` carries anything (we put `deletedId` there for merges, so a receiver
  can learn the merge target), and whether Intuit sends CloudEvents as `application/json` (we do).
- Retry delays 0 s, 10 s, 20 s, 30 s, 5 min, 20 min, 2 h, 4 h, 6 h, then every 6 h, counted from
  each failure: documented; the first retry follows the first failure at once. At most
  `MAX_EVENTS_PER_DELIVERY` events go in one request (a choice; Intuit does not say).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx2

from qb_mcp.emulator.changes import ChangeEvent

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.0, 10.0, 20.0, 30.0, 300.0, 1200.0, 7200.0, 14400.0, 21600.0)
RETRY_FOREVER = 21600.0  # after the schedule, every 6 h
MAX_EVENTS_PER_DELIVERY = 100
# Deliveries kept in `deliveries`: enough for any test, bounded for a long-running emulator.
MAX_RECORDED = 10_000

_CLOUDEVENT_VERBS = {
    "Create": "created",
    "Update": "updated",
    "Delete": "deleted",
    "Merge": "merged",
    "Void": "voided",
    "Emailed": "emailed",
}


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery attempt: when, which try, and the outcome (HTTP status or error)."""

    time: datetime
    attempt: int  # 1 for the first try of a body, 2 for its first retry, ...
    status: int | None
    error: str | None
    body: bytes
    signature: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class _Queued:
    event: ChangeEvent
    event_id: str  # the CloudEvents id: fixed when queued, so retries repeat it


def sign(body: bytes, verifier_token: str) -> str:
    """Intuit's `intuit-signature` for `body`."""
    mac = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def retry_delays() -> Iterator[float]:
    """Intuit's delays before each retry, unscaled, without end."""
    yield from RETRY_DELAYS
    while True:
        yield RETRY_FOREVER


class WebhookSender:
    """Posts signed notifications for change events to one URL, in order, retrying failures."""

    def __init__(
        self,
        *,
        url: str,
        verifier_token: str,
        format: Literal["legacy", "cloudevents"] = "legacy",
        clock: Callable[[], float] = time.time,
        retry_scale: float = 1.0,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout: float = 3.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("webhook url must be an absolute http(s) URL")
        if not verifier_token:
            raise ValueError("webhook verifier token must not be empty")
        if format not in ("legacy", "cloudevents"):
            raise ValueError("webhook format must be 'legacy' or 'cloudevents'")
        if retry_scale < 0 or timeout <= 0:
            raise ValueError("retry_scale must be >= 0 and timeout > 0")
        self.url = url
        self.format = format
        self._token = verifier_token
        self._clock = clock
        self._retry_scale = retry_scale
        self._transport = transport
        self._timeout = timeout
        self._source = "intuit." + base64.b64encode(secrets.token_bytes(32)).decode()
        self.deliveries: list[Delivery] = []
        self._pending: deque[_Queued] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._recorded: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: httpx2.AsyncClient | None = None

    def notify(self, event: ChangeEvent) -> None:
        """Queue `event` for delivery. Never blocks and never raises (it runs inside writes)."""
        try:
            self._pending.append(_Queued(event, str(uuid.uuid4())))
            loop = self._loop
            if loop is not None and not loop.is_closed():
                # Safe from the loop's own thread and from any other one.
                loop.call_soon_threadsafe(self._kick)
        except Exception:
            log.exception("could not queue a webhook notification")

    async def start(self) -> None:
        """Start delivering (events queued before start go out first)."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._recorded = asyncio.Event()
        self._client = httpx2.AsyncClient(transport=self._transport, timeout=self._timeout)
        self._task = asyncio.create_task(self._run(), name="qbo-emulator-webhooks")
        self._kick()

    async def drained(self) -> None:
        """Return once every queued event was delivered (waits through retries)."""
        if self._idle is None:
            raise RuntimeError("the webhook sender is not started")
        while True:
            await self._idle.wait()
            if not self._pending:
                return
            await asyncio.sleep(0)  # a kick is scheduled; let it run

    async def wait_for_attempts(self, count: int) -> None:
        """Return once at least `count` delivery attempts are in `deliveries` (for tests)."""
        if self._recorded is None:
            raise RuntimeError("the webhook sender is not started")
        while len(self.deliveries) < count:
            self._recorded.clear()
            await self._recorded.wait()

    async def stop(self, drain_timeout: float = 1.0) -> None:
        """Give queued deliveries `drain_timeout` seconds, then cancel what is left."""
        task, self._task = self._task, None
        if task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drained(), drain_timeout)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._loop = None
        if self._pending:
            log.warning("webhook sender stopped with %d undelivered events", len(self._pending))

    # ---- internals ----------------------------------------------------------------------------

    def _kick(self) -> None:
        if self._wake is not None and self._idle is not None:
            self._idle.clear()
            self._wake.set()

    async def _run(self) -> None:
        assert self._wake is not None and self._idle is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = [
                    self._pending[i]
                    for i in range(min(len(self._pending), MAX_EVENTS_PER_DELIVERY))
                ]
                try:
                    body = self._encode(batch)
                except Exception:
                    # A bad event must not wedge the queue behind it forever.
                    log.exception("could not encode a webhook notification; dropping it")
                    body = None
                if body is not None:
                    await self._deliver(body)
                for _ in batch:
                    self._pending.popleft()
            if not self._pending:
                self._idle.set()

    async def _deliver(self, body: bytes) -> None:
        signature = sign(body, self._token)
        delays = retry_delays()
        attempt = 0
        while True:
            attempt += 1
            status, error = await self._post(body, signature)
            self._record(Delivery(self._now(), attempt, status, error, body, signature))
            if error is None and status is not None and 200 <= status < 300:
                return
            log.info("webhook delivery attempt %d failed: %s", attempt, error or status)
            await asyncio.sleep(next(delays) * self._retry_scale)

    async def _post(self, body: bytes, signature: str) -> tuple[int | None, str | None]:
        assert self._client is not None
        try:
            # The ASGI transport ignores httpx timeouts, so bound the whole exchange here too.
            async with asyncio.timeout(self._timeout):
                response = await self._client.post(
                    self.url,
                    content=body,
                    headers={"Content-Type": "application/json", "intuit-signature": signature},
                )
        except TimeoutError:
            return None, f"timeout after {self._timeout:g} s"
        except httpx2.TimeoutException:
            return None, f"timeout after {self._timeout:g} s"
        except (httpx2.HTTPError, OSError) as exc:
            return None, f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            # A receiver app that crashes under the ASGI transport raises straight through.
            return None, f"{type(exc).__name__}: {exc}"
        return response.status_code, None

    def _record(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        if self._recorded is not None:
            self._recorded.set()
        if len(self.deliveries) > MAX_RECORDED:
            del self.deliveries[: len(self.deliveries) - MAX_RECORDED]

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _encode(self, batch: list[_Queued]) -> bytes:
        payload: Any
        if self.format == "cloudevents":
            payload = [self._cloudevent(q) for q in batch]
        else:
            by_realm: dict[str, list[dict[str, str]]] = {}
            for q in batch:
                by_realm.setdefault(q.event.realm_id, []).append(_legacy_entity(q.event))
            payload = {
                "eventNotifications": [
                    {"realmId": realm, "dataChangeEvent": {"entities": entities}}
                    for realm, entities in by_realm.items()
                ]
            }
        # Compact, like Intuit's raw bodies; the signature covers these exact bytes.
        return json.dumps(payload, separators=(",", ":")).encode()

    def _cloudevent(self, q: _Queued) -> dict[str, Any]:
        e = q.event
        data: dict[str, str] = {}
        if e.operation == "Merge" and e.deleted_id is not None:
            data["deletedId"] = e.deleted_id
        return {
            "specversion": "1.0",
            "id": q.event_id,
            "source": self._source,
            "type": f"qbo.{e.entity.lower()}.{_CLOUDEVENT_VERBS[e.operation]}.v1",
            "datacontenttype": "application/json",
            "time": _nanos_utc(e.last_updated),
            "intuitentityid": e.entity_id,
            "intuitaccountid": e.realm_id,
            "data": data,
        }


def _legacy_entity(e: ChangeEvent) -> dict[str, str]:
    entity = {
        "name": e.entity,
        "id": e.entity_id,
        "operation": e.operation,
        "lastUpdated": e.last_updated.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{e.last_updated.microsecond // 1000:03d}"
        + e.last_updated.strftime("%z"),
    }
    if e.operation == "Merge" and e.deleted_id is not None:
        entity["deletedId"] = e.deleted_id
    return entity


def _nanos_utc(moment: datetime) -> str:
    """`2025-09-10T21:31:25.179851517Z`: the CloudEvents `time` with nine fraction digits."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond * 1000:09d}Z"
