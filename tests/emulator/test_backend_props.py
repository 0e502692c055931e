"""Property tests: any JSON-ish body gives an answer or a QBOFault, and a fault changes nothing."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qb_mcp.emulator import fields
from qb_mcp.emulator.backend import Backend
from qb_mcp.emulator.faults import QBOFault
from qb_mcp.emulator.seed import DEMO_REALM_ID

R = DEMO_REALM_ID
KEYS = sorted(
    set(fields.CUSTOMER)
    | set(fields.ITEM)
    | set(fields.INVOICE)
    | set(fields.ESTIMATE)
    | set(fields.PAYMENT)
    | set(fields.COMPANY_INFO)
    | {
        "Id",
        "SyncToken",
        "sparse",
        "Line",
        "LinkedTxn",
        "TotalAmt",
        "Amount",
        "DetailType",
        "SalesItemLineDetail",
        "ItemRef",
        "Qty",
        "UnitPrice",
        "TxnId",
        "TxnType",
        "value",
        "Address",
        "FreeFormNumber",
        "Line1",
    }
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.decimals(allow_nan=True, allow_infinity=True, places=None),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "0",
            "1",
            "2",
            "3",
            "5",
            "Invoice",
            "Estimate",
            "SalesItemLineDetail",
            "Pending",
            "true",
            "1e999",
            "-5",
            "10.005",
            "2026-01-15",
            ":",
            "O'Brien",
        ]
    ),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=10))
json_ish = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=6)
    ),
    max_leaves=12,
)
bodies = st.dictionaries(keys, json_ish, max_size=8)
entities = st.sampled_from(["customer", "item", "estimate", "invoice", "payment", "companyinfo"])
operations = st.sampled_from([None, "create", "update", "delete", "void"])

_BACKEND = Backend(clock=lambda: 1_768_478_400.0)
_BACKEND.add_company(R)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entity=entities, body=bodies, operation=operations)
def test_write_answers_or_faults_and_a_fault_changes_nothing(
    entity: str, body: dict[str, Any], operation: Any
) -> None:
    before = _BACKEND.snapshot()
    try:
        answer = _BACKEND.write(R, entity, body, operation)
    except QBOFault as fault:
        assert fault.errors and fault.errors[0].code
        assert _BACKEND.snapshot() == before
    else:
        assert isinstance(answer, dict) and len(answer) == 1


valid_line = st.builds(
    lambda amt, item: {
        "DetailType": "SalesItemLineDetail",
        "Amount": amt,
        "SalesItemLineDetail": {"ItemRef": {"value": item}},
    },
    st.decimals(min_value=-10, max_value=10_000, places=2),
    st.sampled_from(["1", "2", "3", "99"]),
)


@settings(max_examples=100, deadline=None)
@given(
    customer=st.sampled_from(["1", "2", "4", "12", "99"]),
    lines=st.lists(valid_line, max_size=4),
    applied=st.lists(
        st.tuples(
            st.sampled_from(["1", "2", "3", "4", "9"]),
            st.decimals(min_value=0, max_value=500, places=2),
        ),
        max_size=3,
    ),
    total=st.decimals(min_value=-5, max_value=800, places=2),
)
def test_money_stays_consistent_under_random_sales(
    customer: str, lines: list[Any], applied: list[tuple[str, Decimal]], total: Decimal
) -> None:
    for entity, body in (
        ("invoice", {"CustomerRef": {"value": customer}, "Line": lines}),
        (
            "payment",
            {
                "CustomerRef": {"value": customer},
                "TotalAmt": total,
                "Line": [
                    {"Amount": a, "LinkedTxn": [{"TxnId": i, "TxnType": "Invoice"}]}
                    for i, a in applied
                ],
            },
        ),
    ):
        with contextlib.suppress(QBOFault):
            _BACKEND.write(R, entity, body)
    invoices = _BACKEND.query(R, "select * from Invoice maxresults 1000")["QueryResponse"][
        "Invoice"
    ]
    payments = _BACKEND.query(R, "select * from Payment maxresults 1000")["QueryResponse"][
        "Payment"
    ]
    for inv in invoices:
        paid = sum(
            (
                ln["Amount"]
                for p in payments
                for ln in p["Line"]
                if ln["LinkedTxn"][0]["TxnId"] == inv["Id"]
            ),
            Decimal(0),
        )
        assert inv["Balance"] == inv["TotalAmt"] - inv["Deposit"] - paid
        assert Decimal(0) <= inv["Balance"] <= inv["TotalAmt"]
    for p in payments:
        assert p["UnappliedAmt"] == p["TotalAmt"] - sum(
            (ln["Amount"] for ln in p["Line"]), Decimal(0)
        )
        assert p["UnappliedAmt"] >= 0
    credits = _BACKEND.query(R, "select * from CreditMemo maxresults 1000")["QueryResponse"].get(
        "CreditMemo", []
    )
    for c in _BACKEND.query(R, "select * from Customer where Active in (true, false)")[
        "QueryResponse"
    ]["Customer"]:
        mine = sum(
            (i["Balance"] for i in invoices if i["CustomerRef"]["value"] == c["Id"]), Decimal(0)
        )
        held = sum(
            (m["RemainingCredit"] for m in credits if m["CustomerRef"]["value"] == c["Id"]),
            Decimal(0),
        )
        assert c["Balance"] == mine - held  # what they owe less the credit they hold


batch_items = st.lists(
    st.one_of(
        st.dictionaries(
            st.sampled_from(["bId", "operation", "Query", "Customer", "Item", "Invoice", "Vendor"]),
            json_ish,
            max_size=4,
        ),
        json_ish,
    ),
    max_size=5,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.one_of(json_ish, st.fixed_dictionaries({"BatchItemRequest": batch_items})))
def test_batch_answers_or_faults(body: Any) -> None:
    before = _BACKEND.snapshot()
    try:
        answer = _BACKEND.batch(R, body)
    except QBOFault:
        assert _BACKEND.snapshot() == before
    else:
        assert isinstance(answer["BatchItemResponse"], list)


@settings(max_examples=100, deadline=None)
@given(entities_arg=json_ish, since=json_ish, entity=json_ish, entity_id=json_ish)
def test_reads_and_cdc_answer_or_fault(
    entities_arg: Any, since: Any, entity: Any, entity_id: Any
) -> None:
    for call, args in (
        (_BACKEND.cdc, (R, entities_arg, since)),
        (_BACKEND.read, (R, entity, entity_id)),
        (_BACKEND.read, (R, "customer", entity_id)),
        (_BACKEND.read, (entity, "customer", "1")),
    ):
        with contextlib.suppress(QBOFault):
            call(*args)
