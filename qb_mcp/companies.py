"""Every company one server reaches (issue 13, "several companies in one server").

`Companies` is what the server's lifespan opens and its tools reach: the settings, the database,
and one `AppState` per connected company, each with its own QuickBooks client, request budget
(the realm's limiter), token source and directory index, all made on first use. Write intents,
ledger rows, audit rows and events are keyed by realm already, so companies never share a key.

Tools that touch QuickBooks take a `company` argument (realm id, or company name compared
case-insensitively and exactly; `tools.base.run_tool` hands it to `pick`). Without it:
1. QBO_REALM_ID's company (which must be connected: refused at start otherwise);
2. else the only connected company the caller may use;
3. else, with nothing connected, the built-in demo company (`Settings.serves_demo`) or none at
   all ("no company connected", as before several companies existed).
With several companies and no QBO_REALM_ID there is no default: a call without `company` is
answered with the companies to choose from, and nothing is sent.

Who sees what. A bearer token limited to some companies (`qb-mcp tokens add --company`) is shown
and given only those: any other is unknown to it, refused before anything is sent. JWT principals
(QBO_AUTH_ISSUER) reach every company; their scopes say whether they may write.

New companies (a hosted `auth login` completed by this or another replica, or `qb-mcp auth login`
on the same database) need no restart: `list_companies` re-reads the connections, and so does a
`company` naming none known yet. A company whose connection was deleted stops being listed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any, NoReturn

import anyio
import httpx2

from qb_mcp.callers import Caller
from qb_mcp.errors import (
    ConfigError,
    InvalidArgumentError,
    NotConnectedError,
    QbMcpError,
    ReauthorizationRequiredError,
    TokenStoreError,
)
from qb_mcp.quoting import quoted
from qb_mcp.store import connections, open_store
from qb_mcp.store.connections import ConnectionRow
from qb_mcp.tools.base import AppState, Connected, ObservingTransport

if TYPE_CHECKING:
    from anyio.abc import TaskGroup, TaskStatus

    from qb_mcp.config import Settings
    from qb_mcp.emulator import Emulator
    from qb_mcp.qbo.limiter import RealmLimiter
    from qb_mcp.store.db import Database
    from qb_mcp.webhooks.catchup import CatchUp

log = logging.getLogger(__name__)

EMULATOR_STATE_FILE = "emulator-state.json"
EMULATOR_BASE_URL = "http://emulator"
# Realm ids are about 20 digits and company names short: anything longer is not a company.
MAX_COMPANY_CHARS = 200


class Companies:
    """The companies a server reaches (module docstring); the lifespan's context."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        fallback: AppState,
        open_company: Callable[[ConnectionRow], AppState] | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`fallback`: the demo company (or "none") served while nothing is connected.
        `open_company`: a state for a connection row; None serves the fallback alone (an
        emulator given by a test or the demo, whatever is connected)."""
        self.settings = settings
        self.database = database
        self.clock = clock
        self.fallback = fallback
        self.faults = fallback.faults  # one list for `explain_fault`, whichever company failed
        fallback.companies = self
        self._open_company = open_company
        self._states: dict[str, AppState] = {}
        self._rows: dict[str, ConnectionRow] = {}  # the connections listed now, in order
        self._catch_up: CatchUp | None = None

    @property
    def serves_connections(self) -> bool:
        """Whether connected companies are served (not only a given emulator's demo company)."""
        return self._open_company is not None

    async def reload(self) -> None:
        """Re-read the connections of the configured environment: new ones are added (opened
        on first use), deleted ones no longer listed (their state stays until shutdown)."""
        if self._open_company is None:
            return
        rows = [
            row
            for row in await connections.list_all(self.database)
            if row.environment == self.settings.environment
        ]
        for row in rows:
            state = self._states.get(row.realm_id)
            if state is None:
                state = self._states[row.realm_id] = self._open_company(row)
                state.companies = self
                state.faults = self.faults
                state.catch_up = self._catch_up
            elif row.company_name:
                state.company_name = row.company_name
        self._rows = {row.realm_id: row for row in rows}

    def listed(self) -> list[AppState]:
        """The companies served now: the connected ones, else the demo company (never "none")."""
        if self._rows:
            return [self._states[realm_id] for realm_id in self._rows]
        return [self.fallback] if self.fallback.source == "emulator" else []

    def row(self, realm_id: str | None) -> ConnectionRow | None:
        """The stored connection of a listed company (as last read)."""
        return None if realm_id is None else self._rows.get(realm_id)

    def known(self, realm_id: str) -> AppState | None:
        """The state of `realm_id` if this server has one open (for event handling)."""
        found = self._states.get(realm_id)
        if found is None and self.fallback.realm_id == realm_id:
            return self.fallback
        return found

    def all_states(self) -> list[AppState]:
        """Every state opened, listed or not (to close, and to hand the catch-up to)."""
        return [self.fallback, *self._states.values()]

    def any(self) -> AppState:
        """A state for tools that touch no company (`explain_fault`, `list_companies`): they
        use only what every state shares (settings, database, the fault list)."""
        listed = self.listed()
        for state in listed:
            if state.realm_id == self.settings.realm_id:
                return state
        return listed[0] if listed else self.fallback

    @property
    def catch_up(self) -> CatchUp | None:
        return self._catch_up

    @catch_up.setter
    def catch_up(self, value: CatchUp | None) -> None:
        # Every company's `recent_changes(catch_up=true)` runs through the one catch-up.
        self._catch_up = value
        for state in self.all_states():
            state.catch_up = value

    async def usable(self, caller: Caller | None) -> list[AppState]:
        """The listed companies `caller` may use (all of them without a caller)."""
        listed = self.listed()
        if caller is None or caller.companies is None:
            return listed
        return [state for state in listed if caller.may_use(await realm_of(state))]

    async def default(self, caller: Caller | None) -> AppState | None:
        """The company a call without `company` works on (module docstring); None: none is."""
        usable = await self.usable(caller)
        wanted = self.settings.realm_id
        if wanted is not None:
            for state in usable:
                if state.realm_id == wanted:
                    return state
        if len(usable) == 1:
            return usable[0]
        if not self._rows and self.fallback.source == "none":
            return self.fallback  # nothing connected: its tools say so
        return None

    async def pick(self, company: Any, caller: Caller | None) -> AppState:
        """The company named by a tool's `company` argument (None: the default), or an
        `InvalidArgumentError` listing the caller's choices. Nothing is sent to QuickBooks."""
        if company is None or (isinstance(company, str) and not company.strip()):
            found = await self.default(caller)
            if found is not None:
                return found
            await self._refuse("several companies are connected and none was named", caller)
        if isinstance(company, bool) or not isinstance(company, str | int):
            raise InvalidArgumentError("company: give a realm id or a company name (text)")
        if len(str(company)) > MAX_COMPANY_CHARS:
            raise InvalidArgumentError(
                f"company: at most {MAX_COMPANY_CHARS} characters (a realm id or company name)"
            )
        wanted = str(company).strip()
        found = await self._match(wanted, caller)
        if found is None and self.serves_connections:
            await self.reload()  # connected since, by another process or replica
            found = await self._match(wanted, caller)
        if found is None:
            limited = caller is not None and caller.companies is not None
            await self._refuse(
                f"{quoted(wanted, limit=60)} is not a connected company"
                + (" this token may use" if limited else ""),
                caller,
            )
        return found

    async def _match(self, wanted: str, caller: Caller | None) -> AppState | None:
        usable = await self.usable(caller)
        for state in usable:
            if await realm_of(state) == wanted:
                return state
        folded = wanted.casefold()
        named = [s for s in usable if s.company_name and s.company_name.casefold() == folded]
        if len(named) > 1:
            raise InvalidArgumentError(
                f"company: several companies are named {quoted(wanted, limit=60)}: "
                f"{choices(named)}; give the realm id"
            )
        return named[0] if named else None

    async def _refuse(self, why: str, caller: Caller | None) -> NoReturn:
        usable = await self.usable(caller)
        for state in usable:
            await realm_of(state)  # the demo company's, to name it
        if caller is not None and caller.companies is not None and not usable:
            why = (
                f"the token {caller.name!r} is limited to {', '.join(caller.companies)}, "
                "and none of those is connected here"
            )
        elif not usable:
            why = "no company is connected: run `qb-mcp auth login`"
        else:
            why += f"; choose one of: {choices(usable)}"
        raise InvalidArgumentError(f"company: {why}")

    async def aclose(self) -> None:
        """Close every company's client (those opened)."""
        for state in self.all_states():
            if state.connected is not None:
                try:
                    await state.connected.aclose()
                except Exception as exc:  # one company's failure must not keep others open
                    log.warning("could not close realm %s: %s", state.realm_id, type(exc).__name__)


COMPANY_URI_PREFIX = "qbo://companies/"
# The resources that stand for the default company (`qb_mcp.server_resources`).
DEFAULT_COMPANY_URIS = frozenset({"qbo://company", "qbo://events/recent", "qbo://audit/recent"})


def company_in_uri(uri: str) -> tuple[bool, str | None]:
    """(whether `uri` is one company's resource, the company it names: None for the default
    company's short URIs). An event's URI (`qbo://events/{id}`) is not: its company is the
    stored event's."""
    if uri in DEFAULT_COMPANY_URIS:
        return True, None
    if uri.startswith(COMPANY_URI_PREFIX):
        from urllib.parse import unquote

        return True, unquote(uri.removeprefix(COMPANY_URI_PREFIX).split("/", 1)[0])
    return False, None


def choices(states: list[AppState]) -> str:
    """`realm (name), ...` for an error message; names from QuickBooks are quoted as data."""
    return ", ".join(
        f"{state.realm_id or '(demo)'} ({quoted(state.company_name or 'unnamed', limit=60)})"
        for state in states
    )


async def realm_of(state: AppState) -> str | None:
    """The company's realm id (opening the demo company, whose realm is known only then); None
    when it cannot be opened."""
    if state.realm_id is None:
        with suppress(QbMcpError):
            await state.qbo()
    return state.realm_id


# ---- opening the companies ---------------------------------------------------------------------


@asynccontextmanager
async def open_state(
    settings: Settings,
    *,
    emulator: Emulator | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
    limiter: RealmLimiter | None = None,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[Companies]:
    """Open the database and the companies (clients are made on first use, see `AppState.qbo`);
    close the clients and save the emulator's state on exit.

    `emulator`: serve this emulator's demo company alone, whatever is connected (tests, demo).
    `transport`: the HTTP transport of the connected companies' API and OAuth calls (tests).
    `limiter`: one request budget for every company (tests); default: each realm its own
    process-wide budget (`qbo.limiter.limiter_for`), QuickBooks' limits being per company.
    """
    database = await open_store(settings)
    try:
        async with anyio.create_task_group() as tasks:
            companies = await _companies(
                settings, database, tasks, emulator, transport, limiter, clock
            )
            try:
                yield companies
            finally:
                await companies.aclose()
                # Stops the emulator's state saver, which saves once more on its way out.
                tasks.cancel_scope.cancel()
    finally:
        await database.close()


async def _companies(
    settings: Settings,
    database: Database,
    tasks: TaskGroup,
    emulator: Emulator | None,
    transport: httpx2.AsyncBaseTransport | None,
    limiter: RealmLimiter | None,
    clock: Callable[[], float],
) -> Companies:
    default = None if emulator is not None else await choose_connection(settings, database)
    if default is not None:
        _check_token_key(settings, default)
    if emulator is not None or settings.serves_demo:
        fallback = AppState(
            settings=settings,
            database=database,
            source="emulator",
            environment="emulator",
            connect=lambda: _connect_emulator(settings, database, tasks, emulator, limiter, clock),
            clock=clock,
        )
    else:
        fallback = AppState(
            settings=settings,
            database=database,
            source="none",
            environment=settings.environment,
            connect=lambda: _not_connected(settings),
            clock=clock,
        )

    def open_company(row: ConnectionRow) -> AppState:
        return AppState(
            settings=settings,
            database=database,
            source="connection",
            environment=row.environment,
            connect=lambda: _connect_company(settings, database, row, transport, limiter, clock),
            realm_id=row.realm_id,
            company_name=row.company_name,
            clock=clock,
        )

    companies = Companies(
        settings,
        database,
        fallback=fallback,
        open_company=None if emulator is not None else open_company,
        clock=clock,
    )
    await companies.reload()
    _log_served(settings, companies, quiet_demo=emulator is not None)
    return companies


def _log_served(settings: Settings, companies: Companies, *, quiet_demo: bool) -> None:
    """Which companies are served, on stderr (stdout carries MCP messages only)."""
    listed = [state for state in companies.listed() if state.source == "connection"]
    if listed:
        # Not a problem: INFO. (The demo company below is a WARNING: its books are not real.)
        for state in listed:
            log.info(
                "serving QuickBooks company %s (realm %s, %s)%s",
                state.company_name or "(name unknown)",
                state.realm_id,
                state.environment,
                "; read-only" if settings.read_only else "",
            )
        if len(listed) > 1 and settings.realm_id is None:
            log.info("several companies and no QBO_REALM_ID: tools need their company argument")
    elif companies.fallback.source == "none":
        log.warning(
            "QBO_ENVIRONMENT=%s and no company is connected in it: every tool answers "
            "'no company connected' until you run `qb-mcp auth login` (the demo company "
            "is served only with QBO_ENVIRONMENT unset or emulator)",
            settings.environment,
        )
    elif not quiet_demo:
        log.warning(
            "no QuickBooks company is connected: serving the built-in emulator's "
            "demo company (kept in %s); run `qb-mcp auth login` to connect yours",
            settings.home / EMULATOR_STATE_FILE,
        )


async def _not_connected(settings: Settings) -> Connected:
    raise NotConnectedError(
        f"no company connected in the {settings.environment} environment: run `qb-mcp auth login`"
    )


async def _connect_emulator(
    settings: Settings,
    database: Database,
    tasks: TaskGroup,
    given: Emulator | None,
    limiter: RealmLimiter | None,
    clock: Callable[[], float],
) -> Connected:
    from qb_mcp.emulator import DEMO_REALM_ID, Emulator, EmulatorConfig
    from qb_mcp.qbo.client import QBOClient

    emulator = given
    if emulator is None:
        emulator = Emulator(EmulatorConfig(state_path=settings.home / EMULATOR_STATE_FILE))
        await tasks.start(_keep_running, emulator)
    realm_id = str(DEMO_REALM_ID)
    client = QBOClient(
        realm_id=realm_id,
        token_source=EmulatorTokens(emulator),
        base_url=EMULATOR_BASE_URL,
        database=database,
        transport=ObservingTransport(httpx2.ASGITransport(app=emulator.app)),
        limiter=limiter,
        clock=clock,
    )
    name = emulator.backend.company_info(realm_id).get("CompanyName")
    return Connected(
        client=client,
        realm_id=realm_id,
        company_name=name if isinstance(name, str) else None,
        emulator=emulator,
    )


async def _keep_running(
    emulator: Emulator, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    """The emulator's state saver, for the server's lifetime (saving on the way out)."""
    async with emulator.running():
        task_status.started()
        await anyio.sleep_forever()


async def _connect_company(
    settings: Settings,
    database: Database,
    row: ConnectionRow,
    transport: httpx2.AsyncBaseTransport | None,
    limiter: RealmLimiter | None,
    clock: Callable[[], float],
) -> Connected:
    """The company's own client and token source (its own OAuth client and token manager)."""
    from qb_mcp.auth.crypto import load_keyring
    from qb_mcp.auth.manager import TokenManager
    from qb_mcp.auth.wiring import api_base_url, intuit_oauth
    from qb_mcp.qbo.client import QBOClient

    oauth = intuit_oauth(settings, transport=transport)
    manager = TokenManager(
        database=database,
        keyring=load_keyring(settings, create=False),
        oauth=oauth,
        environment=settings.environment,
        clock=clock,
    )
    client = QBOClient(
        realm_id=row.realm_id,
        token_source=manager,
        base_url=api_base_url(settings),
        database=database,
        transport=ObservingTransport(transport or httpx2.AsyncHTTPTransport()),
        limiter=limiter,
        clock=clock,
    )
    return Connected(
        client=client,
        realm_id=row.realm_id,
        company_name=row.company_name,
        also_close=oauth.aclose,
    )


async def choose_connection(settings: Settings, database: Any) -> ConnectionRow | None:
    """The default connection: QBO_REALM_ID's, or the only one of the environment; None when
    none is connected or several are (each is then named with the tools' `company`)."""
    rows = await connections.list_all(database)
    if settings.realm_id is not None:
        for row in rows:
            if row.realm_id == settings.realm_id:
                return _check_environment(settings, row)
        known = ", ".join(row.realm_id for row in rows) or "none"
        raise ConfigError(
            f"QBO_REALM_ID={settings.realm_id} is not a connected company (connected: {known}); "
            "run `qb-mcp auth login` to connect it, or unset QBO_REALM_ID"
        )
    here = [row for row in rows if row.environment == settings.environment]
    if len(here) == 1:
        return here[0]
    if not here and len(rows) == 1:
        return _check_environment(settings, rows[0])
    if not here and rows:
        found = ", ".join(sorted({row.environment for row in rows}))
        raise ConfigError(
            f"no company is connected in the {settings.environment} environment (connected "
            f"in: {found}); set QBO_ENVIRONMENT to serve them"
        )
    return None


def _check_token_key(settings: Settings, row: ConnectionRow) -> ConnectionRow:
    """Refuse to start when the configured keys cannot read the default company's tokens: a
    valid but wrong QBO_TOKEN_KEYS would otherwise fail every tool call with a token error.
    (Another company's missing key shows in `list_companies` as KEY MISSING.)"""
    from qb_mcp.auth.crypto import load_keyring

    try:
        keyring = load_keyring(settings, create=False)
    except TokenStoreError as exc:
        raise ConfigError(f"{exc}; check QBO_TOKEN_KEYS with `qb-mcp doctor`") from None
    if not keyring.has_key(row.key_id):
        raise ConfigError(
            f"QBO_TOKEN_KEYS does not hold key {row.key_id}, which the tokens of realm "
            f"{row.realm_id} were encrypted with: put it back (newest first, older keys after "
            "it) or run `qb-mcp auth login` again; `qb-mcp doctor` shows every check"
        )
    return row


def _check_environment(settings: Settings, row: ConnectionRow) -> ConnectionRow:
    # Said at startup, in one line, rather than as a failure of every tool call.
    if row.environment != settings.environment:
        raise ConfigError(
            f"realm {row.realm_id} was connected in the {row.environment} environment; "
            f"set QBO_ENVIRONMENT={row.environment} to serve it"
        )
    return row


class EmulatorTokens:
    """The in-process emulator's tokens: issued directly, re-issued when one expires."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self._tokens: dict[str, str] = {}

    async def access_token(self, realm_id: str) -> str:
        token = self._tokens.get(realm_id)
        if token is None:
            token = self._tokens[realm_id] = self._issue(realm_id)
        return token

    async def refresh_after_rejection(self, realm_id: str, rejected_token: str) -> str:
        token = self._tokens.get(realm_id)
        if token is None or token == rejected_token:
            token = self._tokens[realm_id] = self._issue(realm_id)
        return token

    def _issue(self, realm_id: str) -> str:
        try:
            return self._emulator.issue_tokens(realm_id).access_token
        except ValueError:
            raise ReauthorizationRequiredError(
                f"the built-in emulator has no company {realm_id}"
            ) from None
