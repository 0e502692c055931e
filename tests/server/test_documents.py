"""get_invoice_pdf and the resource `qbo://invoices/{id}/pdf` through a real MCP client session,
both eras: the bytes are a real PDF of the invoice (its customer, lines and total)."""

from __future__ import annotations

import base64
import dataclasses
import re
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import MCPError
from mcp.types import BlobResourceContents, EmbeddedResource

from qb_mcp.config import Settings
from qb_mcp.emulator import Emulator
from qb_mcp.emulator.app import DEMO_REALM_ID
from tests.server.conftest import connect, error_text

pytestmark = pytest.mark.anyio


def page_text(pdf: bytes) -> bytes:
    """The drawn text of a PDF: its content streams, inflated (fpdf2 compresses them)."""
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S)
    assert streams
    return b"".join(zlib.decompress(stream) for stream in streams)


def first_invoice(emulator: Emulator) -> dict[str, Any]:
    answer = emulator.backend.query(DEMO_REALM_ID, "SELECT * FROM Invoice WHERE Balance > '0'")
    invoice: dict[str, Any] = answer["QueryResponse"]["Invoice"][0]
    return invoice


async def test_the_tool_embeds_the_invoice_as_a_pdf_resource(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    invoice = first_invoice(emulator)
    async with connect(settings, emulator, mode) as s:
        result = await s.client.call_tool("get_invoice_pdf", {"doc_number": invoice["DocNumber"]})
        by_id = await s.call("get_invoice_pdf", {"id": invoice["Id"]})
        read = await s.client.read_resource(f"qbo://invoices/{invoice['Id']}/pdf")
    assert not result.is_error, error_text(result)
    summary = result.structured_content
    assert summary is not None and summary == by_id
    assert (summary["invoice_id"], summary["uri"]) == (
        invoice["Id"],
        f"qbo://invoices/{invoice['Id']}/pdf",
    )
    assert "pdf" not in summary  # the bytes travel as the resource, not inside the JSON
    embedded = [block for block in result.content if isinstance(block, EmbeddedResource)]
    assert len(embedded) == 1
    resource = embedded[0].resource
    assert isinstance(resource, BlobResourceContents)
    assert (str(resource.uri), resource.mime_type) == (summary["uri"], "application/pdf")
    pdf = base64.b64decode(resource.blob)
    assert summary["size_bytes"] == len(pdf)
    text = page_text(pdf)
    assert f"({invoice['TotalAmt']:,.2f})".encode() in text
    assert b"(INVOICE)" in text and f"No. {invoice['DocNumber']}".encode() in text
    for line in invoice["Line"]:
        if line["DetailType"] == "SalesItemLineDetail":
            assert f"({line['Amount']:,.2f})".encode() in text
    (contents,) = read.contents
    assert isinstance(contents, BlobResourceContents)
    assert contents.mime_type == "application/pdf"
    assert page_text(base64.b64decode(contents.blob)) == text


async def test_a_wrong_invoice_is_an_explained_error(
    settings: Settings, emulator: Emulator, mode: str
) -> None:
    async with connect(settings, emulator, mode) as s:
        missing = await s.fail("get_invoice_pdf", {"id": "9999"})
        both = await s.fail("get_invoice_pdf", {"id": "1", "doc_number": "1001"})
        with pytest.raises(MCPError) as caught:
            await s.client.read_resource("qbo://invoices/9999/pdf")
    assert "9999" in missing and "Fix:" in missing
    assert "exactly one" in both
    assert "9999" in str(caught.value)


async def test_the_template_is_listed_and_stays_in_read_only_mode(
    settings: Settings, emulator: Emulator
) -> None:
    async with connect(dataclasses.replace(settings, read_only=True), emulator) as s:
        templates = (await s.client.list_resource_templates()).resource_templates
        tools = {tool.name for tool in (await s.client.list_tools()).tools}
    listed = {t.uri_template: t for t in templates}
    assert listed["qbo://invoices/{id}/pdf"].mime_type == "application/pdf"
    assert "get_invoice_pdf" in tools


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    arguments=st.dictionaries(
        st.sampled_from(["id", "doc_number", "format"]),
        st.one_of(
            st.none(),
            st.integers(-3, 2000),
            st.text(max_size=12),
            st.sampled_from(["1", "1001", "9999", "'", "../1", "1; DROP", ""]),
        ),
        max_size=3,
    )
)
def test_any_arguments_give_a_pdf_or_an_explained_error_and_write_nothing(
    arguments: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    import anyio

    async def one(mode: str) -> None:
        home = tmp_path_factory.mktemp("pdf") / "home"
        emulator = Emulator()
        async with connect(Settings(home=home, environment="emulator"), emulator, mode) as s:
            before = s.state()
            result = await s.client.call_tool("get_invoice_pdf", arguments)
            if result.is_error:
                assert "Fix:" in error_text(result), error_text(result)
            else:
                blob = next(b for b in result.content if isinstance(b, EmbeddedResource))
                assert isinstance(blob.resource, BlobResourceContents)
                assert base64.b64decode(blob.resource.blob).startswith(b"%PDF-")
            assert s.state() == before, arguments

    for mode in ("auto", "legacy"):
        anyio.run(one, mode)
