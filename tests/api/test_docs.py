"""docs/python.md runs: every ```python block, in order, in one namespace, against the demo
company, so the documentation cannot drift from the API."""

from __future__ import annotations

import re
import sys
import types
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qb_mcp.store.events import StoredEvent
from qb_mcp.webhooks import signature
from qb_mcp.webhooks.forward import delivery_body

DOC = Path(__file__).resolve().parents[2] / "docs" / "python.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of each ```python block."""
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in BLOCK.finditer(text)]


def test_the_doc_has_the_crm_flows() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name in (
        "def sync_customer_from_contact",
        "def create_quote",
        "def convert_quote_to_invoice",
        "def sync_payment",
        "def quickbooks_event_view",
        "def sync_customer_from_quickbooks",
        "async def main",
    ):
        assert name in text, name


def test_every_python_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("QBO_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("QBO_HOME", str(tmp_path / "home"))
    # A module of its own: the doc's dataclass looks its module up in sys.modules.
    module = types.ModuleType("docs_python")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    namespace = module.__dict__
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 10
    try:
        for line, code in blocks:
            compiled = compile("\n" * (line - 1) + code, str(DOC), "exec")
            exec(compiled, namespace)
    finally:
        books = namespace.get("books")
        if books is not None:
            books.close()  # type: ignore[attr-defined]
    contacts = namespace["CONTACTS"]
    assert all(contact.quickbooks_id for contact in contacts.values())  # type: ignore[attr-defined]
    # The doc's view takes a delivery exactly as the forwarder makes it, and refuses a tampered one.
    view = namespace["quickbooks_event_view"]
    secret = str(namespace["FORWARD_SECRET"])
    body = delivery_body(forwarded_event()).encode()
    signed = signature.sign(body, secret)
    assert view(body, signed) == (200, "queued")  # type: ignore[operator]
    assert view(body, signed) == (200, "duplicate")  # type: ignore[operator]
    assert view(body.replace(b"58", b"59"), signed)[0] == 401  # type: ignore[operator]


def forwarded_event() -> StoredEvent:
    return StoredEvent(
        seq=1,
        event_id="evt_" + "a" * 24,
        realm_id="9341453050298",
        entity="Customer",
        entity_id="58",
        operation="Update",
        occurred_at=datetime(2026, 3, 2, 10, 15, tzinfo=UTC),
        source="cloudevents",
        received_at=1772446501.25,
    )
