"""The server's MCP prompts (texts in prompts/, see prompts/README.md) and completions.

Prompts: each `prompts/<name>.md` gives the description, one description per argument, and the
template; the function here only fills the template. Asked for an unknown prompt, or without a
required argument, the server answers JSON-RPC -32602 (invalid params) with a message that says
what exists or what is missing, in both protocol eras, and logs no traceback: the client sent a
bad request, the server has no bug (`check_prompt_request`).

Completions (`completion/complete`) come from the company's own data: customer names for the
`customer` arguments, open invoice numbers, estimate numbers, the fault codes this server met
(and the catalog's) for `debug_integration`'s `error`, and stored event ids for the
`qbo://events/{event_id}` template. A completion never fails: if QuickBooks cannot be asked, it
offers nothing (logged at DEBUG).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from string import Template
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver.prompts.base import Prompt
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
)

from qb_mcp.texts import prompt_text

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from qb_mcp.tools.base import AppState

log = logging.getLogger(__name__)

# How many values one completion offers (MCP allows at most 100).
COMPLETIONS = 20


def _or(value: str, fallback: str) -> str:
    return value.strip() or fallback


def quote_to_cash(customer: str, work: str, amount_paid: str = "", estimate: str = "") -> str:
    text = prompt_text("quote_to_cash")
    return Template(text.template).safe_substitute(
        customer=customer,
        work=work,
        paid=_or(amount_paid, "nothing yet (stop after the invoice)"),
        estimate=_or(estimate, "none (create a new one)"),
    )


def collect_payment(customer: str, amount: str, reference: str = "", invoice: str = "") -> str:
    text = prompt_text("collect_payment")
    return Template(text.template).safe_substitute(
        customer=customer,
        amount=amount,
        reference=_or(reference, "(none given)"),
        invoice=_or(invoice, "not given (use the oldest open invoices)"),
    )


def debug_integration(error: str, context: str = "") -> str:
    text = prompt_text("debug_integration")
    return Template(text.template).safe_substitute(
        error=error, context=_or(context, "(none given)")
    )


PROMPTS: dict[str, tuple[str, Callable[..., str]]] = {
    "quote_to_cash": ("Quote to cash", quote_to_cash),
    "collect_payment": ("Collect a payment", collect_payment),
    "debug_integration": ("Debug a QuickBooks integration", debug_integration),
}


def build_prompts() -> list[Prompt]:
    """The SDK prompts, with the description and argument descriptions from prompts/."""
    prompts = []
    for name, (title, function) in PROMPTS.items():
        text = prompt_text(name)
        prompt = Prompt.from_function(function, name=name, title=title)
        prompt.description = text.description
        given = {argument.name for argument in prompt.arguments or []}
        if given != set(text.arguments):
            raise ValueError(
                f"prompts/{name}.md describes arguments {sorted(text.arguments)}, "
                f"but the prompt takes {sorted(given)}"
            )
        for argument in prompt.arguments or []:
            argument.description = text.arguments[argument.name]
        prompts.append(prompt)
    return prompts


def check_prompt_request(
    prompts: Sequence[Prompt], name: str, arguments: dict[str, Any] | None
) -> None:
    """Raise -32602 for an unknown prompt or a missing required argument."""
    prompt = next((p for p in prompts if p.name == name), None)
    if prompt is None:
        known = ", ".join(p.name for p in prompts)
        raise MCPError(
            code=INVALID_PARAMS,
            message=f"unknown prompt {name[:80]!r}; this server's prompts: {known}",
            data={"name": name[:80]},
        )
    given = {key for key, value in (arguments or {}).items() if str(value).strip()}
    missing = [a for a in prompt.arguments or [] if a.required and a.name not in given]
    if missing:
        said = "; ".join(f"{a.name} ({a.description})" for a in missing)
        raise MCPError(
            code=INVALID_PARAMS,
            message=f"prompt {name} needs the argument{'s' * (len(missing) > 1)}: {said}",
            data={"missing": [a.name for a in missing]},
        )


# ---- completions ---------------------------------------------------------------------------------


def add_completions(server: MCPServer[Any], state: Callable[[], AppState]) -> None:
    """Answer `completion/complete` for the prompts' and resource templates' arguments."""

    @server.completion()  # type: ignore[no-untyped-call, untyped-decorator]
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion:
        given = dict(context.arguments or {}) if context is not None else {}
        try:
            values = await values_for(state(), ref, argument.name, argument.value, given)
        except Exception as exc:  # a completion is a convenience: offer nothing instead
            log.debug("no completions for %s: %s", argument.name, type(exc).__name__)
            values = []
        shown = values[:COMPLETIONS]
        return Completion(values=shown, total=len(values), has_more=len(values) > len(shown))


async def company_ids(state: AppState, prefix: str) -> list[str]:
    """The realm ids of the companies the caller may use, starting with `prefix`."""
    from qb_mcp.callers import current_caller
    from qb_mcp.companies import realm_of

    if state.companies is None:
        return []
    usable = await state.companies.usable(current_caller())
    realms = [await realm_of(company) for company in usable]
    return [realm for realm in realms if realm is not None and realm.startswith(prefix)]


async def values_for(
    state: AppState,
    ref: PromptReference | ResourceTemplateReference,
    name: str,
    prefix: str,
    given: dict[str, str],
) -> list[str]:
    """The values offered for argument `name` of `ref`, starting with `prefix` first."""
    from qb_mcp.bookkeeping import completions

    if isinstance(ref, ResourceTemplateReference):
        if ref.uri == "qbo://events/{event_id}" and name == "event_id":
            return await completions.event_ids(state.database, prefix, realm_id=state.realm_id)
        if ref.uri.startswith("qbo://companies/{company}/") and name == "company":
            return await company_ids(state, prefix)
        return []
    if name == "customer":
        return await completions.customer_names(await state.qbo(), prefix)
    if ref.name == "collect_payment" and name == "invoice":
        return await completions.open_invoice_numbers(
            await state.qbo(), prefix, customer=given.get("customer")
        )
    if ref.name == "quote_to_cash" and name == "estimate":
        return await completions.estimate_numbers(
            await state.qbo(), prefix, customer=given.get("customer")
        )
    if ref.name == "debug_integration" and name == "error":
        recent = [code for fault in reversed(state.faults) for code in fault.explanation.codes]
        return completions.fault_codes(prefix, recent=recent)
    return []
