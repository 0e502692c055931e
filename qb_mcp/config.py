"""Settings: `QBO_*` environment variables, with command-line flags laid over them.

Every setting is parsed here and only here. A missing or malformed value raises `ConfigError`
with a one-line message that names the variable, so the CLI can print it without a traceback.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from qb_mcp.errors import ConfigError

Environment = Literal["production", "sandbox", "emulator"]
ENVIRONMENTS: tuple[Environment, ...] = ("production", "sandbox", "emulator")

API_BASE_URLS: dict[str, str] = {
    "production": "https://quickbooks.api.intuit.com",
    "sandbox": "https://sandbox-quickbooks.api.intuit.com",
}


@dataclass(frozen=True, slots=True)
class OAuthEndpoints:
    """Where Intuit's OAuth 2.0 endpoints live; the emulator serves all of them on one host."""

    authorize: str
    token: str
    revoke: str
    discovery: str

    @classmethod
    def intuit(cls, environment: Environment) -> OAuthEndpoints:
        discovery = (
            "https://developer.intuit.com/.well-known/openid_sandbox_configuration/"
            if environment == "sandbox"
            else "https://developer.intuit.com/.well-known/openid_configuration/"
        )
        return cls(
            authorize="https://appcenter.intuit.com/connect/oauth2",
            token="https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
            revoke="https://developer.api.intuit.com/v2/oauth2/tokens/revoke",
            discovery=discovery,
        )

    @classmethod
    def at(cls, base_url: str) -> OAuthEndpoints:
        """Intuit's paths on another host (a proxy or the emulator)."""
        base = base_url.rstrip("/")
        return cls(
            authorize=f"{base}/connect/oauth2",
            token=f"{base}/oauth2/v1/tokens/bearer",
            revoke=f"{base}/v2/oauth2/tokens/revoke",
            discovery=f"{base}/.well-known/openid_configuration",
        )


# Not 8765: that is the emulator's default port, and `auth login` against a local emulator must
# be able to listen for its callback while the emulator runs.
DEFAULT_REDIRECT_URI = "http://localhost:8766/callback"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MIN_FORWARD_SECRET = 16


def default_home() -> Path:
    return Path.home() / ".local" / "share" / "qb-mcp"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything qb-mcp reads from its environment. Secrets are excluded from `repr`."""

    environment: Environment = "production"
    # Whether QBO_ENVIRONMENT was set: a chosen production or sandbox environment is never served
    # by the built-in demo company (server.py).
    environment_chosen: bool = False
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    redirect_uri: str = DEFAULT_REDIRECT_URI
    realm_id: str | None = None
    home: Path = field(default_factory=default_home)
    token_keys: tuple[bytes, ...] = field(default=(), repr=False)
    webhook_verifier_token: str | None = field(default=None, repr=False)
    read_only: bool = False
    # Ask the user (MCP elicitation) before each write, where the client supports it.
    confirm_writes: bool = False
    api_base_url: str | None = None
    oauth_base_url: str | None = None
    log_level: str = "WARNING"
    # serve --transport http: Host names clients use beside loopback ("host" or "host:port"),
    # e.g. the public name a reverse proxy forwards.
    allowed_hosts: tuple[str, ...] = ()
    # MCP authorization with an identity provider: the issuer whose JWTs are accepted, and this
    # server's resource URL (the audience those JWTs must name). Both or neither.
    auth_issuer: str | None = None
    auth_audience: str | None = None
    # Where every stored QuickBooks event is POSTed (the CRM), and the key its signature uses.
    events_forward_url: str | None = None
    events_forward_secret: str | None = field(default=None, repr=False)
    # QBO_DATABASE_URL: the PostgreSQL database every replica shares; None keeps the SQLite file
    # in `home`. Out of `repr`: it may hold a password.
    database_url: str | None = field(default=None, repr=False)

    @property
    def serves_demo(self) -> bool:
        """Whether the built-in demo company may stand in while no company is connected: only
        when no environment was chosen, or the emulator was. An assistant must never invoice into
        fake books believing them real (`serve` and `doctor` both follow this)."""
        return self.environment == "emulator" or not self.environment_chosen

    @property
    def database_path(self) -> Path:
        return self.home / "qb-mcp.sqlite3"

    @property
    def resolved_api_base_url(self) -> str | None:
        """The QBO API host; None for the emulator when no URL was given (it runs in process)."""
        if self.api_base_url:
            return self.api_base_url.rstrip("/")
        return API_BASE_URLS.get(self.environment)

    @property
    def oauth_endpoints(self) -> OAuthEndpoints | None:
        if self.oauth_base_url:
            return OAuthEndpoints.at(self.oauth_base_url)
        if self.environment == "emulator":
            return None
        return OAuthEndpoints.intuit(self.environment)

    def with_overrides(self, **overrides: Any) -> Settings:
        """Command-line flags over the environment; `None` means the flag was not given."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(self, **given)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and check every `QBO_*` variable; raise `ConfigError` naming the first bad one."""
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name)
            if value is None:
                return None
            value = value.strip()
            return value or None

        environment = get("QBO_ENVIRONMENT") or "production"
        if environment not in ENVIRONMENTS:
            raise ConfigError(
                f"QBO_ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}; got {environment!r}"
            )
        redirect_uri = get("QBO_REDIRECT_URI") or DEFAULT_REDIRECT_URI
        _check_url("QBO_REDIRECT_URI", redirect_uri)
        api_base_url = get("QBO_API_BASE_URL")
        if api_base_url:
            _check_url("QBO_API_BASE_URL", api_base_url)
        oauth_base_url = get("QBO_OAUTH_BASE_URL")
        if oauth_base_url:
            _check_url("QBO_OAUTH_BASE_URL", oauth_base_url)
        realm_id = get("QBO_REALM_ID")
        if realm_id is not None and not realm_id.isdigit():
            raise ConfigError(
                f"QBO_REALM_ID must be the company's numeric realm id; got {realm_id!r}"
            )
        home_text = get("QBO_HOME")
        home = Path(home_text).expanduser() if home_text else default_home()
        auth_issuer = get("QBO_AUTH_ISSUER")
        auth_audience = get("QBO_AUTH_AUDIENCE")
        for name, value in (("QBO_AUTH_ISSUER", auth_issuer), ("QBO_AUTH_AUDIENCE", auth_audience)):
            if value is not None:
                _check_url(name, value)
        if (auth_issuer is None) != (auth_audience is None):
            missing = "QBO_AUTH_AUDIENCE" if auth_audience is None else "QBO_AUTH_ISSUER"
            raise ConfigError(
                f"{missing} must be set too: QBO_AUTH_ISSUER (the identity provider) and "
                "QBO_AUTH_AUDIENCE (this server's URL, e.g. https://mcp.example.com/mcp) go together"
            )
        forward_url = get("QBO_EVENTS_FORWARD_URL")
        forward_secret = get("QBO_EVENTS_FORWARD_SECRET")
        if forward_url:
            _check_url("QBO_EVENTS_FORWARD_URL", forward_url)
            if forward_secret is None:
                raise ConfigError(
                    "QBO_EVENTS_FORWARD_URL is set but QBO_EVENTS_FORWARD_SECRET is not: set it "
                    "to a long random secret the CRM checks each delivery's signature with"
                )
        if forward_secret is not None and len(forward_secret) < MIN_FORWARD_SECRET:
            raise ConfigError(
                f"QBO_EVENTS_FORWARD_SECRET must be at least {MIN_FORWARD_SECRET} characters"
            )
        database_url = get("QBO_DATABASE_URL")
        token_keys = parse_token_keys(get("QBO_TOKEN_KEYS"))
        if database_url is not None:
            check_database_url(database_url)
            if not token_keys:
                # Without it each machine would make its own key file in its QBO_HOME, and a
                # replica could not read the tokens another one stored.
                raise ConfigError(
                    "QBO_DATABASE_URL needs QBO_TOKEN_KEYS: every replica must decrypt the "
                    "tokens the others store, so give them all the same key(s)"
                )
        log_level = (get("QBO_LOG_LEVEL") or "WARNING").upper()
        if log_level not in LOG_LEVELS:
            raise ConfigError(f"QBO_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        return cls(
            environment=environment,
            environment_chosen=get("QBO_ENVIRONMENT") is not None,
            client_id=get("QBO_CLIENT_ID"),
            client_secret=get("QBO_CLIENT_SECRET"),
            redirect_uri=redirect_uri,
            realm_id=realm_id,
            home=home,
            token_keys=token_keys,
            webhook_verifier_token=get("QBO_WEBHOOK_VERIFIER_TOKEN"),
            read_only=parse_bool("QBO_READ_ONLY", get("QBO_READ_ONLY")),
            confirm_writes=parse_bool("QBO_CONFIRM_WRITES", get("QBO_CONFIRM_WRITES")),
            api_base_url=api_base_url,
            oauth_base_url=oauth_base_url,
            log_level=log_level,
            allowed_hosts=parse_allowed_hosts("QBO_ALLOWED_HOSTS", get("QBO_ALLOWED_HOSTS")) or (),
            auth_issuer=auth_issuer,
            auth_audience=auth_audience,
            events_forward_url=forward_url,
            events_forward_secret=forward_secret,
            database_url=database_url,
        )


DATABASE_SCHEMES = ("postgresql", "postgres")


def redacted_url(url: str) -> str:
    """`url` with its password replaced by ***, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, ""))


def check_database_url(url: str) -> None:
    """`QBO_DATABASE_URL`: a PostgreSQL URL naming a database (`ConfigError` otherwise)."""
    parts = urlsplit(url)
    if parts.scheme not in DATABASE_SCHEMES:
        raise ConfigError(
            "QBO_DATABASE_URL must be a PostgreSQL URL (postgresql://user:password@host:5432/"
            f"dbname); got {redacted_url(url)!r}. Leave it unset to keep the SQLite file in "
            "QBO_HOME"
        )
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        raise ConfigError(f"QBO_DATABASE_URL has a bad port: {redacted_url(url)!r}") from None
    if not parts.path.strip("/"):
        raise ConfigError(
            "QBO_DATABASE_URL names no database (postgresql://host:5432/dbname); got "
            f"{redacted_url(url)!r}"
        )


def parse_bool(name: str, value: str | None) -> bool:
    if value is None:
        return False
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false; got {value!r}")


# A host name or IPv4 address, or a bracketed IPv6 address, with an optional port.
_ALLOWED_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
    r"[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$"
)


def parse_allowed_hosts(name: str, value: str | None) -> tuple[str, ...] | None:
    """`QBO_ALLOWED_HOSTS` / `--allowed-hosts`: comma-separated `host` or `host:port` (no
    scheme, no path, no wildcard: the Host check stays on, it only learns more names); None
    when not given."""
    if value is None:
        return None
    hosts: list[str] = []
    for entry in value.split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if not _ALLOWED_HOST.match(entry):
            raise ConfigError(
                f"{name}: {entry[:80]!r} is not a host name or host:port (e.g. "
                "mcp.example.com or mcp.example.com:8443; no scheme, path or wildcard)"
            )
        hosts.append(entry)
    return tuple(dict.fromkeys(hosts))


def parse_token_keys(value: str | None) -> tuple[bytes, ...]:
    """`QBO_TOKEN_KEYS`: comma-separated url-safe base64 keys of 32 bytes, newest first."""
    if value is None:
        return ()
    keys: list[bytes] = []
    for position, text in enumerate(value.split(","), start=1):
        text = text.strip()
        try:
            key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            raise ConfigError(f"QBO_TOKEN_KEYS: key {position} is not url-safe base64") from None
        if len(key) != 32:
            raise ConfigError(
                f"QBO_TOKEN_KEYS: key {position} must decode to 32 bytes; it has {len(key)}"
            )
        keys.append(key)
    return tuple(keys)


def _check_url(name: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL; got {value!r}")


def configure_logging(level: str) -> None:
    """Logs go to stderr only: on stdio, stdout carries MCP messages and nothing else."""
    # The level sits on the handler too: an MCP client that asks for debug logs lowers the
    # `qb_mcp` loggers' level (server_logging), and stderr must not get louder for it.
    stderr = logging.StreamHandler()  # sys.stderr
    stderr.setLevel(level)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=[stderr]
    )
    # aiosqlite logs every statement with its parameters at DEBUG: encrypted tokens, ledger
    # bodies. Useless for users and one careless column away from a leak, so it stays quiet.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
