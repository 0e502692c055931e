"""`GET {entity}/{id}/pdf`: a sales form as a real PDF, drawn with fpdf2.

QuickBooks answers the form as `application/pdf`, "formatted according to custom form styles in
the company settings" (Intuit's Invoice reference, "Get an invoice as PDF"). The emulator has no
form styles: one plain layout, with what a customer reads on the form (the company, the number
and dates, bill-to, each line, the total and what is still owed). Choices:
- The PDF core fonts hold Latin-1 only, and no Unicode font ships with fpdf2: any other character
  is drawn as "?" (names and amounts stay readable; the JSON API still has the exact text).
- The document's creation date is the emulator's clock, so a fixed clock gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

TITLES = {
    "Invoice": "INVOICE",
    "Estimate": "ESTIMATE",
    "SalesReceipt": "SALES RECEIPT",
    "CreditMemo": "CREDIT MEMO",
    "RefundReceipt": "REFUND RECEIPT",
}
# Column widths in millimetres on an A4/Letter page with 15 mm margins: 180 mm in all.
_COLUMNS = (("Description", 100, "L"), ("Qty", 20, "R"), ("Rate", 30, "R"), ("Amount", 30, "R"))


def _latin1(value: Any) -> str:
    return str(value).encode("latin-1", "replace").decode("latin-1")


def _money(value: Any) -> str:
    amount = value if isinstance(value, Decimal) else Decimal(str(value or 0))
    return f"{amount.quantize(Decimal('0.01')):,.2f}"


def _plain(value: Any) -> str:
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    return "" if value is None else str(value)


def _address(addr: Mapping[str, Any] | None) -> list[str]:
    if not addr:
        return []
    lines = [str(addr[key]) for key in ("Line1", "Line2", "Line3", "Line4") if addr.get(key)]
    place = " ".join(
        str(addr[key]) for key in ("City", "CountrySubDivisionCode", "PostalCode") if addr.get(key)
    )
    return [*lines, place] if place else lines


def render(entity: str, obj: Mapping[str, Any], company: Mapping[str, Any], now: float) -> bytes:
    """The PDF of one stored sales form."""
    from fpdf import FPDF  # imported here: only a PDF request pays for loading it

    pdf = FPDF(format="letter")
    pdf.set_creation_date(datetime.fromtimestamp(now, UTC))
    pdf.set_title(_latin1(f"{TITLES[entity].title()} {obj.get('DocNumber') or obj.get('Id')}"))
    pdf.set_margins(15, 15, 15)
    pdf.add_page()

    def line(text: str, *, size: int = 10, style: str = "", height: float = 5.5) -> None:
        pdf.set_font("helvetica", style, size)
        pdf.cell(0, height, _latin1(text), new_x="LMARGIN", new_y="NEXT")

    line(str(company.get("CompanyName") or "Company"), size=14, style="B", height=7)
    line(TITLES[entity], size=18, style="B", height=10)
    if obj.get("DocNumber"):
        line(f"No. {obj['DocNumber']}")
    line(f"Date: {obj.get('TxnDate', '')}")
    if obj.get("DueDate"):
        line(f"Due: {obj['DueDate']}")
    pdf.ln(3)
    customer = obj.get("CustomerRef") or {}
    line("Bill to", style="B")
    for text in [str(customer.get("name") or ""), *_address(obj.get("BillAddr"))]:
        if text:
            line(text)
    pdf.ln(4)

    pdf.set_font("helvetica", "B", 10)
    for title, width, align in _COLUMNS:
        pdf.cell(width, 7, title, border="B", align=align)
    pdf.ln(7)
    pdf.set_font("helvetica", "", 10)
    for item in obj.get("Line") or []:
        if item.get("DetailType") not in ("SalesItemLineDetail", "DescriptionOnly"):
            continue
        detail = item.get("SalesItemLineDetail") or {}
        name = (detail.get("ItemRef") or {}).get("name") or ""
        text = " - ".join(str(part) for part in (name, item.get("Description")) if part)
        cells = (
            text,
            _plain(detail.get("Qty")),
            _money(detail["UnitPrice"]) if detail.get("UnitPrice") is not None else "",
            _money(item.get("Amount")) if "Amount" in item else "",
        )
        for value, (_title, width, align) in zip(cells, _COLUMNS, strict=True):
            pdf.cell(width, 6.5, _latin1(value)[:70], align=align)
        pdf.ln(6.5)
    pdf.ln(2)

    def total(label: str, value: Any, *, bold: bool = False) -> None:
        pdf.set_font("helvetica", "B" if bold else "", 11)
        pdf.cell(150, 7, label, align="R")
        pdf.cell(30, 7, _money(value), align="R", new_x="LMARGIN", new_y="NEXT")

    total("Total", obj.get("TotalAmt"), bold=True)
    if entity == "Invoice":
        total("Balance due", obj.get("Balance"))
    if entity == "CreditMemo":
        total("Remaining credit", obj.get("RemainingCredit"))
    memo = (obj.get("CustomerMemo") or {}).get("value")
    if memo:
        pdf.ln(4)
        pdf.set_font("helvetica", "I", 10)
        pdf.multi_cell(0, 5, _latin1(memo)[:2000])
    drawn = pdf.output()  # typed `bytearray | None` by some releases: None only for a file name
    if drawn is None:  # pragma: no cover
        raise RuntimeError("fpdf2 returned no PDF")
    return bytes(drawn)
