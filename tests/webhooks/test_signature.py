"""The intuit-signature check, against Intuit's own test vector."""

from __future__ import annotations

import json
from pathlib import Path

from qb_mcp.webhooks.signature import sign, verify

VECTOR_TOKEN = "b5771f19b12ddb4bcdb9f08bdc50bc63878a"
VECTOR_SIGNATURE = "JC2GUwciPmRBwEO7WvrRmKqu9tGOKL8FFallocTFi8Q="


def raw_body(samples_dir: Path) -> bytes:
    return (samples_dir / "webhook-legacy-signed.raw-body.txt").read_bytes()


def test_intuits_test_vector_verifies(samples_dir: Path) -> None:
    assert verify(raw_body(samples_dir), VECTOR_SIGNATURE, VECTOR_TOKEN)


def test_sign_reproduces_intuits_signature(samples_dir: Path) -> None:
    assert sign(raw_body(samples_dir), VECTOR_TOKEN) == VECTOR_SIGNATURE


def test_the_same_json_pretty_printed_does_not_verify(samples_dir: Path) -> None:
    pretty = (samples_dir / "webhook-legacy-signed.json").read_bytes()
    assert json.loads(pretty) == json.loads(raw_body(samples_dir))
    assert not verify(pretty, VECTOR_SIGNATURE, VECTOR_TOKEN)


def test_another_token_does_not_verify(samples_dir: Path) -> None:
    assert not verify(raw_body(samples_dir), VECTOR_SIGNATURE, "another-token")


def test_one_changed_byte_does_not_verify(samples_dir: Path) -> None:
    body = raw_body(samples_dir).replace(b'"id":"1"', b'"id":"2"')
    assert not verify(body, VECTOR_SIGNATURE, VECTOR_TOKEN)


def test_missing_empty_and_garbage_signatures_are_false(samples_dir: Path) -> None:
    body = raw_body(samples_dir)
    for signature in (None, "", "not base64 at all!", "JC2G", VECTOR_SIGNATURE[:-4]):
        assert not verify(body, signature, VECTOR_TOKEN), signature


def test_an_empty_token_never_verifies() -> None:
    assert not verify(b"{}", sign(b"{}", ""), "")
