"""`GET reports/{name}`: four of QuickBooks' reports, computed from the company's data.

The shape is QuickBooks' (Intuit's report references; samples in tests/samples/report-*.json):
`{"Header": {...}, "Columns": {"Column": [...]}, "Rows": {"Row": [...]}}`, no top-level "time"
(the Header carries Time). A row is `{"ColData": [{"value": ..., "id"?}], "type": "Data"}` or a
`"type": "Section"` with Header, Rows and Summary; the last row of a summary report is the
`"group": "GrandTotal"` section. Amounts are strings with two decimals; an empty cell is "".

What each computes (choices where Intuit's pages are silent, each unverified):
- AgedReceivables (`report_date`, default today; `customer` ids, comma separated): each live,
  non-voided invoice dated on or before the report date with an open balance as of that date
  (TotalAmt - Deposit - what payments dated on or before it apply), by days past DueDate:
  Current (not yet due), 1 - 30, 31 - 60, 61 - 90, 91 and over. Unapplied payments are not
  netted in, so its total is the sum of open invoice balances.
- AgedReceivableDetail: the same invoices, one Data row each, in a section per bucket.
- CustomerBalance: the same open balances, one total per customer.
- ProfitAndLoss (`start_date`/`end_date`, default this calendar year to date; `customer`):
  accrual basis: sales lines of invoices and sales receipts dated in the period, by the income
  account of each line's item. The emulator keeps no expenses, so those sections are empty.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from qb_mcp.emulator import values as v
from qb_mcp.emulator.faults import unsupported_operation
from qb_mcp.emulator.realms import Obj

ZERO = Decimal("0.00")
BUCKETS = ("Current", "1 - 30", "31 - 60", "61 - 90", "91 and over")
REPORTS = ("AgedReceivables", "AgedReceivableDetail", "CustomerBalance", "ProfitAndLoss")
Rows = Callable[[str], list[Obj]]


def run(name: str, params: Mapping[str, str], rows_for: Rows, today: date, now: str) -> Obj:
    """The report `name` (case-insensitive) with query `params`."""
    canonical = {r.lower(): r for r in REPORTS}.get(str(name).lower())
    if canonical is None:
        raise unsupported_operation(f"Operation Report {str(name)[:60]} is not supported.")
    customers = _ids(params.get("customer"))
    if canonical == "ProfitAndLoss":
        start = _day(params, "start_date", date(today.year, 1, 1))
        end = _day(params, "end_date", today)
        if start > end:
            raise v.invalid_property("start_date must be before end_date", "start_date")
        return _profit_and_loss(rows_for, start, end, customers, now)
    as_of = _day(params, "report_date", today)
    opened = _open_invoices(rows_for, as_of, customers)
    header: Obj = {
        "Time": now,
        "ReportName": canonical,
        "Option": [
            {"Name": "report_date", "Value": as_of.isoformat()},
            {"Name": "NoReportData", "Value": "false" if opened else "true"},
        ],
        "Currency": "USD",
    }
    if customers:
        header["Customer"] = ",".join(sorted(customers))
    if canonical == "AgedReceivables":
        return _aged_summary(header, opened, as_of)
    if canonical == "AgedReceivableDetail":
        header["EndPeriod"] = as_of.isoformat()
        return _aged_detail(header, opened, as_of)
    return _customer_balance(header, opened)


def _ids(raw: str | None) -> set[str]:
    return {part.strip() for part in (raw or "").split(",") if part.strip()}


def _day(params: Mapping[str, str], key: str, default: date) -> date:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise v.invalid_property(f"{key} must be a date, YYYY-MM-DD", key) from None


def money(amount: Decimal, *, blank_zero: bool = False) -> str:
    """A report amount: two decimals; "" for an empty cell."""
    if blank_zero and amount == 0:
        return ""
    return f"{amount.quantize(ZERO):f}"


def _voided(obj: Mapping[str, Any]) -> bool:
    note = obj.get("PrivateNote") or ""
    return isinstance(note, str) and note.startswith("Voided") and obj.get("TotalAmt") == 0


def _open_invoices(rows_for: Rows, as_of: date, customers: set[str]) -> list[tuple[Obj, Decimal]]:
    """(invoice, open balance on `as_of`) for invoices open on that date, oldest first."""
    paid: dict[str, Decimal] = {}
    for payment in rows_for("Payment"):
        if date.fromisoformat(payment["TxnDate"]) > as_of:
            continue
        for line in payment.get("Line", []):
            invoice_id = line["LinkedTxn"][0]["TxnId"]
            paid[invoice_id] = paid.get(invoice_id, ZERO) + line["Amount"]
    out: list[tuple[Obj, Decimal]] = []
    for invoice in rows_for("Invoice"):
        if _voided(invoice) or date.fromisoformat(invoice["TxnDate"]) > as_of:
            continue
        if customers and invoice["CustomerRef"]["value"] not in customers:
            continue
        balance = invoice["TotalAmt"] - invoice.get("Deposit", ZERO) - paid.get(invoice["Id"], ZERO)
        if balance > 0:
            out.append((invoice, balance))
    out.sort(key=lambda pair: (pair[0].get("DueDate") or "", pair[0]["Id"].zfill(12)))
    return out


def _bucket(invoice: Mapping[str, Any], as_of: date) -> int:
    due = invoice.get("DueDate")
    late = (as_of - date.fromisoformat(due)).days if due else 0
    if late <= 0:
        return 0
    return min(4, 1 + (late - 1) // 30)


def _aged_summary(header: Obj, opened: list[tuple[Obj, Decimal]], as_of: date) -> Obj:
    per_customer: dict[str, tuple[str, list[Decimal]]] = {}
    for invoice, balance in opened:
        ref = invoice["CustomerRef"]
        _, cells = per_customer.setdefault(ref["value"], (ref.get("name", ""), [ZERO] * 5))
        cells[_bucket(invoice, as_of)] += balance
    rows: list[Obj] = []
    totals = [ZERO] * 5
    for customer_id, (name, cells) in sorted(per_customer.items(), key=lambda kv: kv[1][0]):
        totals = [t + c for t, c in zip(totals, cells, strict=True)]
        rows.append(
            {
                "ColData": [
                    {"id": customer_id, "value": name},
                    *({"value": money(c, blank_zero=True)} for c in cells),
                    {"value": money(sum(cells, ZERO))},
                ]
            }
        )
    rows.append(_grand_total([*totals, sum(totals, ZERO)]))
    columns = [{"ColType": "Customer", "ColTitle": ""}] + [
        {"ColType": "Money", "ColTitle": title} for title in (*BUCKETS, "Total")
    ]
    return {"Header": header, "Rows": {"Row": rows}, "Columns": {"Column": columns}}


_DETAIL_COLUMNS = (
    ("tx_date", "Date"),
    ("txn_type", "Transaction Type"),
    ("doc_num", "Num"),
    ("cust_name", "Customer"),
    ("due_date", "Due Date"),
    ("subt_open_bal", "Open Balance"),
)


def _aged_detail(header: Obj, opened: list[tuple[Obj, Decimal]], as_of: date) -> Obj:
    sections: list[list[tuple[Obj, Decimal]]] = [[] for _ in BUCKETS]
    for invoice, balance in opened:
        sections[_bucket(invoice, as_of)].append((invoice, balance))
    rows: list[Obj] = []
    grand = ZERO
    # QuickBooks lists the oldest bucket first.
    for index in reversed(range(len(BUCKETS))):
        if not sections[index]:
            continue
        title = "Current" if index == 0 else f"{BUCKETS[index]} days past due"
        subtotal = sum((balance for _, balance in sections[index]), ZERO)
        grand += subtotal
        data = [
            {
                "ColData": [
                    {"value": invoice["TxnDate"]},
                    {"id": invoice["Id"], "value": "Invoice"},
                    {"value": invoice.get("DocNumber", "")},
                    {
                        "id": invoice["CustomerRef"]["value"],
                        "value": invoice["CustomerRef"].get("name", ""),
                    },
                    {"value": invoice.get("DueDate", "")},
                    {"value": money(balance)},
                ],
                "type": "Data",
            }
            for invoice, balance in sections[index]
        ]
        blanks = [{"value": ""}] * (len(_DETAIL_COLUMNS) - 2)
        rows.append(
            {
                "Header": {"ColData": [{"value": title}, *blanks, {"value": ""}]},
                "Rows": {"Row": data},
                "Summary": {
                    "ColData": [
                        {"value": f"Total for {title}"},
                        *blanks,
                        {"value": money(subtotal)},
                    ]
                },
                "type": "Section",
            }
        )
    blanks = [{"value": ""}] * (len(_DETAIL_COLUMNS) - 2)
    rows.append(
        {
            "group": "GrandTotal",
            "type": "Section",
            "Summary": {"ColData": [{"value": "TOTAL"}, *blanks, {"value": money(grand)}]},
        }
    )
    columns = [{"ColType": kind, "ColTitle": title} for kind, title in _DETAIL_COLUMNS]
    return {"Header": header, "Rows": {"Row": rows}, "Columns": {"Column": columns}}


def _customer_balance(header: Obj, opened: list[tuple[Obj, Decimal]]) -> Obj:
    per_customer: dict[str, tuple[str, Decimal]] = {}
    for invoice, balance in opened:
        ref = invoice["CustomerRef"]
        name, total = per_customer.get(ref["value"], (ref.get("name", ""), ZERO))
        per_customer[ref["value"]] = (name, total + balance)
    rows: list[Obj] = [
        {"ColData": [{"id": cid, "value": name}, {"value": money(total)}]}
        for cid, (name, total) in sorted(per_customer.items(), key=lambda kv: kv[1][0])
    ]
    rows.append(_grand_total([sum((t for _, t in per_customer.values()), ZERO)]))
    columns = [{"ColType": "Customer", "ColTitle": ""}, {"ColType": "Money", "ColTitle": "Total"}]
    return {"Header": header, "Rows": {"Row": rows}, "Columns": {"Column": columns}}


def _grand_total(amounts: list[Decimal]) -> Obj:
    return {
        "group": "GrandTotal",
        "type": "Section",
        "Summary": {"ColData": [{"value": "TOTAL"}, *({"value": money(a)} for a in amounts)]},
    }


def _profit_and_loss(rows_for: Rows, start: date, end: date, customers: set[str], now: str) -> Obj:
    items = {item["Id"]: item for item in rows_for("Item")}
    accounts = {account["Id"]: account for account in rows_for("Account")}
    income: dict[str, Decimal] = {}
    for entity in ("Invoice", "SalesReceipt"):
        for txn in rows_for(entity):
            if _voided(txn) or not start <= date.fromisoformat(txn["TxnDate"]) <= end:
                continue
            if customers and txn["CustomerRef"]["value"] not in customers:
                continue
            for line in txn["Line"]:
                detail = line.get("SalesItemLineDetail")
                if detail is None:
                    continue
                item = items.get(detail["ItemRef"]["value"], {})
                account_id = (item.get("IncomeAccountRef") or {}).get("value", "1")
                income[account_id] = income.get(account_id, ZERO) + line["Amount"]
    total = sum(income.values(), ZERO)
    income_rows = [
        {
            "ColData": [
                {"id": account_id, "value": accounts.get(account_id, {}).get("Name", "")},
                {"value": money(amount)},
            ],
            "type": "Data",
        }
        for account_id, amount in sorted(income.items(), key=lambda kv: kv[0].zfill(12))
    ]

    def summary(group: str, label: str, amount: Decimal | None) -> Obj:
        value = "" if amount is None else money(amount)
        return {
            "group": group,
            "type": "Section",
            "Summary": {"ColData": [{"value": label}, {"value": value}]},
        }

    income_section: Obj = {
        "Header": {"ColData": [{"value": "Income"}, {"value": ""}]},
        "Rows": {"Row": income_rows},
        **summary("Income", "Total Income", total),
    }
    expenses: Obj = {
        "Header": {"ColData": [{"value": "Expenses"}, {"value": ""}]},
        **summary("Expenses", "Total Expenses", None),
    }
    header: Obj = {
        "Time": now,
        "ReportName": "ProfitAndLoss",
        "Option": [
            {"Name": "AccountingStandard", "Value": "GAAP"},
            {"Name": "NoReportData", "Value": "false" if income else "true"},
        ],
        "ReportBasis": "Accrual",
        "StartPeriod": start.isoformat(),
        "Currency": "USD",
        "EndPeriod": end.isoformat(),
        "SummarizeColumnsBy": "Total",
    }
    if customers:
        header["Customer"] = ",".join(sorted(customers))
    columns = [
        {
            "ColType": "Account",
            "ColTitle": "",
            "MetaData": [{"Name": "ColKey", "Value": "account"}],
        },
        {
            "ColType": "Money",
            "ColTitle": "Total",
            "MetaData": [{"Name": "ColKey", "Value": "total"}],
        },
    ]
    rows = [
        income_section,
        summary("GrossProfit", "Gross Profit", total),
        expenses,
        summary("NetOperatingIncome", "Net Operating Income", total),
        summary("NetIncome", "Net Income", total),
    ]
    return {"Header": header, "Rows": {"Row": rows}, "Columns": {"Column": columns}}
