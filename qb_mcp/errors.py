"""One exception hierarchy for everything qb-mcp raises on purpose.

Fields are keyword-only so that call sites read as what they mean. No exception text ever holds a
token, a client secret or an Authorization header: constructors take only the fields listed here,
and the QBO fault mapping (`qb_mcp.qbo.faults`) copies only Intuit's own error fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class QbMcpError(Exception):
    """Base class of every error qb-mcp raises deliberately."""

    # What happened, the fix and what to call next, in the words a tool error carries (the
    # explain engine's); set on errors raised through the Python API (`qb_mcp.Books`).
    explanation: str | None = None


class ConfigError(QbMcpError):
    """A missing or malformed setting; the message names the variable or flag."""


class InvalidArgumentError(QbMcpError, ValueError):
    """Bad input caught before anything was sent or written."""


@dataclass(frozen=True, slots=True)
class FaultDetail:
    """One `Error` item of a QBO fault, as Intuit sent it."""

    code: str
    message: str = ""
    detail: str = ""
    element: str = ""


class QBOError(QbMcpError):
    """QuickBooks answered with a fault (or could not be reached, see `TransportError`)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        errors: Sequence[FaultDetail] = (),
        fault_type: str = "",
        intuit_tid: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.errors: tuple[FaultDetail, ...] = tuple(errors)
        self.fault_type = fault_type
        self.intuit_tid = intuit_tid

    @property
    def code(self) -> str | None:
        """The first error's code, the one that decides the class."""
        return self.errors[0].code if self.errors else None

    def __str__(self) -> str:
        tid = f" (intuit_tid {self.intuit_tid})" if self.intuit_tid else ""
        return f"{self.message}{tid}"


class AuthenticationError(QBOError):
    """401 / codes 100, 3200: the access token is expired or invalid."""


class AuthorizationError(QBOError):
    """403 / codes 120, 3100: access lost or the accounting scope is missing."""


class ThrottledError(QBOError):
    """Code 3001 (HTTP 429, or 403 in old captures): over the rate limit."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class UnsupportedOperationError(QBOError):
    """Code 500: wrong URL or entity name."""


class DuplicateRequestError(QBOError):
    """Code 600: a requestid reused for a different request."""


class NotFoundError(QBOError):
    """Code 610: the object does not exist, was deleted, or is inactive."""


class ValidationError(QBOError):
    """Codes 2000-4999 (other than throttling): the request itself is wrong."""


class QueryError(ValidationError):
    """Codes 4000-4002: the query could not be parsed, validated or run."""


class StaleObjectError(QBOError):
    """Code 5010: the SyncToken is old; re-read and re-apply."""


class BusinessRuleError(QBOError):
    """Codes 5000-9999: QuickBooks refused the change under one of its rules."""


class DuplicateNameError(BusinessRuleError):
    """Code 6240: the DisplayName is taken by another customer, vendor or employee."""


class ServerError(QBOError):
    """HTTP 5xx or codes 10000+: Intuit's side failed; retry later with the same requestid."""


class TransportError(QBOError):
    """No answer at all: connection refused or reset, or a timeout."""


class ConflictError(QbMcpError):
    """A stale-object recovery found the fields we meant to change changed by someone else."""

    def __init__(
        self, message: str, *, entity: str, entity_id: str, changed: Sequence[str]
    ) -> None:
        super().__init__(message)
        self.entity = entity
        self.entity_id = entity_id
        self.changed: tuple[str, ...] = tuple(changed)


class OAuthError(QbMcpError):
    """Intuit's OAuth server refused a request (`{"error": ...}` bodies)."""

    def __init__(
        self,
        message: str,
        *,
        error: str,
        status_code: int | None = None,
        description: str = "",
        intuit_tid: str | None = None,
    ) -> None:
        super().__init__(message)
        self.error = error
        self.status_code = status_code
        self.description = description
        self.intuit_tid = intuit_tid


class InvalidGrantError(OAuthError):
    """`invalid_grant`: the refresh token or code is expired, used, or superseded."""


class InvalidClientError(OAuthError):
    """`invalid_client`: the client id or secret is wrong."""


class NotConnectedError(QbMcpError):
    """No QuickBooks company is connected in the environment the user chose."""


class ReauthorizationRequiredError(QbMcpError):
    """The connection can no longer refresh; the user must run `qb-mcp auth login` again."""


class TokenStoreError(QbMcpError):
    """The encrypted token store cannot be read: wrong key, corrupted or tampered row."""
