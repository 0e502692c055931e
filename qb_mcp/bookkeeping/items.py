"""Products and services: find an item by name, or create it (upsert_item).

Choices where the brief is silent:
- The name identifies the item (QuickBooks keeps Item names unique, 6240), compared without
  regard to case or surrounding spaces. An inactive item of that name is made active again
  rather than refused as a duplicate.
- Only what is given is changed: price, description, income account. An existing item of
  another type is refused (QuickBooks does not turn a service into another kind of item).
- The income account is named by id or name and must be an Income or Other Income account;
  without one, a new item takes QuickBooks' default (the company's Services income account).
- Idempotent by construction: a repeat finds the item by name and, nothing differing, answers
  `unchanged`. The look-up and the write run as one write section per company ("items": one
  name can be spelt in several cases), so two identical calls at once make one item.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from qb_mcp.bookkeeping.common import (
    InputModel,
    Line1,
    PriceIn,
    Text,
    amount_of,
    ref_name,
    ref_value,
    text,
)
from qb_mcp.bookkeeping.directory import Directory, items_named
from qb_mcp.bookkeeping.reads import ItemView, item_view
from qb_mcp.errors import InvalidArgumentError
from qb_mcp.qbo.client import QBOClient
from qb_mcp.qbo.query import Query
from qb_mcp.quoting import quoted
from qb_mcp.store.intents import Intent, IntentSections, sections_for

ItemType = Literal["service", "non_inventory"]
_WIRE_TYPE = {"service": "Service", "non_inventory": "NonInventory"}
INCOME_TYPES = ("Income", "Other Income")


class UpsertItemInput(InputModel):
    """A product or service to find by name, or create."""

    name: Line1 = Field(min_length=1, max_length=100, description="unique")
    type: ItemType = Field(description="its kind")
    price: PriceIn | None = Field(default=None, description="unit price")
    description: Text | None = Field(default=None, max_length=4000, description="sales text")
    income_account: Line1 | None = Field(
        default=None, max_length=100, description="account name or id"
    )


class UpsertItemResult(BaseModel):
    """The item and what was done."""

    outcome: Literal["created", "updated", "unchanged"]
    item: ItemView
    income_account: str | None = None
    changed: list[str] = Field(description="fields written to an existing item")


async def upsert_item(
    client: QBOClient,
    params: UpsertItemInput,
    *,
    sections: IntentSections | None = None,
    directory: Directory | None = None,
) -> UpsertItemResult:
    """Find the item by name and bring it up to date, or create it.

    With the company's `directory` (the local index), an item it knows is found there after at
    most one CDC request; a name it does not know is asked of QuickBooks before a create, so a
    stale index never makes a second item. What is written is noted in it.
    """
    intent = Intent.of(
        client.realm_id, "upsert_item", params.model_dump(mode="json"), group="items"
    )
    async with (sections or sections_for(None)).hold(intent):
        result, written = await _upsert(client, params, directory)
        if directory is not None and written is not None:
            await directory.remember("Item", [written])
        return result


async def _upsert(
    client: QBOClient, params: UpsertItemInput, directory: Directory | None
) -> tuple[UpsertItemResult, dict[str, Any] | None]:
    wanted_type = _WIRE_TYPE[params.type]
    account = (
        await _income_account(client, params.income_account) if params.income_account else None
    )
    existing: dict[str, Any] | None = None
    if directory is not None:
        await directory.fresh()
        named = items_named(directory.items(), params.name)
        # An active item first, as QuickBooks' own lookup below finds it.
        named.sort(key=lambda i: i.get("Active") is False)
        existing = dict(named[0]) if named else None
    if existing is None:
        existing = await _item_named(client, params.name)
    if existing is None:
        body: dict[str, Any] = {"Name": params.name.strip(), "Type": wanted_type}
        if params.price is not None:
            body["UnitPrice"] = params.price
        if params.description is not None:
            body["Description"] = params.description
        if account is not None:
            body["IncomeAccountRef"] = {"value": str(account["Id"])}
        created = await client.create("Item", body)
        return _result("created", created, []), created
    label = f"item {existing.get('Id')} {quoted(str(existing.get('Name', '')))}"
    if existing.get("Type") != wanted_type:
        raise InvalidArgumentError(
            f"{label} exists as a {existing.get('Type')} item, not {wanted_type}; nothing was "
            "written. Use its type, or another name for a new item"
        )
    changes: dict[str, Any] = {}
    if existing.get("Active") is False:
        changes["Active"] = True
    if params.price is not None and _price_of(existing) != params.price:
        changes["UnitPrice"] = params.price
    if params.description is not None and text(existing.get("Description")) != params.description:
        changes["Description"] = params.description
    if account is not None and ref_value(existing, "IncomeAccountRef") != str(account["Id"]):
        changes["IncomeAccountRef"] = {"value": str(account["Id"])}
    if not changes:
        return _result("unchanged", existing, []), None
    updated = await client.update("Item", str(existing["Id"]), changes, expected=existing)
    return _result("updated", updated, sorted(changes)), updated


def _price_of(item: Mapping[str, Any]) -> Decimal | None:
    price = item.get("UnitPrice")
    return None if price is None else amount_of(price)


async def _item_named(client: QBOClient, name: str) -> dict[str, Any] | None:
    wanted = name.strip().casefold()
    for active in (True, False):
        query = Query.select("Item").where("Active", "=", active).where("Name", "=", name.strip())
        response = await client.query(query.limit(10))
        for row in response.get("Item", []):
            if isinstance(row, dict) and str(row.get("Name", "")).strip().casefold() == wanted:
                return row
    return None


async def _income_account(client: QBOClient, name_or_id: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    if name_or_id.isdigit():
        found = await client.query(Query.select("Account").where("Id", "=", name_or_id))
        rows = [r for r in found.get("Account", []) if isinstance(r, dict)]
    if not rows:
        found = await client.query(Query.select("Account").where("Name", "=", name_or_id))
        rows = [r for r in found.get("Account", []) if isinstance(r, dict)]
    if rows and rows[0].get("AccountType") in INCOME_TYPES:
        return rows[0]
    income = await client.query(
        Query.select("Account").where("Classification", "=", "Revenue").limit(50)
    )
    names = ", ".join(quoted(str(a.get("Name", "")), limit=60) for a in income.get("Account", []))
    what = "is not an income account" if rows else "is not an account of this company"
    raise InvalidArgumentError(
        f"{quoted(name_or_id)} {what}; nothing was written. Income accounts: {names or 'none'}"
    )


def _result(
    outcome: Literal["created", "updated", "unchanged"], item: Mapping[str, Any], changed: list[str]
) -> UpsertItemResult:
    return UpsertItemResult(
        outcome=outcome,
        item=item_view(item),
        income_account=ref_name(item, "IncomeAccountRef") or ref_value(item, "IncomeAccountRef"),
        changed=changed,
    )
