"""From `Settings` to working auth objects: app credentials, endpoints, a ready `TokenManager`.

The server, the commands and `doctor` all build their token manager here, so they agree on which
key ring, endpoints and credentials a connection is refreshed with.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx2

from qb_mcp.auth.crypto import load_keyring
from qb_mcp.auth.intuit import IntuitOAuth
from qb_mcp.auth.manager import TokenManager
from qb_mcp.config import API_BASE_URLS, OAuthEndpoints, Settings
from qb_mcp.errors import ConfigError, InvalidArgumentError
from qb_mcp.store import Database, connections, open_store

# The emulator accepts any client credentials unless it was configured with some.
EMULATOR_CLIENT_ID = "qb-mcp-emulator"
EMULATOR_CLIENT_SECRET = "qb-mcp-emulator-secret"


def app_credentials(settings: Settings) -> tuple[str, str]:
    """(client id, client secret) of the Intuit app; required except against the emulator."""
    if settings.environment == "emulator":
        return (
            settings.client_id or EMULATOR_CLIENT_ID,
            settings.client_secret or EMULATOR_CLIENT_SECRET,
        )
    if not settings.client_id:
        raise ConfigError(
            "QBO_CLIENT_ID is not set: copy it from your app's Keys & credentials page "
            "at developer.intuit.com"
        )
    if not settings.client_secret:
        raise ConfigError(
            "QBO_CLIENT_SECRET is not set: copy it from your app's Keys & credentials page "
            "at developer.intuit.com"
        )
    return settings.client_id, settings.client_secret


def oauth_endpoints(settings: Settings) -> OAuthEndpoints:
    """Intuit's OAuth endpoints, or QBO_OAUTH_BASE_URL's (a proxy or a running emulator)."""
    endpoints = settings.oauth_endpoints
    if endpoints is None:
        raise ConfigError(
            "QBO_OAUTH_BASE_URL is not set: the emulator environment needs the URL of a running "
            "`qb-mcp emulator`, e.g. QBO_OAUTH_BASE_URL=http://127.0.0.1:8765"
        )
    return endpoints


def api_base_url(settings: Settings) -> str:
    """The QBO API host; the emulator serves the API on its OAuth host unless told otherwise."""
    if settings.api_base_url:
        return settings.api_base_url.rstrip("/")
    if settings.environment == "emulator":
        if settings.oauth_base_url:
            return settings.oauth_base_url.rstrip("/")
        raise ConfigError(
            "QBO_API_BASE_URL is not set: the emulator environment needs the URL of a running "
            "`qb-mcp emulator`, e.g. QBO_API_BASE_URL=http://127.0.0.1:8765"
        )
    return API_BASE_URLS[settings.environment]


def intuit_oauth(
    settings: Settings, *, transport: httpx2.AsyncBaseTransport | None = None
) -> IntuitOAuth:
    """An `IntuitOAuth` for the settings' environment and app."""
    client_id, client_secret = app_credentials(settings)
    return IntuitOAuth(
        endpoints=oauth_endpoints(settings),
        client_id=client_id,
        client_secret=client_secret,
        transport=transport,
    )


@dataclass(frozen=True, slots=True)
class AuthContext:
    """What `open_auth` hands out: the open database and a token manager over it."""

    database: Database
    manager: TokenManager
    oauth: IntuitOAuth


@asynccontextmanager
async def open_auth(
    settings: Settings,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    create_key: bool = True,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[AuthContext]:
    """Open the database and build the token manager for `settings`; close both on exit.

    Settings are checked before anything is created, so a bad setting leaves no files behind.
    """
    oauth = intuit_oauth(settings, transport=transport)
    try:
        keyring = load_keyring(settings, create=create_key)
        database = await open_store(settings)
        try:
            manager = TokenManager(
                database=database,
                keyring=keyring,
                oauth=oauth,
                environment=settings.environment,
                clock=clock,
            )
            yield AuthContext(database=database, manager=manager, oauth=oauth)
        finally:
            await database.close()
    finally:
        await oauth.aclose()


async def connected_realm(settings: Settings, database: Database) -> str | None:
    """The realm to use: QBO_REALM_ID (which must be connected), else the only connection.

    None when no company is connected; `InvalidArgumentError` when several are and QBO_REALM_ID
    does not say which.
    """
    rows = await connections.list_all(database)
    if settings.realm_id is not None:
        if any(row.realm_id == settings.realm_id for row in rows):
            return settings.realm_id
        raise InvalidArgumentError(
            f"QBO_REALM_ID={settings.realm_id} is not connected; run `qb-mcp auth login` "
            "or `qb-mcp auth status`"
        )
    if not rows:
        return None
    if len(rows) > 1:
        listed = ", ".join(row.realm_id for row in rows)
        raise InvalidArgumentError(
            f"several companies are connected ({listed}); set QBO_REALM_ID to one of them"
        )
    return rows[0].realm_id
