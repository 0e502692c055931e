"""Outside QuickBooks clients against `qb-mcp emulator` over loopback.

The emulator runs under uvicorn on a free loopback port (the same app `qb-mcp emulator` serves),
configured with one app's client id and secret, so the clients' Basic auth is really checked.
The clients are used unmodified; only their base URLs point here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from qb_mcp.emulator import Emulator, EmulatorConfig
from tests.auth.live import serve

CLIENT_ID = "ABoutsideClientId0123456789"
CLIENT_SECRET = "outsideClientSecret0123456789"
# Never contacted: the authorize step's redirect is read, not followed (we are the browser).
REDIRECT_URI = "http://127.0.0.1:9/callback"


@dataclass
class Loopback:
    """An emulator's base URL, and the browser's part of the OAuth flow against it."""

    base_url: str

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}/.well-known/openid_configuration"

    def consent(self, authorize_url: str) -> dict[str, str]:
        """The browser step: open the client's authorize URL and read where it redirects to."""
        answer = httpx2.get(authorize_url, follow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        location = answer.headers["location"]
        assert location.startswith(REDIRECT_URI), location
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class Running(Loopback):
    """An emulator served in process on loopback: its state and fault injection at hand."""

    emulator: Emulator

    @property
    def realm_id(self) -> str:
        return self.emulator.default_realm()


def emulator_config(**overrides: object) -> EmulatorConfig:
    settings: dict[str, object] = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    settings.update(overrides)
    return EmulatorConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
def running() -> Iterator[Running]:
    """The emulator on a free loopback port; refresh tokens rotate on every refresh."""
    emulator = Emulator(emulator_config(rotate_refresh_after=0))
    with serve(emulator.app) as base_url:
        yield Running(base_url, emulator)
