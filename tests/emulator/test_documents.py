"""`GET {entity}/{id}/pdf`: a real PDF of the stored form, and QuickBooks' faults otherwise."""

from __future__ import annotations

import re
import zlib

import httpx2
import pytest

from tests.emulator.test_contract import first_id

pytestmark = pytest.mark.anyio


def drawn_text(pdf: bytes) -> bytes:
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S)
    return b"".join(zlib.decompress(stream) for stream in streams)


async def test_an_invoice_pdf_shows_the_customer_lines_and_totals(
    client: httpx2.AsyncClient, base: str
) -> None:
    invoice_id = await first_id(client, base, "Invoice")
    invoice = (await client.get(f"{base}/invoice/{invoice_id}")).json()["Invoice"]
    answer = await client.get(f"{base}/invoice/{invoice_id}/pdf")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF-") and answer.content.rstrip().endswith(b"%%EOF")
    text = drawn_text(answer.content)
    name = invoice["CustomerRef"]["name"].encode("latin-1", "replace")
    assert b"(" + name.replace(b"(", b"\\(").replace(b")", b"\\)") in text
    assert f"({invoice['TotalAmt']:,.2f})".encode() in text
    assert f"({invoice['Balance']:,.2f})".encode() in text


async def test_a_missing_invoice_or_a_customer_gets_quickbooks_faults(
    client: httpx2.AsyncClient, base: str
) -> None:
    missing = await client.get(f"{base}/invoice/9999/pdf")
    assert missing.status_code == 400 and missing.json()["Fault"]["Error"][0]["code"] == "610"
    customer_id = await first_id(client, base, "Customer")
    refused = await client.get(f"{base}/customer/{customer_id}/pdf")
    assert refused.status_code == 400 and refused.json()["Fault"]["Error"][0]["code"] == "500"
