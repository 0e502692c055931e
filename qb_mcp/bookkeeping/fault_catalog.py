"""What each QuickBooks Online fault, OAuth error and qb-mcp failure means, offline.

Every entry says where its meaning came from (comment above it). Sources, abbreviated below:
- REF: Intuit's "Review QuickBooks Online Accounting API error codes" page
  (developer.intuit.com/app/developer/qbo/docs/develop/troubleshooting/error-codes; transcribed copy
  in the public code index, id 54119520237).
- COMMON: Intuit's "Handling common errors" page (…/develop/troubleshooting/handling-common-errors).
- BLOG: Intuit's "How to handle frequently returned QuickBooks Online API error messages"
  (developer.intuit.com/hub/blog/2017/06/08/top-quickbooks-online-api-errors-and-how-to-handle-them).
- API: ../shared/QBO_API.md, section 4 table (and sections 2, 3, 9).
- Issue threads are cited by repository and number (github.com/<repo>/issues/<n>).
- RFC 6749: OAuth 2.0, sections 4.1.2.1 (authorize errors) and 5.2 (token errors).

Wording rules: `cause` and `fix` are our own plain sentences, written for an AI agent driving the
qb-mcp tools; tool names in `next_tools` are the MCP API (checked against `TOOLS` by a test).
Nothing Intuit sends is copied into these texts: Intuit's own message and detail travel separately.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Category = Literal[
    "authentication",
    "authorization",
    "throttling",
    "unsupported",
    "general",
    "validation",
    "query",
    "business",
    "server",
    "transport",
    "oauth",
    "setup",
    "local",
    "unknown",
]

# The MCP tool names (API: keep in step with the server's tool list).
TOOLS: frozenset[str] = frozenset(
    {
        "find_customer",
        "upsert_customer",
        "create_estimate",
        "convert_estimate",
        "record_payment",
        "explain_fault",
        "find_items",
        "list_open_invoices",
        "get_transaction",
        "query",
        "connection_status",
        "upsert_customers",
        "recent_changes",
    }
)

LOGIN = "qb-mcp auth login"
STATUS = "qb-mcp auth status"
DOCTOR = "qb-mcp doctor"

# Intuit asks clients to wait a minute after a throttle fault (API section 2).
THROTTLE_WAIT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """Our explanation of one fault code, OAuth error or local failure."""

    key: str
    title: str
    category: Category
    cause: str
    fix: str
    next_tools: tuple[str, ...] = ()
    next_steps: tuple[str, ...] = ()
    retryable: bool = False
    wait_seconds: float | None = None
    # Intuit's wire wording for this code, used only to recognise pasted free text.
    messages: tuple[str, ...] = ()
    # A 401-type refusal: repeating the call succeeds once the access token is refreshed.
    after_refresh: bool = False


def _qbo(
    code: str,
    title: str,
    category: Category,
    cause: str,
    fix: str,
    *,
    tools: tuple[str, ...] = (),
    steps: tuple[str, ...] = (),
    retryable: bool = False,
    wait: float | None = None,
    messages: tuple[str, ...] = (),
    after_refresh: bool = False,
) -> CatalogEntry:
    return CatalogEntry(
        code, title, category, cause, fix, tools, steps, retryable, wait, messages, after_refresh
    )


_RECONNECT = (
    "Run `qb-mcp auth login` to connect the company again (an admin of the QuickBooks company must "
    "approve it), then repeat the call."
)

QBO_ENTRIES: tuple[CatalogEntry, ...] = (
    # --- 1-499: authentication and authorization -------------------------------------------
    # REF (100 General Authentication Error); API (old XML AuthenticationFault code 100).
    _qbo(
        "100",
        "Authentication failed",
        "authentication",
        "QuickBooks did not accept the access token: it expired, was revoked, or belongs to "
        "another company.",
        "qb-mcp refreshes the token once on its own; if the failure persists the connection is "
        "gone: check connection_status, and if it is not connected run `qb-mcp auth login`.",
        tools=("connection_status",),
        steps=(LOGIN,),
        retryable=True,
        after_refresh=True,
        messages=("General Authentication Error", "AuthenticationErrorGeneral"),
    ),
    # REF (110 Authentication OAuth Error).
    _qbo(
        "110",
        "OAuth authentication error",
        "authentication",
        "The request's OAuth credentials were rejected before QuickBooks looked at it.",
        "Check the connection with connection_status. " + _RECONNECT,
        tools=("connection_status",),
        steps=(LOGIN,),
        messages=("Authentication OAuth Error", "AuthenticationOAuthError"),
    ),
    # REF, COMMON and BLOG (120 Authorization Failure, detail -11014: the user who connected the
    # app lost access, e.g. an accountant user removed from the company).
    _qbo(
        "120",
        "Authorization failure",
        "authorization",
        "The QuickBooks user who connected qb-mcp no longer has access to this company (for "
        "example an accountant user was removed, or the subscription does not include the API).",
        "Ask a current admin of the QuickBooks company to connect it again. " + _RECONNECT,
        tools=("connection_status",),
        steps=(LOGIN,),
        messages=("Authorization Failure", "AuthorizationFailure"),
    ),
    # REF (130 Accessing Wrong Cluster); routablehq/python-quickbooks#369 (production company
    # reached with a sandbox setup, WrongClusterError -11017).
    _qbo(
        "130",
        "Wrong QuickBooks environment",
        "setup",
        "The request went to the wrong QuickBooks environment for this company: a production "
        "company through the sandbox URL, or the other way round.",
        "Set QBO_ENVIRONMENT (production or sandbox) to match the company and leave "
        "QBO_API_BASE_URL unset unless it points at that environment; check both with "
        "`qb-mcp doctor`, then repeat the call.",
        tools=("connection_status",),
        steps=(DOCTOR,),
        messages=("Accessing Wrong Cluster", "WrongClusterError"),
    ),
    # REF (140 Company Locked Out).
    _qbo(
        "140",
        "Company locked out",
        "authorization",
        "QuickBooks has locked this company; no application can use it right now.",
        "The company's owner must sign in to QuickBooks Online and resolve the lock; then repeat "
        "the call.",
        tools=("connection_status",),
        messages=("Company Locked Out", "CompanyLockedOut"),
    ),
    # REF (150 Company Under Maintenance).
    _qbo(
        "150",
        "Company under maintenance",
        "server",
        "QuickBooks is doing maintenance on this company.",
        "Wait a few minutes and repeat the call; nothing in the request needs to change.",
        retryable=True,
        wait=300.0,
        messages=("Company Under Maintenance", "CompanyUnderMaintenance"),
    ),
    # API (3200 AuthenticationFailed, gateway 401); routablehq/python-quickbooks#250 ("Malformed
    # bearer token"); REF lists 3200 as ApplicationAuthenticationFailed.
    _qbo(
        "3200",
        "Access token rejected",
        "authentication",
        "QuickBooks' gateway rejected the access token: it expired (they last one hour), was "
        "revoked, or is malformed.",
        "qb-mcp refreshes the token and repeats the call once on its own. If this still appears, "
        "the refresh token is no longer valid: check connection_status, then run "
        "`qb-mcp auth login`.",
        tools=("connection_status",),
        steps=(LOGIN,),
        retryable=True,
        after_refresh=True,
        messages=("AuthenticationFailed", "ApplicationAuthenticationFailed"),
    ),
    # REF (3202 EmptyField, related to oauth_token).
    _qbo(
        "3202",
        "Access token missing",
        "authentication",
        "The request reached QuickBooks without an access token.",
        "Check the connection with connection_status; if no company is connected, run "
        "`qb-mcp auth login`.",
        tools=("connection_status",),
        steps=(LOGIN,),
        messages=("EmptyField",),
    ),
    # API (3100 AuthorizationFailed, 403); IntuitDeveloper/QBOConceptsTutorial-PHP#13 ("The access
    # token does not have sufficient scope"); minimul/qbo_api#138 (sandbox company called through
    # the production URL also gives 3100).
    _qbo(
        "3100",
        "Not authorized",
        "authorization",
        "The connection lacks permission for this request: the accounting scope was not granted, "
        "the user lost admin rights, or a sandbox company is being called through the production "
        "URL (or the reverse).",
        "Check QBO_ENVIRONMENT with `qb-mcp doctor`; then run `qb-mcp auth login` and approve the "
        "accounting scope as an admin of the company.",
        tools=("connection_status",),
        steps=(DOCTOR, LOGIN),
        messages=("AuthorizationFailed", "ApplicationAuthorizationFailed"),
    ),
    # --- 500-599: unsupported ---------------------------------------------------------------
    # REF (500 Unsupported operation); COMMON (also sent for non-UTF-8 request bodies); API (an
    # unknown path gives 400 with code 500).
    _qbo(
        "500",
        "Unsupported operation",
        "unsupported",
        "QuickBooks does not support this operation on this entity: the URL or entity name is "
        "wrong, or the request body was not valid UTF-8.",
        "This is a qb-mcp or configuration problem rather than bad data: check QBO_API_BASE_URL "
        "with `qb-mcp doctor`. Do not repeat the call unchanged.",
        steps=(DOCTOR,),
        messages=("Unsupported Operation",),
    ),
    # --- 600-1999: general --------------------------------------------------------------------
    # REF (600 Duplicate Request ID); API section 3 (requestid replay).
    _qbo(
        "600",
        "Duplicate request id",
        "general",
        "The idempotency key (requestid) of this write was already used for a different request.",
        "Do not send the write again with a new key blindly: first look up whether the original "
        "write happened (get_transaction, find_customer), then repeat the call with changed "
        "arguments or a new idempotency key.",
        tools=("get_transaction", "find_customer"),
        messages=("Duplicate Request ID",),
    ),
    # REF (610 Object Not Found); COMMON and BLOG (also: a referenced name-list object was made
    # inactive, or another user deleted the transaction); sample batch-response.json.
    _qbo(
        "610",
        "Object not found",
        "general",
        "The id does not exist in this company, the object was deleted, or it (or something it "
        "refers to: customer, item, account) was made inactive.",
        "Look the object up again by name to get a current id (find_customer, find_items, "
        "get_transaction), then repeat the call with that id.",
        tools=("find_customer", "find_items", "get_transaction"),
        messages=("Object Not Found",),
    ),
    # REF (620 Txn ID Cannot Be Linked); knowledgebase.curbwaste.com/quickbooks-online-error-codes
    # (payment and invoice belong to different customers).
    _qbo(
        "620",
        "Transaction cannot be linked",
        "general",
        "The transaction named in LinkedTxn cannot be linked: it belongs to a different customer, "
        "is of the wrong type, or is inactive.",
        "List the customer's open invoices with list_open_invoices and link only those; a "
        "payment and its invoices must have the same customer.",
        tools=("list_open_invoices", "get_transaction"),
        messages=("Txn ID Cannot Be Linked", "TxnID Cannot Be Linked"),
    ),
    # REF (630 Duplicate Object).
    _qbo(
        "630",
        "Duplicate object",
        "general",
        "Another object already has a property that must be unique (for example the same "
        "reference).",
        "Find the existing object (find_customer, find_items, get_transaction) and update it "
        "instead of creating a second one.",
        tools=("find_customer", "find_items", "get_transaction"),
        messages=("Duplicate Object",),
    ),
    # REF (700 Parent Reference Invalid).
    _qbo(
        "700",
        "Invalid parent reference",
        "general",
        "The ParentRef does not point at a valid parent (for a sub-customer: an existing, active "
        "customer).",
        "Find the parent with find_customer and use its id, or leave the parent out.",
        tools=("find_customer",),
        messages=("Parent Reference Invalid",),
    ),
    # REF (800 Cannot delete object).
    _qbo(
        "800",
        "Cannot delete object",
        "general",
        "The object has dependent records (for example transactions that use it), so it cannot be "
        "deleted.",
        "Delete or change the dependent records first, or make the object inactive instead.",
        messages=("Cannot delete object",),
    ),
    # REF (1000 Operation failed).
    _qbo(
        "1000",
        "Operation failed",
        "general",
        "QuickBooks could not complete the operation; Intuit's detail usually says why.",
        "Read Intuit's detail below, correct the request, then repeat the call.",
        messages=("Operation failed",),
    ),
    # REF (1010 Create Failed).
    _qbo(
        "1010",
        "Create failed",
        "general",
        "QuickBooks did not create the object; Intuit's detail usually says why.",
        "Read Intuit's detail below, correct the request, then repeat the call.",
        messages=("Create Failed",),
    ),
    # REF (1020 Update Failed).
    _qbo(
        "1020",
        "Update failed",
        "general",
        "QuickBooks did not update the object; Intuit's detail usually says why.",
        "Read Intuit's detail below, re-read the object (get_transaction, find_customer), then "
        "repeat the call.",
        tools=("get_transaction", "find_customer"),
        messages=("Update Failed",),
    ),
    # REF (1040 Batch size exceeds allowed limit); API section 2 (at most 30 items per batch).
    _qbo(
        "1040",
        "Batch too large",
        "general",
        "A batch request held more than 30 items, QuickBooks' limit.",
        "Use upsert_customers, which splits work into batches of at most 30; custom batches must "
        "stay at 30 items or fewer.",
        tools=("upsert_customers",),
        messages=("Batch size exceeds allowed limit", "batch size exceeds"),
    ),
    # --- 2000-4999: validation --------------------------------------------------------------
    # REF (2000 Invalid or unsupported object name).
    _qbo(
        "2000",
        "Unsupported object name",
        "validation",
        "The request named an entity QuickBooks does not know.",
        "Use one of QuickBooks' entity names (Customer, Item, Estimate, Invoice, Payment, ...).",
        tools=("query",),
        messages=("Invalid or unsupported object name",),
    ),
    # REF (2010); routablehq/python-quickbooks#24 (sent for a malformed CustomerRef).
    _qbo(
        "2010",
        "Unsupported property",
        "validation",
        "The request has a property QuickBooks does not accept for this entity, or a property of "
        "the wrong shape (for example a reference given as a plain value instead of an object).",
        "Remove or correct the property named in Intuit's detail, then repeat the call.",
        messages=("Request has invalid or unsupported property",),
    ),
    # REF (2020 Required param missing); API (Detail names the field).
    _qbo(
        "2020",
        "Required field missing",
        "validation",
        "A required field is absent; Intuit's detail names it.",
        "Add the missing field and repeat the call (an estimate needs a customer and at least one "
        "line; a payment needs a customer and an amount).",
        messages=("Required param missing", "Required parameter"),
    ),
    # REF (2030 Invalid ID); API.
    _qbo(
        "2030",
        "Invalid id",
        "validation",
        "An id is malformed: QuickBooks ids are strings of digits.",
        "Look the object up (find_customer, find_items, get_transaction) and use the id it "
        "returns; never use a name or a doc number where an id is expected.",
        tools=("find_customer", "find_items", "get_transaction"),
        messages=("Invalid ID",),
    ),
    # REF (2040 Invalid String).
    _qbo(
        "2040",
        "Invalid characters",
        "validation",
        "A text field contains characters QuickBooks does not allow (names may not contain a "
        "colon, tab or newline).",
        "Remove the characters from the field named in Intuit's element or detail, then repeat "
        "the call.",
        messages=("Invalid String",),
    ),
    # REF (2050 Invalid String Length / "Length exceeds limit", with element); API (lengths);
    # knowledgebase.curbwaste.com (long invoice note).
    _qbo(
        "2050",
        "Text too long",
        "validation",
        "A text field is longer (or shorter) than QuickBooks allows; the element names the field. "
        "Limits: DisplayName 500, given and family name 100, company name 100, notes 2000, phone "
        "30, DocNumber 21.",
        "Shorten the field and repeat the call.",
        messages=(
            "Length exceeds limit",
            "Invalid String Length",
            "String length specified does not match",
        ),
    ),
    # REF (2060 Invalid Date Format).
    _qbo(
        "2060",
        "Invalid date format",
        "validation",
        "A date is not in the form QuickBooks expects.",
        "Give dates as YYYY-MM-DD and repeat the call.",
        messages=("Invalid Date Format",),
    ),
    # REF (2070 Invalid Date).
    _qbo(
        "2070",
        "Invalid date",
        "validation",
        "A date is well formed but not a real or allowed date.",
        "Correct the date (YYYY-MM-DD) and repeat the call.",
        messages=("Invalid Date",),
    ),
    # REF (2080 Invalid Number Format); sample fault-multiple-errors-official.xml.
    _qbo(
        "2080",
        "Invalid number format",
        "validation",
        "A number (or a field QuickBooks treats as one, such as a postal code) is malformed.",
        "Correct the field named in Intuit's element and repeat the call.",
        messages=("Invalid Number Format", "Illegal number format"),
    ),
    # REF (2090 Invalid Number).
    _qbo(
        "2090",
        "Number not accepted",
        "validation",
        "A number is well formed but its value is not accepted.",
        "Correct the value named in Intuit's detail and repeat the call.",
        messages=("Invalid Number",),
    ),
    # REF (2100 Invalid Decimal Format, 2110 Invalid Decimal).
    _qbo(
        "2100",
        "Invalid decimal format",
        "validation",
        "A decimal value is malformed.",
        "Send amounts as plain decimals with at most two places (e.g. 120.50) and repeat.",
        messages=("Invalid Decimal Format",),
    ),
    _qbo(
        "2110",
        "Decimal not accepted",
        "validation",
        "A decimal value is well formed but not accepted (too many places, or out of range).",
        "Round amounts to cents and quantities to QuickBooks' precision, then repeat the call.",
        messages=("Invalid Decimal",),
    ),
    # REF (2120 Invalid Type, e.g. item type).
    _qbo(
        "2120",
        "Invalid type",
        "validation",
        "A type value is not compatible with this entity (for example an item Type other than "
        "Service, Inventory or NonInventory).",
        "Use one of the entity's allowed types and repeat the call.",
        tools=("find_items",),
        messages=("Invalid Type",),
    ),
    # REF (2130 Invalid Request Id Format); API section 3 (requestid max 50 chars, 36 in batch).
    _qbo(
        "2130",
        "Invalid request id",
        "validation",
        "The idempotency key (requestid) is not in a format QuickBooks accepts (at most 50 "
        "characters, 36 inside a batch).",
        "Use a shorter idempotency key, or let qb-mcp derive one, and repeat the call.",
        messages=("Invalid Request Id Format",),
    ),
    # REF (2140 Invalid Amount).
    _qbo(
        "2140",
        "Invalid amount",
        "validation",
        "An amount is not accepted (for example negative where only positive amounts are allowed, "
        "or more than two decimal places).",
        "Correct the amount and repeat the call.",
        messages=("Invalid Amount",),
    ),
    # REF (2160 Invalid Quantity).
    _qbo(
        "2160",
        "Invalid quantity",
        "validation",
        "A line quantity is not accepted.",
        "Give a positive quantity and repeat the call.",
        messages=("Invalid Quantity",),
    ),
    # REF (2170 Invalid Enumeration); BLOG (Invalid Enumeration: HAS_BEEN_BILLED).
    _qbo(
        "2170",
        "Invalid value for a fixed list",
        "validation",
        "A field that takes one of a fixed set of values got another value (Intuit's detail shows "
        "it), for example a TxnStatus or a line DetailType.",
        "Use one of the allowed values (they are case-sensitive) and repeat the call.",
        messages=("Invalid Enumeration",),
    ),
    # REF (2210 Invalid Email Address Format); knowledgebase.curbwaste.com (customer email).
    _qbo(
        "2210",
        "Invalid email address",
        "validation",
        "An email address does not follow the RFC 822 syntax QuickBooks checks.",
        "Correct the email address (one address, like name@example.com) with upsert_customer and "
        "repeat the call.",
        tools=("upsert_customer",),
        messages=(
            "Invalid Email Address Format",
            "does not conform to the syntax rules of RFC 822",
        ),
    ),
    # REF (2220 Invalid Currency Type).
    _qbo(
        "2220",
        "Invalid currency",
        "validation",
        "The currency is not valid for this company or customer (multi-currency may be off).",
        "Use the customer's currency (the company's home currency if multi-currency is off).",
        tools=("find_customer",),
        messages=("Invalid Currency Type",),
    ),
    # REF (2240 Invalid Number Range).
    _qbo(
        "2240",
        "Number out of range",
        "validation",
        "A number is outside the range QuickBooks allows for that field.",
        "Correct the value named in Intuit's detail and repeat the call.",
        messages=("Invalid Number Range",),
    ),
    # REF (2250 Missing lines).
    _qbo(
        "2250",
        "No lines",
        "validation",
        "The transaction has no lines.",
        "Add at least one line with an item, quantity and unit price (find_items gives item ids).",
        tools=("find_items",),
        messages=("Missing lines",),
    ),
    # REF (2290 NegativeAmount).
    _qbo(
        "2290",
        "Negative line amount",
        "validation",
        "Transaction lines may not have negative amounts.",
        "Use positive quantities and prices; record refunds and discounts as their own "
        "transactions.",
        messages=("NegativeAmount",),
    ),
    # REF (2500 Invalid Reference Id); BLOG; intuit/QuickBooks-V3-PHP-SDK#102 and #110 (element
    # Line.SalesItemLineDetail.ItemRef; "something you're trying to use has been made inactive").
    _qbo(
        "2500",
        "Invalid reference",
        "validation",
        "A reference (CustomerRef, ItemRef, an account or tax code) points at an object that does "
        "not exist or is inactive; the element usually names which one.",
        "Look the referenced object up (find_customer, find_items) and use an active one's id, "
        "then repeat the call.",
        tools=("find_customer", "find_items"),
        messages=("Invalid Reference Id",),
    ),
    # REF (2600 Invalid Request Conflict Element in Request).
    _qbo(
        "2600",
        "Conflicting fields",
        "validation",
        "The request sets fields that conflict with each other.",
        "Remove one of the conflicting fields named in Intuit's detail and repeat the call.",
        messages=("Conflict Element",),
    ),
    # REF (3000 Invalid Custom Field).
    _qbo(
        "3000",
        "Invalid custom field",
        "validation",
        "A custom field is not defined for this entity in this company.",
        "Remove the custom field, or use one the company has defined.",
        messages=("Invalid Custom Field",),
    ),
    # API section 2 (HTTP 429 or old 403, often an XML SERVICE fault: ThrottleExceeded).
    _qbo(
        "3001",
        "Rate limit reached",
        "throttling",
        "qb-mcp sent more requests than QuickBooks allows (500 per minute and 10 at once per "
        "company; 40 batch requests per minute).",
        "Wait about a minute, then repeat the same call; qb-mcp already retries with backoff, so "
        "slow the pace of calls, and do bulk customer work with upsert_customers (one batch "
        "request per 30 records).",
        retryable=True,
        wait=THROTTLE_WAIT_SECONDS,
        messages=("ThrottleExceeded", "Throttle Exceeded", "request limit was reached"),
    ),
    # API (4000 Error parsing query: usually an unescaped quote); sample fault-4000-query-parse.json.
    _qbo(
        "4000",
        "Query could not be parsed",
        "query",
        "The query has a syntax error, most often an unescaped apostrophe in a value, a "
        "typographic quote, or OR (which QuickBooks' query language does not have).",
        "Fix the query text (escape ' as \\', use straight quotes, no OR) and call query again; "
        "find_customer and find_items build correct queries for you.",
        tools=("query", "find_customer", "find_items"),
        messages=("Error parsing query", "QueryParserError", "The query cannot be parsed"),
    ),
    # API (4001 Invalid query: property not queryable, or MAXRESULTS over 1000).
    _qbo(
        "4001",
        "Query not valid",
        "query",
        "The query parsed but asks for something QuickBooks cannot filter or return: a property "
        "that is not queryable (phone, notes, addresses) or MAXRESULTS over 1000.",
        "Filter only on queryable properties and page with MAXRESULTS of at most 1000; to find a "
        "customer by phone use find_customer, which matches phones for you.",
        tools=("query", "find_customer"),
        messages=("Invalid query", "QueryValidationError", "The query is invalid"),
    ),
    # API (4002); sample fault-4002-query-processing.json.
    _qbo(
        "4002",
        "Query could not be run",
        "query",
        "The query was valid but QuickBooks could not run it; Intuit's detail says why.",
        "Simplify the query (fewer conditions, smaller pages) and call query again.",
        tools=("query",),
        messages=("Error processing query", "QueryProcessingError", "could not be processed"),
    ),
    # --- 5000-9999: business rules ----------------------------------------------------------
    # REF (5000 Deprecated field).
    _qbo(
        "5000",
        "Deprecated field",
        "business",
        "The request used a field QuickBooks no longer supports at minor version 75.",
        "Remove the field named in Intuit's detail and repeat the call.",
        messages=("Deprecated field",),
    ),
    # API (5010 Stale Object Error); REF; sample batch-response.json ("You and root were working on
    # this at the same time").
    _qbo(
        "5010",
        "Someone else changed it first",
        "business",
        "The object changed in QuickBooks after it was read (its SyncToken is old), so the update "
        "was refused to avoid overwriting that change.",
        "Re-read the object (get_transaction or find_customer) and apply the change again; "
        "upsert_customer does this on its own and reports a conflict only when the same fields "
        "were changed by someone else.",
        tools=("get_transaction", "find_customer", "upsert_customer"),
        retryable=True,
        messages=("Stale Object Error", "Stale Object"),
    ),
    # REF (5020 Permission Denied).
    _qbo(
        "5020",
        "Permission denied",
        "business",
        "The connected user may not use this feature of QuickBooks.",
        "Ask the company's admin for the permission, or connect as an admin with "
        "`qb-mcp auth login`.",
        steps=(LOGIN,),
        messages=("Permission Denied",),
    ),
    # REF (5030 Feature Not Supported).
    _qbo(
        "5030",
        "Feature not available",
        "business",
        "The company's QuickBooks edition or settings do not include this feature (for example "
        "estimates, multi-currency or custom transaction numbers are turned off).",
        "Turn the feature on in QuickBooks (Account and settings), or do without it.",
        messages=("Feature Not Supported",),
    ),
    # API (6000, Detail says which rule); REF; sample fault-6000-business-validation.json; BLOG
    # ("You must set a transaction amount").
    _qbo(
        "6000",
        "Business rule refused the change",
        "business",
        "QuickBooks refused the change under one of its bookkeeping rules; Intuit's detail names "
        "the rule.",
        "Read Intuit's detail below, change the request to satisfy that rule, then repeat the "
        "call.",
        messages=("business validation error", "BusinessValidationError"),
    ),
    # API (6070 line Amount must equal Qty x UnitPrice); REF.
    _qbo(
        "6070",
        "Line amount does not match quantity x price",
        "business",
        "A line's Amount is not exactly its quantity times its unit price, rounded to cents.",
        "Let create_estimate compute line amounts from quantity and unit price (send no amount), "
        "or send an amount equal to quantity x unit price.",
        tools=("create_estimate",),
        messages=("Amount calculation incorrect", "amount calculation incorrect"),
    ),
    # API (6080 No Name Provided); REF.
    _qbo(
        "6080",
        "Customer has no name",
        "business",
        "A customer needs a DisplayName or at least one name part (title, given, middle or family "
        "name, suffix).",
        "Call upsert_customer again with a display name or a given/family name.",
        tools=("upsert_customer",),
        messages=("No Name Provided",),
    ),
    # REF (6090 Discount Line missing required info).
    _qbo(
        "6090",
        "Discount line incomplete",
        "business",
        "A discount line has neither an amount nor a percent.",
        "Give the discount an amount or a percent, or remove the line.",
        messages=("Discount Line missing required info",),
    ),
    # REF (6100 Invalid Line TaxCode: for US companies TAX or NON).
    _qbo(
        "6100",
        "Invalid line tax code",
        "business",
        "A line's tax code is not valid for this company (US companies use TAX or NON).",
        "Use TAX or NON (US) or one of the company's tax codes, then repeat the call.",
        messages=("Invalid Line TaxCode",),
    ),
    # API (6140 Duplicate Doc Num); REF; support.getharvest.com (Error 6140 Duplicate Document
    # Number); intuit/QuickBooks-V3-DotNET-SDK#175 (include=allowduplicatedocnum exists).
    _qbo(
        "6140",
        "Document number already used",
        "business",
        "Another transaction already has this DocNumber and the company requires unique numbers.",
        "Look up the existing document with get_transaction (by doc number): if it is the one you "
        "meant to create, use it; otherwise repeat the call with another doc number, or none "
        "(QuickBooks then numbers it).",
        tools=("get_transaction",),
        messages=("Duplicate Doc Num", "Duplicate Document Number"),
    ),
    # REF (6180 Sub Level Limit).
    _qbo(
        "6180",
        "Too many nesting levels",
        "business",
        "Sub-customers (or sub-accounts) may be nested at most five levels deep.",
        "Attach the record to a parent higher up, or to none.",
        tools=("find_customer",),
        messages=("Sub Level Limit",),
    ),
    # API (6190 subscription ended); REF; COMMON; BLOG; intuit/QuickBooks-V3-PHP-SDK#211 and #257
    # (the same words with no code, in an HTTP 200); Intuit's "subscription states" page
    # (developer.intuit.com/.../troubleshooting/subscription-states: lapsed companies are
    # read-only, CompanyInfo.SubscriptionStatus says which state).
    _qbo(
        "6190",
        "Company subscription inactive",
        "setup",
        "The company's QuickBooks Online subscription or trial has ended, was cancelled, or has a "
        "billing problem, so QuickBooks keeps it read-only: reads work, writes are refused.",
        "Nothing in the request is wrong: the company's primary admin must renew the "
        "subscription or fix billing in QuickBooks Online (gear icon, Account and settings, "
        "Billing and subscription); then repeat the call. connection_status shows whether reads "
        "still work.",
        tools=("connection_status",),
        messages=(
            "Invalid Company Status",
            "Subscription period has ended",
            "trial or subscription period ended",
        ),
    ),
    # API (6200 Account Period Closed); REF; support.getharvest.com (books closed for the date).
    _qbo(
        "6200",
        "Books closed for that date",
        "business",
        "The transaction date falls in a period whose books are closed, and the API may not "
        "change closed periods.",
        "Use a date after the closing date, or have the owner reopen the period in QuickBooks.",
        messages=("Account Period Closed",),
    ),
    # REF (6210 Account Period Closed Required Password). BLOG labels 6210 "Duplicate Document
    # Number Error" instead; Intuit's message below tells which one applies.
    _qbo(
        "6210",
        "Books closed (password required)",
        "business",
        "The date falls in a closed period that needs the closing password to change (Intuit's "
        "2017 blog also shows 6210 for a duplicate document number: read Intuit's message).",
        "Use a date after the closing date; for a duplicate document number, use another doc "
        "number or none.",
        tools=("get_transaction",),
        messages=("Account Period Closed Required Password",),
    ),
    # REF (6220 Delete Entity Has Balance Error).
    _qbo(
        "6220",
        "Has an open balance",
        "business",
        "The object still has an open balance, so it cannot be deleted or made inactive.",
        "Settle the balance first (record_payment against list_open_invoices), then repeat.",
        tools=("list_open_invoices", "record_payment"),
        messages=("Delete Entity Has Balance",),
    ),
    # API (6240, DisplayName unique across customers, vendors and employees); REF; BLOG; samples
    # fault-6240-duplicate-name.json and batch-response.json.
    _qbo(
        "6240",
        "Display name already taken",
        "business",
        "DisplayName must be unique across customers, vendors and employees, and another record "
        "(possibly a vendor, an employee or an inactive customer) already uses this one.",
        "Search with find_customer (inactive records included) to see whether it is the same "
        "customer; if it is, update that one with upsert_customer; if not, choose another "
        "display name (for example add the company or city).",
        tools=("find_customer", "upsert_customer"),
        messages=(
            "Duplicate Name Exists Error",
            "Duplicate Name Exists",
            "name supplied already exists",
        ),
    ),
    # REF (6250 InvalidSalesCustomer); knowledgebase.curbwaste.com (6250 Invalid Customer).
    _qbo(
        "6250",
        "Invalid customer",
        "business",
        "The customer on the transaction does not exist or is inactive.",
        "Find the customer with find_customer and use an active one's id.",
        tools=("find_customer",),
        messages=("InvalidSalesCustomer", "Invalid Customer"),
    ),
    # REF (6430 Invalid account type used).
    _qbo(
        "6430",
        "Wrong account type",
        "business",
        "An account reference has the wrong type for this use (for example a deposit to an "
        "account that is not a bank or Undeposited Funds account).",
        "Use an account of the type this field needs (expense lines an expense account, a "
        "credit-card purchase a credit card account, a deposit a bank account) and repeat the "
        "call; the chart of accounts in QuickBooks shows each account's type.",
        messages=(
            "Invalid account type used",
            "Invalid account type",
            "select a different type of account",
        ),
    ),
    # REF (6440 Transaction Detail Information Required).
    _qbo(
        "6440",
        "Line needs an item or account",
        "business",
        "A line with an amount has neither a product/service nor an account.",
        "Give every line an item (find_items) and repeat the call.",
        tools=("find_items",),
        messages=("Transaction Detail Information Required",),
    ),
    # REF (6450 Attempt to Void Transaction failed).
    _qbo(
        "6450",
        "Cannot void a settled transaction",
        "business",
        "The transaction is already settled, so it cannot be voided.",
        "Record a refund or credit instead of voiding.",
        messages=("Attempt to Void Transaction failed",),
    ),
    # API (6540); REF; BLOG.
    _qbo(
        "6540",
        "Deposited transaction cannot change",
        "business",
        "The payment is part of a bank deposit, so it cannot be changed or deleted.",
        "Remove it from the deposit in QuickBooks first, then repeat the call.",
        messages=("Deposited Transaction cannot be changed",),
    ),
    # ruckus/quickbooks-ruby#321 and #206 (gateway message "Subscription for company has lapsed or
    # Invalid destination URL is used. Sandbox company works with Sandbox URL and Production
    # company works with Production URL.; errorCode=007001; statusCode=400"); ruckus/quickeebooks#40
    # (older wording: "No destination found for given partition key"). Not a business rule: the
    # gateway found no company for this realm id at this host.
    _qbo(
        "7001",
        "Company not found at this QuickBooks host",
        "setup",
        "Intuit's gateway found no company for this realm id at the host the request went to: "
        "the environment does not match the company (a sandbox company on the production host, "
        "or the reverse), the realm id is wrong, or the company's subscription has lapsed.",
        "Check QBO_ENVIRONMENT, QBO_API_BASE_URL and QBO_REALM_ID with `qb-mcp doctor` (a sandbox "
        "company needs the sandbox host); if they are right, the company's primary admin must "
        "renew its QuickBooks Online subscription. Then repeat the call.",
        tools=("connection_status",),
        steps=(DOCTOR,),
        messages=(
            "Subscription for company has lapsed",
            "Invalid destination URL is used",
            "No destination found for given partition key",
        ),
    ),
    # --- 10000+: Intuit's side --------------------------------------------------------------
    # API (10000 is an HTTP 500: retry later with the same requestid); REF.
    _qbo(
        "10000",
        "QuickBooks internal error",
        "server",
        "Something failed inside QuickBooks while handling the request; the request may or may "
        "not have been applied.",
        "Repeat the same call later: qb-mcp re-sends writes with the same idempotency key, so a "
        "write is never applied twice. If it keeps failing, contact Intuit with the intuit_tid.",
        retryable=True,
        wait=30.0,
        messages=("An application error has occurred", "System Failure Error"),
    ),
    # REF (10100 Result Set Big).
    _qbo(
        "10100",
        "Result too large",
        "query",
        "The query's result is too large for QuickBooks to return at once.",
        "Ask for smaller pages (MAXRESULTS, STARTPOSITION) or narrower filters with query.",
        tools=("query",),
        messages=("Result Set Big",),
    ),
    # REF (10200 Company Reset).
    _qbo(
        "10200",
        "Company was reset",
        "server",
        "The company's data was reset, so earlier ids and SyncTokens are no longer valid.",
        "Look everything up again (find_customer, find_items, get_transaction) before writing.",
        tools=("find_customer", "find_items", "get_transaction"),
        messages=("Company Reset",),
    ),
)

QBO_CODES: dict[str, CatalogEntry] = {entry.key: entry for entry in QBO_ENTRIES}

# Documented ranges for codes the catalog does not know (API section 4).
RANGE_ENTRIES: dict[Category, CatalogEntry] = {
    "authentication": CatalogEntry(
        "range:authentication",
        "Authentication or authorization problem",
        "authentication",
        "QuickBooks refused the connection's credentials or permissions (codes 1-499).",
        "Check the connection with connection_status; if it is broken, run `qb-mcp auth login`.",
        ("connection_status",),
        (LOGIN,),
    ),
    "unsupported": CatalogEntry(
        "range:unsupported",
        "Unsupported operation",
        "unsupported",
        "QuickBooks does not support this request (codes 500-599): wrong URL or entity.",
        "Check the configuration with `qb-mcp doctor`; do not repeat the call unchanged.",
        (),
        (DOCTOR,),
    ),
    "general": CatalogEntry(
        "range:general",
        "Request could not be completed",
        "general",
        "QuickBooks could not complete the request (codes 600-1999); Intuit's detail says why.",
        "Read Intuit's detail below, correct the request, then repeat the call.",
    ),
    "validation": CatalogEntry(
        "range:validation",
        "Request not valid",
        "validation",
        "Something in the request itself is wrong (codes 2000-4999): a missing or malformed field; "
        "Intuit's detail and element name it.",
        "Correct the field Intuit names and repeat the call.",
    ),
    "business": CatalogEntry(
        "range:business",
        "Business rule refused the change",
        "business",
        "QuickBooks refused the change under one of its bookkeeping rules (codes 5000-9999).",
        "Read Intuit's detail below, change the request to satisfy that rule, then repeat.",
    ),
    "server": CatalogEntry(
        "range:server",
        "QuickBooks server problem",
        "server",
        "Something failed on Intuit's side (codes 10000 and up).",
        "Repeat the same call later; qb-mcp keeps writes idempotent. If it persists, contact "
        "Intuit with the intuit_tid.",
        (),
        (),
        True,
        30.0,
    ),
}


def range_category(code: int) -> Category | None:
    """The documented range of a numeric QBO code, or None for 0 and negatives."""
    if 1 <= code <= 499:
        return "authentication"
    if 500 <= code <= 599:
        return "unsupported"
    if 600 <= code <= 1999:
        return "general"
    if 2000 <= code <= 4999:
        return "validation"
    if 5000 <= code <= 9999:
        return "business"
    if code >= 10000:
        return "server"
    return None


def _oauth(
    error: str,
    title: str,
    cause: str,
    fix: str,
    *,
    tools: tuple[str, ...] = ("connection_status",),
    steps: tuple[str, ...] = (LOGIN,),
    retryable: bool = False,
    wait: float | None = None,
) -> CatalogEntry:
    return CatalogEntry(error, title, "oauth", cause, fix, tools, steps, retryable, wait, (error,))


# OAuth errors from Intuit's token and authorize endpoints: RFC 6749 sections 4.1.2.1 and 5.2 for
# the names; API section 9 for Intuit's behaviour (rotating refresh tokens, single code exchange,
# HTTP 400 invalid_grant and 401 invalid_client); routablehq/python-quickbooks#397 and
# intuit/oauth-jsclient#77 for real invalid_grant bodies.
OAUTH_ENTRIES: tuple[CatalogEntry, ...] = (
    _oauth(
        "invalid_grant",
        "Connection expired",
        "Intuit no longer accepts the refresh token or authorization code: it expired (about 100 "
        "days unused, or the 5-year maximum), was revoked or disconnected, was superseded by a "
        "newer one, or the code was already exchanged.",
        "The connection cannot be repaired automatically: run `qb-mcp auth login` to connect the "
        "company again, then repeat the call.",
    ),
    _oauth(
        "invalid_client",
        "App credentials rejected",
        "Intuit did not accept the app's client id or client secret (wrong values, a mix of "
        "sandbox and production keys, or the secret was rotated).",
        "Set QBO_CLIENT_ID and QBO_CLIENT_SECRET to the app's keys for this environment, check "
        "them with `qb-mcp doctor`, then run `qb-mcp auth login`.",
        steps=(DOCTOR, LOGIN),
    ),
    _oauth(
        "access_denied",
        "Connection not approved",
        "The user declined the connection on Intuit's consent page, or is not allowed to approve "
        "it (only a company admin can).",
        "Run `qb-mcp auth login` again and have an admin of the company approve the connection.",
    ),
    _oauth(
        "invalid_request",
        "OAuth request malformed",
        "Intuit refused the OAuth request as malformed: a parameter is missing or repeated, or the "
        "redirect URI does not match the one registered for the app.",
        "Check QBO_REDIRECT_URI against the app's settings on developer.intuit.com with "
        "`qb-mcp doctor`, then run `qb-mcp auth login` again.",
        steps=(DOCTOR, LOGIN),
    ),
    _oauth(
        "unauthorized_client",
        "App not allowed this grant",
        "The app is not allowed to use this kind of OAuth grant (or these keys are for another "
        "environment).",
        "Use the app's keys for this environment (QBO_CLIENT_ID, QBO_CLIENT_SECRET), check with "
        "`qb-mcp doctor`, then run `qb-mcp auth login`.",
        steps=(DOCTOR, LOGIN),
    ),
    _oauth(
        "unsupported_grant_type",
        "Grant type not supported",
        "The token request used a grant type Intuit does not support; this is a qb-mcp bug.",
        "Report the problem with the output of `qb-mcp doctor`; run `qb-mcp auth login` to "
        "reconnect meanwhile.",
        steps=(DOCTOR, LOGIN),
    ),
    _oauth(
        "unsupported_response_type",
        "Response type not supported",
        "The authorization request asked for a response type Intuit does not support; this is a "
        "qb-mcp bug.",
        "Report the problem with the output of `qb-mcp doctor`.",
        steps=(DOCTOR,),
    ),
    _oauth(
        "invalid_scope",
        "Scope not allowed",
        "The requested scope is unknown or not enabled for the app (qb-mcp needs "
        "com.intuit.quickbooks.accounting).",
        "Enable the accounting scope for the app on developer.intuit.com, then run "
        "`qb-mcp auth login`.",
    ),
    _oauth(
        "server_error",
        "Intuit's sign-in service failed",
        "Intuit's OAuth service had an internal error.",
        "Wait a little and try again; nothing needs to change.",
        retryable=True,
        wait=30.0,
    ),
    _oauth(
        "temporarily_unavailable",
        "Intuit's sign-in service is busy",
        "Intuit's OAuth service is overloaded or under maintenance.",
        "Wait a few minutes and try again; nothing needs to change.",
        retryable=True,
        wait=120.0,
    ),
    _oauth(
        "invalid_token",
        "Token not valid",
        "The token sent to Intuit (for revocation or user info) is expired, revoked or malformed.",
        "Run `qb-mcp auth login` to get fresh tokens.",
    ),
)

OAUTH_ERRORS: dict[str, CatalogEntry] = {entry.key: entry for entry in OAUTH_ENTRIES}


# Failures of qb-mcp itself or of the network, keyed by what `explain_error` sees. The texts of
# these exceptions are ours (qb_mcp.errors), so they are shown as our message.
LOCAL_ERRORS: dict[str, CatalogEntry] = {
    "not_connected": CatalogEntry(
        "not_connected",
        "No company connected",
        "authentication",
        "QBO_ENVIRONMENT names a real QuickBooks environment, but no company is connected in it, "
        "so there are no books to work on (the built-in demo company is served only when "
        "QBO_ENVIRONMENT is unset or emulator, so that fake books are never taken for real ones).",
        "Ask the user to run `qb-mcp auth login` to connect the company, then restart the server; "
        "do not retry until then.",
        ("connection_status",),
        (LOGIN,),
    ),
    "reauthorization_required": CatalogEntry(
        "reauthorization_required",
        "Company must be connected again",
        "authentication",
        "The stored connection can no longer refresh its tokens (revoked, expired or replaced).",
        "Run `qb-mcp auth login` to connect the company again, then repeat the call.",
        ("connection_status",),
        (LOGIN,),
    ),
    "token_store": CatalogEntry(
        "token_store",
        "Stored tokens cannot be read",
        "local",
        "The encrypted token store could not be decrypted: QBO_TOKEN_KEYS changed or lost the key "
        "the tokens were written with, or the database was altered.",
        "Restore the previous key in QBO_TOKEN_KEYS (newest first, old ones after it) and check "
        "with `qb-mcp doctor`; if the key is lost, run `qb-mcp auth login` again.",
        ("connection_status",),
        (DOCTOR, LOGIN),
    ),
    "config": CatalogEntry(
        "config",
        "Configuration problem",
        "local",
        "A setting is missing or malformed; the message names it.",
        "Set the named environment variable or flag and check with `qb-mcp doctor`.",
        (),
        (DOCTOR,),
    ),
    "invalid_argument": CatalogEntry(
        "invalid_argument",
        "Invalid input",
        "local",
        "The call's arguments were refused before anything was sent to QuickBooks; nothing was "
        "changed.",
        "Correct the argument the message names and repeat the call.",
    ),
    "conflict": CatalogEntry(
        "conflict",
        "Changed by someone else",
        "business",
        "While recovering from a stale SyncToken, qb-mcp found that someone else changed the same "
        "fields this call meant to change, so it did not overwrite them.",
        "Re-read the record (find_customer or get_transaction), decide which values should win, "
        "and repeat the call with them.",
        ("find_customer", "get_transaction"),
    ),
    "transport": CatalogEntry(
        "transport",
        "QuickBooks could not be reached",
        "transport",
        "No answer came back from QuickBooks: the connection was refused or reset, or it timed "
        "out. A write may or may not have been applied.",
        "Repeat the same call: qb-mcp re-sends writes with the same idempotency key, so nothing "
        "is applied twice. If it keeps failing, check the network and QBO_API_BASE_URL with "
        "`qb-mcp doctor`.",
        ("connection_status",),
        (DOCTOR,),
        True,
        5.0,
    ),
    "unexpected": CatalogEntry(
        "unexpected",
        "Unexpected internal error",
        "local",
        "qb-mcp failed in a way it does not expect; this is a bug, not a problem with the data.",
        "Report it with the output of `qb-mcp doctor`; meanwhile try another way to reach the "
        "goal.",
        (),
        (DOCTOR,),
    ),
    "unrecognised": CatalogEntry(
        "unrecognised",
        "Could not recognise the fault",
        "unknown",
        "The input is not a QuickBooks fault code, fault body, OAuth error or error message that "
        "qb-mcp knows.",
        "Give explain_fault the fault code (e.g. 6240), the whole fault body as QuickBooks sent "
        "it (JSON or XML), or the OAuth error name (e.g. invalid_grant).",
        ("explain_fault",),
    ),
}


# HTTP statuses that come without a fault code (empty, HTML or plain-text bodies).
HTTP_STATUS: dict[int, CatalogEntry] = {
    400: RANGE_ENTRIES["validation"],
    401: QBO_CODES["3200"],
    403: QBO_CODES["3100"],
    404: CatalogEntry(
        "http:404",
        "Not found",
        "unsupported",
        "QuickBooks answered 404: the URL or the company (realm) id is wrong.",
        "Check QBO_REALM_ID and QBO_API_BASE_URL with `qb-mcp doctor`.",
        ("connection_status",),
        (DOCTOR,),
    ),
    429: QBO_CODES["3001"],
    500: QBO_CODES["10000"],
    502: CatalogEntry(
        "http:502",
        "QuickBooks gateway error",
        "server",
        "Intuit's gateway could not reach the QuickBooks service.",
        "Repeat the same call in a minute; qb-mcp keeps writes idempotent.",
        (),
        (),
        True,
        60.0,
    ),
    503: CatalogEntry(
        "http:503",
        "QuickBooks unavailable",
        "server",
        "The QuickBooks service is temporarily unavailable (maintenance or overload).",
        "Repeat the same call in a few minutes; qb-mcp keeps writes idempotent.",
        (),
        (),
        True,
        120.0,
    ),
    504: CatalogEntry(
        "http:504",
        "QuickBooks timed out",
        "server",
        "QuickBooks did not answer in time (requests over 120 s are cut off); a write may or may "
        "not have been applied.",
        "Repeat the same call; qb-mcp re-sends writes with the same idempotency key.",
        (),
        (),
        True,
        30.0,
    ),
}


def _cause(
    key: str,
    title: str,
    category: Category,
    cause: str,
    fix: str,
    *,
    tools: tuple[str, ...] = (),
    steps: tuple[str, ...] = (),
    retryable: bool = False,
    wait: float | None = None,
) -> CatalogEntry:
    return CatalogEntry(f"cause:{key}", title, category, cause, fix, tools, steps, retryable, wait)


# Causes Intuit's own words name, whatever the code says. A code's entry is the generic meaning
# of that code; when the Detail (or the Message, or a pasted text without a parsable body)
# contains one of these phrases, the phrase says what actually happened and decides. Phrases are
# matched case- and punctuation-insensitively; each rule cites the threads it was taken from
# (tests/bookkeeping/fault_corpus holds the pasted texts).
CAUSES: tuple[tuple[tuple[str, ...], CatalogEntry], ...] = (
    # Setup: the company or the environment, never the request.
    (
        (
            "Subscription for company has lapsed",
            "Invalid destination URL is used",
            "No destination found for given partition key",
        ),
        QBO_CODES["7001"],
    ),
    (
        (
            "Subscription period has ended",
            "trial or subscription period ended",
            "Invalid Company Status",
        ),
        QBO_CODES["6190"],
    ),
    (
        ("WrongClusterError", "Accessing Wrong Cluster", "accessed the wrong server"),
        QBO_CODES["130"],
    ),
    # IntuitDeveloper/OAuth2_DotnetCore_MVC5_SampleApp#1 (a sandbox company called through the
    # production base URL: "Ids service endpoint was not found").
    (
        ("Ids service endpoint was not found",),
        _cause(
            "wrong-base-url",
            "Wrong QuickBooks base URL",
            "setup",
            "The request went to a QuickBooks host that does not serve this company: a sandbox "
            "company through the production URL, or the reverse.",
            "Set QBO_ENVIRONMENT to the company's environment (sandbox or production) and leave "
            "QBO_API_BASE_URL unset unless it points at that environment; check with "
            "`qb-mcp doctor`, then repeat the call.",
            tools=("connection_status",),
            steps=(DOCTOR,),
        ),
    ),
    # No usable answer: Intuit's PHP SDK reports a failed connection as status 0
    # (intuit/QuickBooks-V3-PHP-SDK#105), its .NET SDK an empty answer as a CommunicationException
    # (intuit/QuickBooks-V3-DotNET-SDK#373).
    (
        (
            "Http Status Code [0]",
            "Response Code:[0]",
            "error while communicating with the Ids Server",
            "Response Stream was null or empty",
        ),
        _cause(
            "no-response",
            "No answer from QuickBooks",
            "transport",
            "No usable HTTP answer came back (status 0, or an empty answer): the connection "
            "failed before QuickBooks' reply could be read, through DNS, TLS, a proxy or a "
            "timeout. A write may or may not have been applied.",
            "Check the network and QBO_API_BASE_URL with `qb-mcp doctor`, then repeat the call; "
            "qb-mcp re-sends writes with the same idempotency key.",
            tools=("connection_status",),
            steps=(DOCTOR,),
            retryable=True,
            wait=5.0,
        ),
    ),
    # Intuit's side, whatever the code: intuit/QuickBooks-V3-PHP-SDK#305 (6000 "It looks like
    # something went wrong on our end ... Please try again later", fixed by Intuit).
    # ruckus/quickbooks-ruby#344 (6000 "An unexpected error occurred while accessing or saving
    # your data. Please wait a few minutes and try again").
    (
        (
            "went wrong on our end",
            "unexpected error occurred while accessing or saving your data",
            "Please wait a few minutes and try again",
        ),
        _cause(
            "intuit-side",
            "QuickBooks failed on its side",
            "server",
            "QuickBooks reports that the failure is on its side (its own words say so), although "
            "the error code looks like a problem with the request.",
            "Repeat the same call later; qb-mcp keeps writes idempotent. If it keeps failing, "
            "contact Intuit with the intuit_tid.",
            retryable=True,
            wait=60.0,
        ),
    ),
    # Query text: consolibyte/quickbooks-php#129 and intuit/QuickBooks-V3-PHP-SDK#8.
    (
        ("The query provided was empty", 'Encountered "<EOF>" at line 0, column 0'),
        _cause(
            "empty-query",
            "Query was empty",
            "query",
            "QuickBooks received no query text at all (an empty body or an empty query "
            "parameter), so there was nothing to parse.",
            "Send a whole statement such as SELECT * FROM Customer with query (check that the "
            "client really puts the text in the request); find_customer and find_items build "
            "queries for you.",
            tools=("query", "find_customer", "find_items"),
        ),
    ),
    # pbrink231/quickbooks-node-promise#1 ("%" from double URL-encoding) and
    # intuit/QuickBooks-V3-PHP-SDK#397 (an en dash).
    (
        ("Lexical error",),
        _cause(
            "query-character",
            "Query has a character QuickBooks cannot read",
            "query",
            "The query contains a character QuickBooks' query language does not accept: a "
            "typographic dash or quote, or text that was URL-encoded twice (a stray %).",
            "Replace typographic characters with plain ones (- and '), encode the query only "
            "once, and call query again; find_customer and find_items build queries for you.",
            tools=("query", "find_customer", "find_items"),
        ),
    ),
    # A stored record with bad data breaks reading it back: intuit/QuickBooks-V3-DotNET-SDK#111
    # and #81, intuit/QuickBooks-V3-PHP-SDK#216, intuit/QuickBooks-V3-Java-SDK#47 (4002
    # "To email address entered is invalid", an invoice saved with a malformed email).
    (
        ("To email address entered is invalid",),
        _cause(
            "stored-bad-email",
            "A stored record has an invalid email address",
            "query",
            "The query itself is fine: one of the records it returns (typically an invoice or "
            "estimate whose To email was saved malformed, several addresses in one field) fails "
            "QuickBooks' own check while it is read back.",
            "Find the record (narrow the query by date or id with query to see which page "
            "fails) and correct its email address in QuickBooks; simplifying the query will not "
            "help. Then call query again.",
            tools=("query", "get_transaction"),
        ),
    ),
    # A 6000 that names the request id: intuit/QuickBooks-V3-Java-SDK#180 ("You cannot enter more
    # than 50 characters in the request_id field").
    (("characters in the request_id field",), QBO_CODES["2130"]),
    # Item categories: consolibyte/quickbooks-php#178 (2500 "Categories cannot be used in
    # transactions").
    (
        ("Categories cannot be used in transactions", "Category cannot be used"),
        _cause(
            "category-as-item",
            "A category was used as an item",
            "business",
            "A line refers to a product category, and QuickBooks only accepts products and "
            "services (items of type Service, Inventory or NonInventory) on transaction lines.",
            "Look the product or service up with find_items (it lists items, not categories) and "
            "use its id on the line, then repeat the call.",
            tools=("find_items",),
        ),
    ),
    # Closed books: routablehq/python-quickbooks#208 ("Account Period Closed", reported under
    # code 5010); Intuit's 2017 blog (6210 "The accounting period has closed").
    (("Account Period Closed Required Password",), QBO_CODES["6210"]),
    (
        ("account period has closed", "accounting period has closed", "Account Period Closed"),
        QBO_CODES["6200"],
    ),
    # Account types: ruckus/quickbooks-ruby#532 and #229, ruckus/quickbooks-ruby#91,
    # routablehq/python-quickbooks#391.
    (
        (
            "Invalid account type",
            "select a different type of account",
            "account type doesn't support",
            "Select a bank account for this deposit",
        ),
        QBO_CODES["6430"],
    ),
    # Company settings: intuit/QuickBooks-V3-DotNET-SDK#10 (Track quantity on hand is off).
    (
        ("Track quantity on hand is turned off",),
        _cause(
            "inventory-tracking-off",
            "Inventory tracking is off",
            "business",
            "The company does not track quantity on hand, so QuickBooks refuses items of type "
            "Inventory.",
            "Turn on 'Track quantity and price/rate on products and services' in QuickBooks "
            "(Account and settings, Sales), or create the item as NonInventory or Service.",
            tools=("find_items",),
        ),
    ),
    # Sales tax: activepieces/activepieces#8539 (a Canadian company: "Make sure all your
    # transactions have a GST/HST rate").
    (
        ("have a GST/HST rate", "must have a tax rate"),
        _cause(
            "line-tax-missing",
            "Lines need a tax code",
            "business",
            "The company charges sales tax (GST/HST in Canada), and QuickBooks requires a tax "
            "code on every line of a sales transaction.",
            "Give every line a TaxCodeRef with one of the company's tax codes (query "
            "SELECT * FROM TaxCode lists them), then repeat the call.",
            tools=("query",),
        ),
    ),
    # A value QuickBooks parses as a number is not one: intuit/QuickBooks-V3-DotNET-SDK#343 (a
    # SystemFault "java.lang.NumberFormatException: For input string"), ruckus/quickeebooks#101.
    (
        ("NumberFormatException",),
        _cause(
            "not-a-number",
            "A value that must be a number is not",
            "validation",
            "A field QuickBooks reads as a number (an id in a reference, an amount, a quantity) "
            "holds text, so its parser failed; QuickBooks reports it as a system failure, but "
            "the request is what is wrong.",
            "Send ids as the digits QuickBooks returned (find_customer, find_items give them) "
            "and amounts as plain decimals, then repeat the call; retrying unchanged fails "
            "again.",
            tools=("find_customer", "find_items"),
        ),
    ),
    # Wrong URL or wrong body for the URL: ruckus/quickbooks-ruby#39 ("Bad arguments passed",
    # an Invoice sent to the customer endpoint), grue/django-quickbooks-online#12 and
    # minimul/qbo_api#81 ("Could not find resource for relative").
    (
        ("Could not find resource for relative", "Bad arguments passed to public"),
        _cause(
            "wrong-resource",
            "Wrong URL or entity for this request",
            "unsupported",
            "QuickBooks found no operation for this URL and body: the entity name or id in the "
            "path is wrong (an id of 0, a realm id placeholder), or the body is a different "
            "entity than the URL names.",
            "Check QBO_REALM_ID and QBO_API_BASE_URL with `qb-mcp doctor` and use ids QuickBooks "
            "returned (get_transaction, find_customer); retrying unchanged fails again.",
            tools=("get_transaction", "find_customer"),
            steps=(DOCTOR,),
        ),
    ),
    # mcohen01/node-quickbooks#48 (the realm id was missing) and
    # zao-web/zao-woocommerce-quickbooks-online-integration#12 (an empty CustomerRef): 6000
    # "Unexpected Internal Error (-30000)".
    (
        ("Business Validation Error: Unexpected Internal Error",),
        _cause(
            "empty-reference",
            "QuickBooks could not process the request",
            "business",
            "QuickBooks failed on a request that is missing something it needs before any rule "
            "applies; in reported cases the company (realm) id or the CustomerRef was empty.",
            "Check that the request names the company (QBO_REALM_ID, `qb-mcp doctor`) and that "
            "every reference (customer, item) has an id from find_customer or find_items; then "
            "repeat the call.",
            tools=("find_customer", "find_items"),
            steps=(DOCTOR,),
        ),
    ),
)

# Exception names that QuickBooks client libraries print, and the HTTP status each one stands
# for (the libraries raise them from the status). They decide only when the text has no code, no
# status and no Intuit phrase. Sources: routablehq/python-quickbooks quickbooks/exceptions.py
# (AuthorizationException for 401/403 and codes 1-499, UnsupportedException for 500-599,
# ValidationException 2000-4999, SevereException 10000+, ObjectNotFoundException for 610);
# ruckus/quickbooks-ruby (Quickbooks::AuthorizationFailure, Forbidden, ThrottleExceeded,
# TooManyRequests, ServiceUnavailable); minimul/qbo_api (QboApi::BadRequest, Unauthorized,
# Forbidden, NotFound, TooManyRequests, InternalServerError, BadGateway, ServiceUnavailable).
CLIENT_EXCEPTION_STATUS: dict[str, int] = {
    "AuthorizationException": 401,
    "ValidationException": 400,
    "SevereException": 500,
    "Quickbooks::AuthorizationFailure": 401,
    "Quickbooks::Forbidden": 403,
    "Quickbooks::ThrottleExceeded": 429,
    "Quickbooks::TooManyRequests": 429,
    "Quickbooks::ServiceUnavailable": 503,
    "Quickbooks::InternalServerError": 500,
    "QboApi::BadRequest": 400,
    "QboApi::Unauthorized": 401,
    "QboApi::Forbidden": 403,
    "QboApi::NotFound": 404,
    "QboApi::TooManyRequests": 429,
    "QboApi::InternalServerError": 500,
    "QboApi::BadGateway": 502,
    "QboApi::ServiceUnavailable": 503,
    "InvalidTokenException": 401,
}
# Names that stand for a code rather than a status (python-quickbooks).
CLIENT_EXCEPTION_CODE: dict[str, str] = {
    "ObjectNotFoundException": "610",
    "UnsupportedException": "500",
}
# Names a pasted text may carry that say nothing by themselves, listed so the explanation can
# name the library's exception (intuitlib, Intuit's PHP/.NET/Java SDKs, quickbooks-ruby, oauth2).
CLIENT_EXCEPTION_OTHER: tuple[str, ...] = (
    "AuthClientError",
    "QuickbooksException",
    "GeneralException",
    "ServiceException",
    "SdkException",
    "IdsException",
    "RetryExceededException",
    "FMSException",
    "Quickbooks::IntuitRequestException",
    "IntuitRequestException",
    "IntuitOAuth::OAuth2ClientException",
    "OAuth2::Error",
    "Faraday::ClientError",
    "OAuthException",
)


def all_entries() -> tuple[CatalogEntry, ...]:
    """Every entry in the catalog (for tests and documentation)."""
    return (
        QBO_ENTRIES
        + OAUTH_ENTRIES
        + tuple(RANGE_ENTRIES.values())
        + tuple(LOCAL_ERRORS.values())
        + tuple(HTTP_STATUS.values())
        + tuple(entry for _, entry in CAUSES)
    )
