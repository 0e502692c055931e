"""Taking secrets out of text we pass on: one set of patterns for every place that copies text.

Text from outside (a QuickBooks fault, an HTML error page, an OAuth answer, a log record, a fault
pasted into `explain_fault`) can carry credentials: a bearer token, Basic credentials, an
Authorization value, OAuth fields in a form body or a JSON document, a JWT anywhere. `redact` is
applied wherever such text reaches an exception, a log message or a tool result
(`qbo/faults.py`, `server_logging.py`, `bookkeeping/explain.py`), so that all of them agree on
what a secret looks like.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"

# The `code` field is an OAuth authorization code only when it holds a letter: QuickBooks' own
# error codes ("code": "6240", errorCode=003001) are digits and are what `explain_fault` reads.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\bbearer\s+[^\s\"'<>,;]+"), "Bearer " + REDACTED),
    (re.compile(r"(?i)\bbasic\s+[A-Za-z0-9+/]{8,}={0,2}"), "Basic " + REDACTED),
    (
        re.compile(r"(?i)(\bauthorization\b[\"']?\s*[:=]\s*)(?:\"[^\"]*\"|'[^']*'|[^\r\n,;<}]*)"),
        r"\1" + REDACTED,
    ),
    # Intuit access tokens are JWTs/JWEs ("eyJ..." dot-separated base64url parts).
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}(?:\.[A-Za-z0-9_-]*){1,4}"), REDACTED),
    (
        re.compile(
            r"(?i)(\b(?:access_token|refresh_token|id_token|client_secret|verifier_token"
            r"|password)\b[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;<}]+"
        ),
        r"\1" + REDACTED,
    ),
    (
        re.compile(r"(?i)(\bcode\b[\"']?\s*[:=]\s*[\"']?)(?=[^\s\"'&,;<}]*[A-Za-z])[^\s\"'&,;<}]+"),
        r"\1" + REDACTED,
    ),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without credentials, token fields or JWTs, and without any of `secrets` verbatim
    (the configured client secret, say; values shorter than 4 characters are not looked for)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
