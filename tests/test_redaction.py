"""One set of secret patterns (qb_mcp/redaction.py) for faults, log messages and explanations."""

from __future__ import annotations

import pytest

from qb_mcp.redaction import redact

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"


def test_tokens_secrets_and_authorization_values_are_removed() -> None:
    text = (
        f"Authorization: Bearer tok-123 id_token={JWT} "
        '{"refresh_token": "RT-9", "client_secret":"shh"} code=AB12&state=x the-secret-value'
    )
    cleaned = redact(text, ["the-secret-value"])
    for secret in ("tok-123", JWT, "RT-9", "shh", "AB12", "the-secret-value"):
        assert secret not in cleaned
    assert "state=x" in cleaned


@pytest.mark.parametrize(
    "text, secret",
    [
        ('{"Authorization": "Bearer abc.def"}', "abc.def"),
        ("authorization=Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("password=hunter2&user=x", "hunter2"),
        ("verifier_token: 'v-123'", "v-123"),
        (f"upstream echoed {JWT} back", JWT),
    ],
)
def test_each_form_of_a_secret_is_removed(text: str, secret: str) -> None:
    assert secret not in redact(text)


@pytest.mark.parametrize(
    "text", ['{"code": "6240"}', "errorCode=003001", "statusCode=400", "code=6240"]
)
def test_quickbooks_error_codes_are_kept(text: str) -> None:
    # explain_fault reads these: a code made of digits is QuickBooks', not an OAuth code.
    assert redact(text) == text


def test_short_configured_secrets_are_not_looked_for() -> None:
    assert redact("abc of it", ["abc"]) == "abc of it"
