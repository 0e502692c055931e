"""The admin API under `/_emulator/`: JSON in and out, no auth (it is a test tool, bind it locally).

| method and path            | does |
|----------------------------|------|
| POST /_emulator/reset      | companies back to their seed; requestids, limit windows, faults cleared |
| GET  /_emulator/state      | summary: realms with entity counts, requests remembered, limits, chaos |
| POST /_emulator/realms     | add a company: {"realmId"?, "seed"?: "demo"/"empty", "companyName"?} |
| POST /_emulator/tokens     | tokens for a realm, skipping the browser: {"realmId"?} |
| GET  /_emulator/webhooks   | the webhook delivery log |
| GET  /_emulator/chaos      | fault-injection settings |
| POST /_emulator/chaos      | change them (see `Chaos.configure`) |
| DELETE /_emulator/chaos    | turn every fault off |

Bad input answers 400 `{"error": "..."}` and changes nothing.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from qb_mcp.emulator.faults import QBOFault

if TYPE_CHECKING:
    from qb_mcp.emulator.app import Emulator

MAX_ADMIN_BODY = 64 * 1024
COUNTED_ENTITIES = (
    "Customer",
    "Item",
    "Estimate",
    "Invoice",
    "Payment",
    "SalesReceipt",
    "CreditMemo",
    "RefundReceipt",
)
MAX_REALM_ID_LENGTH = 32


class AdminError(Exception):
    """A bad admin request: answered 400 with `{"error": message}`."""


def routes(emulator: Emulator) -> list[BaseRoute]:
    """The admin routes, relative to `/_emulator`."""
    admin = _Admin(emulator)
    return [
        Route("/reset", admin.reset, methods=["POST"]),
        Route("/state", admin.state, methods=["GET"]),
        Route("/realms", admin.add_realm, methods=["POST"]),
        Route("/tokens", admin.tokens, methods=["POST"]),
        Route("/webhooks", admin.webhooks, methods=["GET"]),
        Route("/chaos", admin.chaos, methods=["GET", "POST", "DELETE"]),
    ]


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object; an empty body is `{}`."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_ADMIN_BODY:
            raise AdminError(f"body over {MAX_ADMIN_BODY} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise AdminError("body must be a JSON object") from None
    if not isinstance(value, dict):
        raise AdminError("body must be a JSON object")
    return value


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise AdminError(f"{key} must be a string")
    return value


def _check_fields(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise AdminError(f"unknown field(s): {', '.join(unknown)}")


class _Admin:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def reset(self, request: Request) -> Response:
        self.emulator.reset()
        return JSONResponse({"reset": True, "realms": self.emulator.backend.realm_ids()})

    async def state(self, request: Request) -> Response:
        emulator = self.emulator
        realms = []
        for realm_id in emulator.backend.realm_ids():
            counts: dict[str, int | None] = {}
            for entity in COUNTED_ENTITIES:
                try:
                    text = f"select count(*) from {entity}"  # noqa: S608 (fixed names, not SQL)
                    answer = emulator.backend.query(realm_id, text)
                    counts[entity] = int(answer["QueryResponse"].get("totalCount", 0))
                except (QBOFault, KeyError, TypeError, ValueError):
                    counts[entity] = None  # the backend cannot count it; say so, do not fail
            realms.append({"realmId": realm_id, "counts": counts})
        webhooks = emulator.webhooks
        return JSONResponse(
            {
                "realms": realms,
                "requestIds": {
                    "remembered": emulator.request_ids.count(),
                    "replayed": emulator.request_ids.replays,
                },
                "limits": {
                    "requestsPerWindow": emulator.limiter.requests_per_window,
                    "windowSeconds": emulator.limiter.window_seconds,
                    "maxInFlight": emulator.limiter.max_in_flight,
                    "batchPerWindow": emulator.limiter.batch_per_window,
                    "throttled": emulator.limiter.throttled_count,
                },
                "chaos": emulator.chaos.state(),
                "webhooks": {
                    "configured": webhooks is not None,
                    "deliveries": len(webhooks.deliveries) if webhooks is not None else 0,
                },
            }
        )

    async def add_realm(self, request: Request) -> Response:
        try:
            data = await _json_object(request)
            _check_fields(data, {"realmId", "seed", "companyName"})
            realm_id = _optional_str(data, "realmId")
            seed = data.get("seed", "demo")
            company_name = _optional_str(data, "companyName")
            if seed not in ("demo", "empty"):
                raise AdminError('seed must be "demo" or "empty"')
            if realm_id is None:
                realm_id = self._new_realm_id()
            elif not realm_id.isdigit() or len(realm_id) > MAX_REALM_ID_LENGTH:
                raise AdminError(f"realmId must be 1 to {MAX_REALM_ID_LENGTH} digits")
            if self.emulator.backend.has_company(realm_id):
                raise AdminError(f"a company with realmId {realm_id} already exists")
            if company_name is not None and not company_name.strip():
                raise AdminError("companyName must not be blank")
        except AdminError as exc:
            return _error(str(exc))
        self.emulator.backend.add_company(realm_id, seed=seed, company_name=company_name)
        return JSONResponse({"realmId": realm_id, "seed": seed}, status_code=201)

    async def tokens(self, request: Request) -> Response:
        try:
            data = await _json_object(request)
            _check_fields(data, {"realmId"})
            realm_id = _optional_str(data, "realmId") or self.emulator.default_realm()
            if not self.emulator.backend.has_company(realm_id):
                raise AdminError(f"no company with realmId {realm_id}")
        except AdminError as exc:
            return _error(str(exc))
        pair = self.emulator.issue_tokens(realm_id)
        return JSONResponse(
            {
                "token_type": "bearer",
                "access_token": pair.access_token,
                "refresh_token": pair.refresh_token,
                "expires_in": pair.expires_in,
                "x_refresh_token_expires_in": pair.x_refresh_token_expires_in,
                "realmId": pair.realm_id,
            },
            headers={"Cache-Control": "no-store"},
        )

    async def webhooks(self, request: Request) -> Response:
        sender = self.emulator.webhooks
        if sender is None:
            return JSONResponse({"configured": False, "deliveries": []})
        return JSONResponse(
            {
                "configured": True,
                "url": sender.url,
                "format": sender.format,
                "deliveries": [
                    {
                        "time": d.time.isoformat(),
                        "attempt": d.attempt,
                        "status": d.status,
                        "error": d.error,
                        "ok": d.ok,
                        "body": d.body.decode("utf-8", "replace"),
                        "signature": d.signature,
                    }
                    for d in sender.deliveries
                ],
            }
        )

    async def chaos(self, request: Request) -> Response:
        chaos = self.emulator.chaos
        if request.method == "DELETE":
            chaos.clear()
        elif request.method == "POST":
            try:
                chaos.configure(await _json_object(request))
            except (AdminError, ValueError) as exc:
                return _error(str(exc))
        return JSONResponse(chaos.state())

    def _new_realm_id(self) -> str:
        # Real realm ids are 13 to 19 digits; pick an unused one of 16.
        while True:
            candidate = str(secrets.randbelow(9 * 10**15) + 10**15)
            if not self.emulator.backend.has_company(candidate):
                return candidate
