"""QuickBooks answers to exceptions: the one place a fault body becomes a `QBOError`.

QuickBooks reports failure in several shapes (QBO_API.md section 4): the standard JSON `Fault`
(possibly several errors, possibly inside a 200), the gateway's lower-case JSON for 401/403, XML
`IntuitResponse` faults (throttling, old authentication failures) even when JSON was asked for,
and plain text, HTML or nothing at all from proxies. The class is decided by the error code first
and the HTTP status second (`classify`), never by the fault's `type`, which Intuit spells several
ways.

Text copied from an answer is scrubbed of anything that looks like a bearer token or an
Authorization header value before it reaches an exception: a misbehaving proxy can echo our
request headers back in an error page, and exception text ends up in logs and tool results.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from qb_mcp.errors import (
    AuthenticationError,
    AuthorizationError,
    BusinessRuleError,
    DuplicateNameError,
    DuplicateRequestError,
    FaultDetail,
    InvalidClientError,
    InvalidGrantError,
    NotFoundError,
    OAuthError,
    QBOError,
    QueryError,
    ServerError,
    StaleObjectError,
    ThrottledError,
    UnsupportedOperationError,
    ValidationError,
)
from qb_mcp.qbo.retry import parse_retry_after
from qb_mcp.redaction import redact

# An XML fault is a few hundred bytes; refuse to parse anything near this size as XML.
MAX_XML_BYTES = 256 * 1024
# Error bodies are small; a huge one is not worth parsing for a message (2xx bodies are parsed
# only when they can hold a top-level Fault, see `_json_fault`).
MAX_ERROR_JSON_BYTES = 4 * 1024 * 1024
# How much of any copied text (a Detail, an HTML page) goes into an exception.
MAX_TEXT = 1000
SNIPPET = 300

_CODE_IN_MESSAGE = re.compile(r"errorCode=0*(\d+)")
_VALID_TID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_TAGS = re.compile(r"<[^>]*>")
_TITLE = re.compile(r"(?is)<title[^>]*>(.*?)</title>")
_SPACE = re.compile(r"\s+")

_OAUTH_CLASSES: dict[str, type[OAuthError]] = {
    "invalid_grant": InvalidGrantError,
    "invalid_client": InvalidClientError,
}


def error_from_response(
    status_code: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    now: datetime | None = None,
) -> QBOError | None:
    """The exception for an API answer, or None for a 2xx answer that carries no Fault.

    `now` is only used to turn a `Retry-After` HTTP date into seconds (defaults to the clock).
    """
    intuit_tid = _tid(_header(headers, "intuit_tid") or _header(headers, "intuit-tid"))
    retry_after = parse_retry_after(
        _header(headers, "retry-after"), now=(now or datetime.now(UTC)).timestamp()
    )
    success = 200 <= status_code < 300
    fault = _find_fault(content, success=success)
    if fault is None:
        if success:
            return None
        return _without_fault(status_code, headers, content, intuit_tid, retry_after)
    errors, fault_type = fault
    return _build(
        errors,
        fault_type=fault_type,
        status_code=status_code,
        intuit_tid=intuit_tid,
        retry_after=retry_after,
    )


def error_from_fault(
    fault: Mapping[str, Any], *, status_code: int | None, intuit_tid: str | None
) -> QBOError:
    """The exception for one `Fault` object, e.g. a failed BatchItemResponse item's."""
    errors, fault_type = _json_fault_parts(fault)
    return _build(errors, fault_type=fault_type, status_code=status_code, intuit_tid=intuit_tid)


def error_from_oauth_response(
    status_code: int, content: bytes, *, intuit_tid: str | None = None
) -> OAuthError:
    """The exception for a refusal from Intuit's OAuth server (`{"error": ...}` bodies)."""
    error = ""
    description = ""
    body = _json_object(content, limit=MAX_ERROR_JSON_BYTES)
    if body is not None:
        error = _clean(_text(body.get("error")))
        description = _clean(_text(body.get("error_description")))
    if not error:
        # Not the documented shape (a proxy page, an empty body): keep what little there is.
        error = f"http_{status_code}"
        description = description or _body_snippet(content)
    cls = _OAUTH_CLASSES.get(error, OAuthError)
    parts = [f"Intuit's OAuth server refused the request (HTTP {status_code}): {error}"]
    if description:
        parts.append(f"— {description}")
    if cls is InvalidGrantError:
        parts.append("(the refresh token or code is expired, used or superseded; log in again)")
    elif cls is InvalidClientError:
        parts.append("(check the client id and secret)")
    if intuit_tid:
        parts.append(f"(intuit_tid {intuit_tid})")
    return cls(
        " ".join(parts),
        error=error,
        status_code=status_code,
        description=description,
        intuit_tid=intuit_tid,
    )


def classify(code: str | None, status_code: int | None) -> type[QBOError]:
    """The exception class for an error code and HTTP status (QBO_API.md section 4)."""
    number = int(code) if code is not None and code.isdigit() else None
    # Throttling first: 3001 arrives as 429, as 403 in old captures, even inside a 200.
    if number == 3001:
        return ThrottledError
    # A 5xx is Intuit failing, whatever code it carries (`statusCode=500; errorCode=003100` is
    # not a missing scope): retrying later can help, so the status wins (explain.py agrees).
    if status_code is not None and status_code >= 500:
        return ServerError
    if number is not None:
        specific = _SPECIFIC_CODES.get(number)
        if specific is not None:
            return specific
    if status_code == 429:
        return ThrottledError
    if status_code == 401:
        return AuthenticationError
    if status_code == 403:
        return AuthorizationError
    if number is not None:
        if 1 <= number <= 499:
            return AuthenticationError
        if 500 <= number <= 599:
            return UnsupportedOperationError
        if 2000 <= number <= 4999:
            return ValidationError
        if 5000 <= number <= 9999:
            return BusinessRuleError
        if number >= 10000:
            return ServerError
    return _by_status(status_code)


_SPECIFIC_CODES: dict[int, type[QBOError]] = {
    100: AuthenticationError,
    3200: AuthenticationError,
    120: AuthorizationError,
    3100: AuthorizationError,
    600: DuplicateRequestError,
    610: NotFoundError,
    # 1040 sits in the "general" range but is our request's fault (more than 30 batch items):
    # retrying it unchanged can never succeed, which is what ValidationError says.
    1040: ValidationError,
    4000: QueryError,
    4001: QueryError,
    4002: QueryError,
    5010: StaleObjectError,
    6240: DuplicateNameError,
}


def _by_status(status_code: int | None) -> type[QBOError]:
    if status_code is None:
        return QBOError
    if status_code >= 500:
        return ServerError
    if status_code == 404:
        # QuickBooks answers a missing object with 400/610; a bare 404 means the URL is wrong.
        return UnsupportedOperationError
    if status_code == 400:
        return ValidationError
    return QBOError


def _build(
    errors: Sequence[FaultDetail],
    *,
    fault_type: str,
    status_code: int | None,
    intuit_tid: str | None,
    retry_after: float | None = None,
) -> QBOError:
    first = errors[0].code if errors else None
    cls = classify(first, status_code)
    message = _describe(errors, status_code)
    kwargs: dict[str, Any] = {
        "status_code": status_code,
        "errors": tuple(errors),
        "fault_type": fault_type,
        "intuit_tid": intuit_tid,
    }
    if cls is ThrottledError:
        return ThrottledError(message, retry_after=retry_after, **kwargs)
    return cls(message, **kwargs)


def _describe(errors: Sequence[FaultDetail], status_code: int | None) -> str:
    status = f" (HTTP {status_code})" if status_code is not None else ""
    if not errors:
        return f"QuickBooks returned a fault with no error details{status}"
    parts = []
    for e in errors:
        text = f"error {e.code}" if e.code else "error"
        if e.message:
            text += f": {e.message}"
        if e.detail and e.detail != e.message:
            text += f" — {e.detail}"
        if e.element:
            text += f" [field: {e.element}]"
        parts.append(text)
    return f"QuickBooks {'; '.join(parts)}{status}"


def _without_fault(
    status_code: int,
    headers: Mapping[str, str],
    content: bytes,
    intuit_tid: str | None,
    retry_after: float | None,
) -> QBOError:
    cls = _by_status(status_code)
    if status_code == 429:
        cls = ThrottledError
    elif status_code == 401:
        cls = AuthenticationError
    elif status_code == 403:
        cls = AuthorizationError
    kind = (_header(headers, "content-type") or "").split(";")[0].strip() or "no content type"
    snippet = _body_snippet(content)
    if snippet:
        message = f"QuickBooks answered HTTP {status_code} without a fault ({kind}): {snippet}"
    else:
        message = f"QuickBooks answered HTTP {status_code} with an empty body"
    kwargs: dict[str, Any] = {"status_code": status_code, "intuit_tid": intuit_tid}
    if cls is ThrottledError:
        return ThrottledError(message, retry_after=retry_after, **kwargs)
    return cls(message, **kwargs)


# --- finding a fault in a body ------------------------------------------------------------------


def _find_fault(content: bytes, *, success: bool) -> tuple[list[FaultDetail], str] | None:
    head = content.lstrip()[:1]
    if head in (b"{", b"["):
        return _json_fault(content, success=success)
    if head == b"<":
        return _xml_fault(content)
    return None


def _json_fault(content: bytes, *, success: bool) -> tuple[list[FaultDetail], str] | None:
    if success and b"ault" not in content:
        # A 2xx body can be megabytes of query rows; only parse it when it can hold a Fault.
        return None
    body = _json_object(content, limit=None if success else MAX_ERROR_JSON_BYTES)
    if body is None:
        return None
    fault = body.get("Fault")
    if isinstance(fault, Mapping):
        return _json_fault_parts(fault)
    gateway = body.get("fault")
    if isinstance(gateway, Mapping):
        return _json_fault_parts(gateway)
    return None


def _json_fault_parts(fault: Mapping[str, Any]) -> tuple[list[FaultDetail], str]:
    """Errors and type of a `Fault` (standard, PascalCase) or `fault` (gateway, lower-case)."""
    raw = _get(fault, "Error")
    items: list[Any]
    if isinstance(raw, list):
        items = raw
    elif isinstance(raw, Mapping):
        items = [raw]  # a single error sometimes arrives unwrapped
    else:
        items = []
    errors = [
        _detail(
            code=_get(item, "code"),
            message=_get(item, "Message"),
            detail=_get(item, "Detail"),
            element=_get(item, "element"),
        )
        for item in items
        if isinstance(item, Mapping)
    ]
    return errors, _clean(_text(_get(fault, "type")))


def _get(obj: Mapping[str, Any], key: str) -> Any:
    """A field by its name in either casing: the gateway writes every key in lower case."""
    for name in (key, key.lower(), key[:1].lower() + key[1:], key[:1].upper() + key[1:]):
        if name in obj:
            return obj[name]
    return None


def _xml_fault(content: bytes) -> tuple[list[FaultDetail], str] | None:
    root = _parse_xml(content)
    if root is None:
        return None
    fault = root if _local(root.tag) == "Fault" else None
    if fault is None:
        fault = next((el for el in root.iter() if _local(el.tag) == "Fault"), None)
    if fault is None:
        return None
    errors = []
    for el in fault:
        if _local(el.tag) != "Error":
            continue
        children = {_local(child.tag): "".join(child.itertext()) for child in el}
        errors.append(
            _detail(
                code=el.get("code"),
                message=children.get("Message"),
                detail=children.get("Detail"),
                element=el.get("element"),
            )
        )
    return errors, _clean(fault.get("type") or "")


def _parse_xml(content: bytes) -> ET.Element | None:
    """Parse a small XML body, refusing DTDs so no entity can expand (billion laughs, XXE)."""
    if len(content) > MAX_XML_BYTES:
        return None
    lowered = content.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        return None
    try:
        # Safe here: the body is size-capped and holds no DTD, so there is nothing to expand.
        return ET.fromstring(content)  # noqa: S314
    except (ET.ParseError, LookupError, ValueError):
        # LookupError: an unknown encoding named in the XML declaration.
        return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _detail(*, code: Any, message: Any, detail: Any, element: Any) -> FaultDetail:
    code_text = _text(code).strip()
    message_text = _clean(_text(message))
    if not code_text:
        # The throttle message spells its code out: "errorCode=003001".
        found = _CODE_IN_MESSAGE.search(message_text)
        code_text = found.group(1) if found else ""
    return FaultDetail(
        code=_clean(code_text),
        message=message_text,
        detail=_clean(_text(detail)),
        element=_clean(_text(element)),
    )


# --- small helpers ------------------------------------------------------------------------------


def _json_object(content: bytes, *, limit: int | None) -> Mapping[str, Any] | None:
    if limit is not None and len(content) > limit:
        return None
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return body if isinstance(body, Mapping) else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _clean(text: str) -> str:
    text = redact(text)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _body_snippet(content: bytes) -> str:
    text = content[: 64 * 1024].decode("utf-8", errors="replace")
    title = _TITLE.search(text)
    # An error page's <title> ("502 Bad Gateway") says more than its markup does.
    text = title.group(1) if title else _TAGS.sub(" ", text)
    text = redact(_SPACE.sub(" ", text).strip())
    return text if len(text) <= SNIPPET else text[:SNIPPET] + "…"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        # A plain dict is case-sensitive; httpx2.Headers is not.
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value.strip() or None if value is not None else None


def _tid(value: str | None) -> str | None:
    # Intuit's transaction ids are short and plain; anything else in that header is not one and
    # must not be echoed into exception text.
    return value if value is not None and _VALID_TID.fullmatch(value) else None
