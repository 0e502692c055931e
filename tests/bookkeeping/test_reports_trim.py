"""The report table read from Intuit's own report samples (tests/samples/report-*.json)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from qb_mcp.bookkeeping.reports import trim

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def sample(name: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((SAMPLES / name).read_text(), parse_float=Decimal)
    return loaded


def test_aged_receivables_sample() -> None:
    table = trim(sample("report-agedreceivables.json"))
    assert table.report == "AgedReceivables" and table.period == "2015-12-31"
    assert table.columns == ["Current", "1 - 30", "31 - 60", "61 - 90", "91 and over", "Total"]
    (row,) = table.rows
    assert (row.label, row.id) == ("Jane Litigious", "4")
    assert row.values == ["0.00", "0.00", "0.00", "0.00", "37.50", "37.50"]  # "" is 0.00
    (total,) = table.totals
    assert (total.label, total.group, total.values[-1]) == ("TOTAL", "GrandTotal", "37.50")


def test_profit_and_loss_sample_keeps_its_sections() -> None:
    table = trim(sample("report-profitandloss.json"))
    assert table.period == "2015-06-01..2015-06-30"
    assert [(r.section, r.label, r.values) for r in table.rows] == [
        ("Job Materials", "Fountains and Garden Lighting", ["275.00"]),
        ("Job Materials", "Plants and Soil", ["150.00"]),
        ("Income", "Pest Control Services", ["-100.00"]),
    ]
    by_group = {t.group: t.values for t in table.totals}
    assert by_group["NetIncome"] == ["325.00"] and by_group["Expenses"] == ["0.00"]


def test_anything_else_is_an_empty_table() -> None:
    table = trim({"Header": "x", "Rows": {"Row": [1, {"Rows": []}]}, "Columns": None})
    assert table.rows == [] and table.totals == [] and table.columns == []
