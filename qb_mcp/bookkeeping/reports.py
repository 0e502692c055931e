"""Reports: QuickBooks' Reports API (`GET reports/{name}`) read into a small table.

A QuickBooks report is `Header`, `Columns.Column[]` (ColTitle, ColType) and `Rows.Row[]`, where a
row is a Data row (`ColData[]`, a cell's `value` and sometimes the `id` of the customer, account
or transaction it names) or a Section with its own Header, Rows and a Summary (a subtotal; the
last one, `group: GrandTotal`, is the report's total). Intuit's report references; samples in
tests/samples/report-*.json.

The table keeps what an assistant needs: the column titles, each data row (its section, label,
the id it names, its values) and each subtotal and total. Money cells are decimal strings with
two places; QuickBooks' empty money cell ("") is 0.00. Text from QuickBooks stays data.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from qb_mcp.bookkeeping.common import (
    CUSTOMER_ID,
    CUSTOMER_NAME,
    DateIn,
    IdIn,
    InputModel,
    Line1,
    resolve_customer,
    text,
)
from qb_mcp.qbo.client import QBOClient

ReportName = Literal[
    "aged_receivables", "aged_receivable_detail", "customer_balance", "profit_and_loss"
]
QBO_NAMES: dict[str, str] = {
    "aged_receivables": "AgedReceivables",
    "aged_receivable_detail": "AgedReceivableDetail",
    "customer_balance": "CustomerBalance",
    "profit_and_loss": "ProfitAndLoss",
}
MAX_ROWS = 500
CENTS = Decimal("0.01")


class ReportInput(InputModel):
    """Which report, for when, for whom."""

    name: ReportName = Field(description="which report")
    as_of: DateIn | None = Field(default=None, description="default today")
    start_date: DateIn | None = Field(default=None, description="profit_and_loss from")
    end_date: DateIn | None = Field(default=None, description="profit_and_loss to")
    customer_id: IdIn | None = Field(default=None, description=CUSTOMER_ID)
    customer_name: Line1 | None = Field(default=None, max_length=500, description=CUSTOMER_NAME)

    @model_validator(mode="after")
    def _dates(self) -> ReportInput:
        pnl = self.name == "profit_and_loss"
        if pnl and self.as_of is not None:
            raise ValueError("profit_and_loss takes start_date/end_date, not as_of")
        if not pnl and (self.start_date or self.end_date):
            raise ValueError(f"{self.name} takes as_of, not start_date/end_date")
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise ValueError("start_date is after end_date")
        if self.customer_id is not None and self.customer_name is not None:
            raise ValueError("give customer_id or customer_name, not both")
        return self


class ReportRow(BaseModel):
    """One data row."""

    section: str | None = None
    label: str | None
    id: str | None = None
    values: list[str]


class ReportTotal(BaseModel):
    """A subtotal, or the report's total (`group` GrandTotal, NetIncome, ...)."""

    label: str | None
    group: str | None = None
    values: list[str]


class ReportResult(BaseModel):
    """A QuickBooks report as a table."""

    report: str
    period: str | None = Field(description="as-of date or start..end")
    columns: list[str] = Field(description="titles of each row's values")
    rows: list[ReportRow]
    totals: list[ReportTotal]
    truncated: bool = False


async def run_report(
    client: QBOClient, params: ReportInput, *, today: date | None = None
) -> ReportResult:
    """Ask QuickBooks for the report and trim it into a table."""
    query: dict[str, str] = {}
    if params.customer_id is not None or params.customer_name is not None:
        customer = await resolve_customer(
            client, customer_id=params.customer_id, customer_name=params.customer_name
        )
        query["customer"] = str(customer["Id"])
    if params.name == "profit_and_loss":
        if params.start_date:
            query["start_date"] = params.start_date.isoformat()
        if params.end_date:
            query["end_date"] = params.end_date.isoformat()
        if params.start_date and not params.end_date:
            query["end_date"] = (today or date.today()).isoformat()
    elif params.as_of:
        query["report_date"] = params.as_of.isoformat()
    answer = await client.report(QBO_NAMES[params.name], query)
    return trim(answer)


def trim(report: Mapping[str, Any]) -> ReportResult:
    """The table of a QuickBooks report object."""
    header = _obj(report.get("Header"))
    columns = [
        c for c in _list(_obj(report.get("Columns")).get("Column")) if isinstance(c, Mapping)
    ]
    money = [str(c.get("ColType", "")).lower() == "money" for c in columns]
    titles = [text(c.get("ColTitle")) or text(c.get("ColType")) or "" for c in columns]
    rows: list[ReportRow] = []
    totals: list[ReportTotal] = []
    truncated = _walk(_obj(report.get("Rows")), None, money, rows, totals)
    start, end = text(header.get("StartPeriod")), text(header.get("EndPeriod"))
    as_of = next(
        (
            text(o.get("Value"))
            for o in _list(header.get("Option"))
            if isinstance(o, Mapping) and o.get("Name") == "report_date"
        ),
        None,
    )
    period = as_of or (f"{start}..{end}" if start or end else None)
    return ReportResult(
        report=text(header.get("ReportName")) or "",
        period=period,
        columns=titles[1:],  # the first column holds each row's label
        rows=rows,
        totals=totals,
        truncated=truncated,
    )


def _walk(
    block: Mapping[str, Any],
    section: str | None,
    money: list[bool],
    rows: list[ReportRow],
    totals: list[ReportTotal],
) -> bool:
    truncated = False
    for row in _list(block.get("Row")):
        if not isinstance(row, Mapping):
            continue
        if row.get("ColData") is not None:
            if len(rows) >= MAX_ROWS:
                truncated = True
                continue
            label, cell_id, values = _cells(row.get("ColData"), money)
            rows.append(ReportRow(section=section, label=label, id=cell_id, values=values))
            continue
        title = (
            _cells(_obj(row.get("Header")).get("ColData"), money)[0] if row.get("Header") else None
        )
        inner = _obj(row.get("Rows"))
        if inner:
            truncated |= _walk(inner, title or section, money, rows, totals)
        summary = _obj(row.get("Summary"))
        if summary:
            label, _, values = _cells(summary.get("ColData"), money)
            totals.append(ReportTotal(label=label, group=text(row.get("group")), values=values))
    return truncated


def _cells(raw: Any, money: list[bool]) -> tuple[str | None, str | None, list[str]]:
    cells = [c for c in _list(raw) if isinstance(c, Mapping)]
    if not cells:
        return None, None, []
    values = [
        _amount(str(c.get("value", "")))
        if index < len(money) and money[index]
        else str(c.get("value", ""))
        for index, c in enumerate(cells)
    ]
    return text(cells[0].get("value")), text(cells[0].get("id")), values[1:]


def _amount(value: str) -> str:
    if value.strip() == "":
        return "0.00"
    try:
        return f"{Decimal(value.replace(',', '')).quantize(CENTS):f}"
    except InvalidOperation:
        return value[:40]  # not a number after all: shown as sent


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
