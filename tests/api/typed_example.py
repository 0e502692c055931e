"""Code a CRM would write against the API; `mypy --strict` must pass on it (test_typing.py)."""

from __future__ import annotations

from decimal import Decimal

import qb_mcp
from qb_mcp import (
    Change,
    CustomerContact,
    EstimateLineInput,
    InvalidArgumentError,
    QbMcpError,
    SyncBooks,
    open_books,
    open_books_sync,
)


def sync_contact(books: SyncBooks, contact_id: str, email: str) -> str | None:
    result = books.upsert_customer(crm_id=contact_id, company_name="Typed Ltd", email=email)
    if result.customer is None:
        return None
    customer_id: str = result.customer.id
    balance: Decimal = result.customer.open_balance
    assert balance >= 0
    return customer_id


def quote_and_invoice(books: SyncBooks, customer_id: str, item_id: str) -> str:
    estimate = books.create_estimate(
        customer_id=customer_id,
        lines=[EstimateLineInput(item_id=item_id, quantity=Decimal(2))],
        idempotency_key="typed-quote-1",
    )
    converted = books.convert_estimate(estimate_id=estimate.id)
    paid = books.record_payment(invoice_ids=[converted.invoice.id], amount=estimate.total)
    return paid.payment_id


def explained(books: SyncBooks) -> str:
    try:
        books.upsert_customer(CustomerContact(company_name="Typed Ltd", email="x"))
    except InvalidArgumentError as exc:
        return exc.explanation or str(exc)
    except QbMcpError as exc:
        return str(exc)
    return ""


def pull(books: SyncBooks, since: str | None) -> list[str]:
    changes: list[Change] = list(books.events(since=since))
    return [f"{c.entity} {c.entity_id} {c.operation}" for c in changes]


async def async_flow(settings: qb_mcp.Settings) -> int:
    async with open_books(settings) as books:
        found = await books.find_customer(name="Typed")
        async for change in books.events():
            print(change.event_id)
        status = await books.connection_status()
        print(status.company_name)
        return len(found.matches)


def main() -> None:
    with open_books_sync() as books:
        print(sync_contact(books, "crm-1", "a@example.com"), pull(books, None))
