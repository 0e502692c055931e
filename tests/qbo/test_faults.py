"""Every fault shape QuickBooks sends, mapped to the right exception with all its fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
from qb_mcp.qbo.faults import (
    classify,
    error_from_fault,
    error_from_oauth_response,
    error_from_response,
)

TID = {"intuit_tid": "1-5f1c2a3b-abcdef"}
THROTTLE_XML = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="2024-01-01T10:00:00.000-08:00">'
    b'<Fault type="SERVICE"><Error code="3001"><Message>message=ThrottleExceeded; '
    b"errorCode=003001; statusCode=429</Message><Detail>The request limit was reached.</Detail>"
    b"</Error></Fault></IntuitResponse>"
)
OLD_AUTH_XML = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="2013-03-29T15:58:08.976-07:00">'
    b'<Fault type="AuthenticationFault"><Error code="100"><Message>General Authentication Error'
    b"</Message><Detail>AuthenticationErrorGeneral: SRV-110-Authentication Failure , statusCode: 401"
    b"</Detail></Error></Fault></IntuitResponse>"
)
GATEWAY_401 = json.dumps(
    {
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": "Token expired: AB11...",
                    "code": "3200",
                }
            ],
            "type": "AUTHENTICATION",
        },
        "time": 1700000000000,
    }
).encode()


def sample(samples_dir: Path, name: str) -> bytes:
    return (samples_dir / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "cls", "code"),
    [
        ("fault-4000-query-parse.json", QueryError, "4000"),
        ("fault-4002-query-processing.json", QueryError, "4002"),
        ("fault-6000-business-validation.json", BusinessRuleError, "6000"),
        ("fault-6240-duplicate-name.json", DuplicateNameError, "6240"),
    ],
)
def test_standard_json_samples_map_by_code(
    samples_dir: Path, name: str, cls: type[QBOError], code: str
) -> None:
    body = sample(samples_dir, name)
    original = json.loads(body)["Fault"]["Error"][0]
    error = error_from_response(400, TID, body)
    assert type(error) is cls
    assert error.code == code
    assert error.status_code == 400
    assert error.fault_type == "ValidationFault"
    assert error.intuit_tid == TID["intuit_tid"]
    assert error.errors[0].message == original["Message"]
    assert error.errors[0].detail == original["Detail"]
    assert original["Message"] in str(error)
    assert code in str(error)
    assert TID["intuit_tid"] in str(error)


def test_duplicate_name_is_a_business_rule_error(samples_dir: Path) -> None:
    error = error_from_response(400, {}, sample(samples_dir, "fault-6240-duplicate-name.json"))
    assert isinstance(error, BusinessRuleError)


def test_xml_fault_with_several_errors_keeps_each(samples_dir: Path) -> None:
    error = error_from_response(400, TID, sample(samples_dir, "fault-multiple-errors-official.xml"))
    assert type(error) is ValidationError
    assert error.errors == (
        FaultDetail(
            "2050", "Length exceeds limit", "Length of the field exceeds 21 chars", "firstname"
        ),
        FaultDetail(
            "2080",
            "Illegal number format",
            "ZipCode should be a number with at least 5 digits",
            "postalcode",
        ),
    )
    text = str(error)
    assert "2050" in text and "2080" in text
    assert "firstname" in text and "postalcode" in text


def test_json_fault_with_several_errors_keeps_each() -> None:
    body = {
        "Fault": {
            "Error": [
                {"Message": "Required param missing", "Detail": "need Line", "code": "2020"},
                {
                    "Message": "Length exceeds limit",
                    "Detail": "too long",
                    "code": "2050",
                    "element": "DisplayName",
                },
            ],
            "type": "ValidationFault",
        }
    }
    error = error_from_response(400, {}, json.dumps(body).encode())
    assert type(error) is ValidationError
    assert [e.code for e in error.errors] == ["2020", "2050"]
    assert error.errors[1].element == "DisplayName"


def test_batch_item_faults_map_one_by_one(samples_dir: Path) -> None:
    items = json.loads(sample(samples_dir, "fault-batch-item-errors.json"))["BatchItemResponse"]
    errors = [error_from_fault(i["Fault"], status_code=200, intuit_tid="tid-1") for i in items]
    assert [type(e) for e in errors] == [DuplicateNameError, NotFoundError, StaleObjectError]
    assert [e.code for e in errors] == ["6240", "610", "5010"]
    assert all(e.intuit_tid == "tid-1" for e in errors)


def test_batch_response_with_item_faults_is_not_itself_an_error(samples_dir: Path) -> None:
    assert error_from_response(200, TID, sample(samples_dir, "batch-response.json")) is None


def test_gateway_lower_case_401_is_authentication() -> None:
    error = error_from_response(401, TID, GATEWAY_401)
    assert type(error) is AuthenticationError
    assert error.code == "3200"
    assert error.fault_type == "AUTHENTICATION"
    assert error.errors[0].detail.startswith("Token expired")


def test_gateway_403_is_authorization() -> None:
    body = {
        "fault": {
            "error": [{"message": "AuthorizationFailed", "detail": "scope", "code": "3100"}],
            "type": "AUTHORIZATION",
        }
    }
    error = error_from_response(403, {}, json.dumps(body).encode())
    assert type(error) is AuthorizationError
    assert error.code == "3100"


def test_xml_throttle_is_throttled_with_retry_after() -> None:
    error = error_from_response(429, {**TID, "Retry-After": "7"}, THROTTLE_XML)
    assert isinstance(error, ThrottledError)
    assert error.code == "3001"
    assert error.fault_type == "SERVICE"
    assert error.retry_after == 7.0
    assert "ThrottleExceeded" in str(error)


@pytest.mark.parametrize("status", [403, 200, 400, 500])
def test_3001_is_throttling_whatever_the_status(status: int) -> None:
    error = error_from_response(status, {}, THROTTLE_XML)
    assert isinstance(error, ThrottledError)
    assert error.status_code == status
    assert error.retry_after is None


def test_throttle_code_found_in_message_when_code_attribute_missing() -> None:
    body = THROTTLE_XML.replace(b' code="3001"', b"")
    error = error_from_response(403, {}, body)
    assert isinstance(error, ThrottledError)
    assert error.code == "3001"


def test_retry_after_as_http_date_uses_the_given_clock() -> None:
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    headers = {"retry-after": "Mon, 01 Jan 2024 12:00:30 GMT"}
    error = error_from_response(429, headers, b"")
    assert isinstance(error, ThrottledError)
    assert error.retry_after == 0.0  # the real clock is past that date: no wait, never negative
    error = error_from_response(429, headers, b"", now=now)
    assert isinstance(error, ThrottledError)
    assert error.retry_after == 30.0


def test_old_xml_authentication_fault_code_100() -> None:
    error = error_from_response(401, TID, OLD_AUTH_XML)
    assert type(error) is AuthenticationError
    assert error.code == "100"
    assert error.fault_type == "AuthenticationFault"
    assert "General Authentication Error" in str(error)


def test_fault_inside_a_200_is_an_error(samples_dir: Path) -> None:
    error = error_from_response(200, TID, sample(samples_dir, "fault-6240-duplicate-name.json"))
    assert type(error) is DuplicateNameError
    assert error.status_code == 200


@pytest.mark.parametrize(
    "name",
    ["customer-read-response.json", "query-response-invoice.json", "cdc-response.json"],
)
def test_ordinary_2xx_answers_are_not_errors(samples_dir: Path, name: str) -> None:
    assert error_from_response(200, TID, sample(samples_dir, name)) is None


def test_html_502_page_is_a_server_error_with_its_title() -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502</h1></body></html>"
    error = error_from_response(502, {"Content-Type": "text/html; charset=utf-8", **TID}, page)
    assert type(error) is ServerError
    assert error.status_code == 502
    assert error.errors == ()
    assert "502 Bad Gateway" in str(error)
    assert "text/html" in str(error)
    assert TID["intuit_tid"] in str(error)


def test_empty_503_is_a_server_error() -> None:
    error = error_from_response(503, {}, b"")
    assert type(error) is ServerError
    assert "503" in str(error) and "empty" in str(error)


def test_500_code_10000_is_a_server_error() -> None:
    body = {
        "Fault": {
            "Error": [
                {
                    "Message": "An application error has occurred while processing your request",
                    "Detail": "System Failure Error: An unexpected error occurred",
                    "code": "10000",
                }
            ],
            "type": "SystemFault",
        }
    }
    error = error_from_response(500, TID, json.dumps(body).encode())
    assert type(error) is ServerError
    assert error.code == "10000"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthenticationError),
        (403, AuthorizationError),
        (429, ThrottledError),
        (404, UnsupportedOperationError),
        (400, ValidationError),
    ],
)
def test_plain_text_bodies_map_by_status(status: int, cls: type[QBOError]) -> None:
    error = error_from_response(status, {"Content-Type": "text/plain"}, b"Something went wrong")
    assert type(error) is cls
    assert "Something went wrong" in str(error)


@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [
        ("500", 400, UnsupportedOperationError),
        ("600", 400, DuplicateRequestError),
        ("610", 400, NotFoundError),
        ("1040", 400, ValidationError),
        ("2500", 400, ValidationError),
        ("4001", 400, QueryError),
        ("5010", 400, StaleObjectError),
        ("6070", 400, BusinessRuleError),
        ("120", 403, AuthorizationError),
        ("3100", 403, AuthorizationError),
        ("3200", 401, AuthenticationError),
        ("10000", 500, ServerError),
        ("3001", 403, ThrottledError),
        ("700", 503, ServerError),
        # Intuit failing: the 5xx wins over a code that would otherwise be the caller's to fix.
        ("3100", 500, ServerError),
        ("6000", 500, ServerError),
        ("2020", 502, ServerError),
    ],
)
def test_classify_by_code_then_status(code: str, status: int, cls: type[QBOError]) -> None:
    assert classify(code, status) is cls


def test_bearer_and_authorization_values_are_scrubbed() -> None:
    page = (
        b"<html><body>upstream said: Authorization: Bearer eyJhbGciOi.secret-token.xyz "
        b"and access_token=abc123secret</body></html>"
    )
    error = error_from_response(502, {}, page)
    text = str(error)
    assert "eyJhbGciOi" not in text
    assert "secret-token" not in text
    assert "abc123secret" not in text
    assert "[redacted]" in text


def test_token_inside_fault_detail_is_scrubbed() -> None:
    body = {
        "Fault": {
            "Error": [
                {
                    "Message": "AuthenticationFailed",
                    "Detail": "header Authorization=Bearer sk-live-123",
                    "code": "3200",
                }
            ],
            "type": "AUTHENTICATION",
        }
    }
    error = error_from_response(401, {}, json.dumps(body).encode())
    assert isinstance(error, AuthenticationError)
    assert "sk-live-123" not in str(error)
    assert "sk-live-123" not in error.errors[0].detail


def test_xml_with_doctype_or_entity_is_not_parsed() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b'<IntuitResponse><Fault type="SERVICE"><Error code="3001"><Message>&lol2;</Message>'
        b"</Error></Fault></IntuitResponse>"
    )
    error = error_from_response(400, {}, bomb)
    assert type(error) is ValidationError
    assert error.errors == ()
    assert "lollol" not in str(error)


def test_oversized_xml_is_not_parsed() -> None:
    body = THROTTLE_XML.replace(
        b"</IntuitResponse>", b"<!--" + b"x" * 300_000 + b"--></IntuitResponse>"
    )
    error = error_from_response(400, {}, body)
    assert type(error) is ValidationError
    assert error.errors == ()


def test_headers_are_read_case_insensitively() -> None:
    error = error_from_response(503, {"INTUIT_TID": "abc"}, b"")
    assert error is not None and error.intuit_tid == "abc"


def test_oauth_invalid_grant_sample(samples_dir: Path) -> None:
    error = error_from_oauth_response(
        400, sample(samples_dir, "oauth-error-invalid-grant.json"), intuit_tid="t-9"
    )
    assert type(error) is InvalidGrantError
    assert error.error == "invalid_grant"
    assert error.description == "Incorrect or invalid refresh token"
    assert error.status_code == 400
    assert "invalid_grant" in str(error) and "t-9" in str(error)


def test_oauth_bare_invalid_grant_and_invalid_client() -> None:
    assert type(error_from_oauth_response(400, b'{"error":"invalid_grant"}')) is InvalidGrantError
    client = error_from_oauth_response(401, b'{"error":"invalid_client"}')
    assert type(client) is InvalidClientError
    assert "client id and secret" in str(client)


def test_oauth_unknown_error_and_non_json_body() -> None:
    other = error_from_oauth_response(400, b'{"error":"invalid_request","error_description":"bad"}')
    assert type(other) is OAuthError
    assert other.error == "invalid_request"
    page = error_from_oauth_response(502, b"<html><title>Bad Gateway</title></html>")
    assert type(page) is OAuthError
    assert page.error == "http_502"
    assert "Bad Gateway" in str(page)


def test_oauth_error_description_is_scrubbed() -> None:
    body = b'{"error":"invalid_grant","error_description":"refresh_token=RT1-secret was bad"}'
    error = error_from_oauth_response(400, body)
    assert "RT1-secret" not in str(error)
    assert "RT1-secret" not in error.description


def test_basic_credentials_and_jwts_are_scrubbed() -> None:
    page = b"echo: Basic Y2xpZW50OnNlY3JldA== token eyJlbmMiOiJBMTI4Q0JDLUhTMjU2In0..abcDEF12.ghiJKL34.mno"
    text = str(error_from_response(502, {}, page))
    assert "Y2xpZW50OnNlY3JldA" not in text
    assert "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2In0" not in text
    assert "abcDEF12" not in text


def test_odd_intuit_tid_header_is_not_echoed() -> None:
    error = error_from_response(503, {"intuit_tid": "Bearer abc def"}, b"")
    assert error is not None
    assert error.intuit_tid is None
    assert "abc" not in str(error)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
fault_like = st.fixed_dictionaries(
    {"Fault": st.fixed_dictionaries({"Error": json_values, "type": json_values})}
) | st.fixed_dictionaries(
    {"fault": st.dictionaries(st.sampled_from(["error", "type"]), json_values)}
)


@given(st.integers(100, 599), st.binary(max_size=300))
def test_any_bytes_give_an_error_or_none_never_a_crash(status: int, content: bytes) -> None:
    error = error_from_response(status, {}, content)
    if 200 <= status < 300:
        assert error is None or isinstance(error, QBOError)
    else:
        assert isinstance(error, QBOError)
        assert error.status_code == status


@given(st.integers(100, 599), fault_like | json_values)
def test_any_json_gives_an_error_or_none_never_a_crash(status: int, body: object) -> None:
    error = error_from_response(status, {}, json.dumps(body).encode())
    if not 200 <= status < 300:
        assert isinstance(error, QBOError)
    assert error is None or str(error)


@given(st.text(max_size=200))
def test_xml_fuzz_never_crashes(text: str) -> None:
    body = f'<?xml version="1.0"?><IntuitResponse><Fault type="x"><Error code="1">{text}</Error></Fault></IntuitResponse>'
    error = error_from_response(400, {}, body.encode())
    assert isinstance(error, QBOError)


def test_unknown_xml_encoding_is_not_a_crash() -> None:
    error = error_from_response(400, {}, b'<?xml version="1.0" encoding="bogus"?><Fault/>')
    assert type(error) is ValidationError
