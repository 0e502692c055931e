"""qb-mcp: a Model Context Protocol server for QuickBooks Online bookkeeping, and the same
bookkeeping as a Python API (`open_books`, `open_books_sync`; see docs/python.md).

The API's names are imported on first use, so `qb-mcp serve` starts without loading the
bookkeeping layer (tools/base.py: start-up cost).
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("qb-mcp")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

if TYPE_CHECKING:
    from qb_mcp.bookkeeping.common import (
        LineView,
        LinkView,
    )
    from qb_mcp.bookkeeping.corrections import (
        BalanceView,
        DeleteResult,
        DeleteTransactionInput,
        VoidResult,
        VoidTransactionInput,
    )
    from qb_mcp.bookkeeping.credits import (
        CreateCreditMemoInput,
        CreditMemoView,
        RefundInput,
        RefundView,
    )
    from qb_mcp.bookkeeping.customers import (
        AddressIn,
        BulkOutcome,
        CustomerContact,
        CustomerMatchView,
        CustomerView,
        FindCustomerInput,
        FindCustomerResult,
        UpsertCustomerResult,
        UpsertCustomersInput,
        UpsertCustomersResult,
    )
    from qb_mcp.bookkeeping.documents import (
        GetInvoicePdfInput,
        InvoicePdf,
    )
    from qb_mcp.bookkeeping.explain import (
        Explanation,
        IntuitError,
        RelatedFault,
    )
    from qb_mcp.bookkeeping.items import (
        UpsertItemInput,
        UpsertItemResult,
    )
    from qb_mcp.bookkeeping.payments import (
        AppliedView,
        PaymentResult,
        RecordPaymentInput,
    )
    from qb_mcp.bookkeeping.reads import (
        FindItemsInput,
        FindItemsResult,
        GetTransactionInput,
        ItemView,
        ListOpenInvoicesInput,
        OpenInvoicesResult,
        OpenInvoiceView,
        PaymentLineView,
        PaymentView,
        QueryResult,
        RunQueryInput,
        TransactionResult,
    )
    from qb_mcp.bookkeeping.receipts import (
        CreateSalesReceiptInput,
        SalesReceiptView,
    )
    from qb_mcp.bookkeeping.reports import (
        ReportInput,
        ReportResult,
        ReportRow,
        ReportTotal,
    )
    from qb_mcp.bookkeeping.sales import (
        ConvertEstimateInput,
        ConvertEstimateResult,
        CreateEstimateInput,
        EstimateLineInput,
        EstimateView,
        InvoiceView,
    )
    from qb_mcp.bookkeeping.sending import (
        SendInvoiceInput,
        SendInvoiceResult,
    )
    from qb_mcp.books import (
        Books,
        SyncBooks,
        open_books,
        open_books_sync,
    )
    from qb_mcp.config import (
        Settings,
    )
    from qb_mcp.errors import (
        AuthenticationError,
        AuthorizationError,
        BusinessRuleError,
        ConfigError,
        ConflictError,
        DuplicateNameError,
        DuplicateRequestError,
        FaultDetail,
        InvalidArgumentError,
        NotConnectedError,
        NotFoundError,
        OAuthError,
        QbMcpError,
        QBOError,
        QueryError,
        ReauthorizationRequiredError,
        ServerError,
        StaleObjectError,
        ThrottledError,
        TokenStoreError,
        TransportError,
        ValidationError,
    )
    from qb_mcp.tools.events_models import (
        CatchUpSummary,
        Change,
        RecentChangesInput,
        RecentChangesResult,
    )
    from qb_mcp.tools.support_models import (
        CompanyEntry,
        CompanyList,
        CompanyStatus,
        ConnectionStatusInput,
        ExplainFaultInput,
        ExplainFaultOutput,
        ListCompaniesInput,
        RecentFault,
    )
    from qb_mcp.webhooks.forward import (
        verify_event_signature,
    )

# Where the public names live, searched in this order on first use.
_MODULES = (
    "qb_mcp.bookkeeping.common",
    "qb_mcp.bookkeeping.customers",
    "qb_mcp.bookkeeping.explain",
    "qb_mcp.bookkeeping.payments",
    "qb_mcp.bookkeeping.reads",
    "qb_mcp.bookkeeping.sales",
    "qb_mcp.bookkeeping.corrections",
    "qb_mcp.bookkeeping.items",
    "qb_mcp.bookkeeping.receipts",
    "qb_mcp.bookkeeping.credits",
    "qb_mcp.bookkeeping.documents",
    "qb_mcp.bookkeeping.reports",
    "qb_mcp.bookkeeping.sending",
    "qb_mcp.books",
    "qb_mcp.config",
    "qb_mcp.errors",
    "qb_mcp.tools.events_models",
    "qb_mcp.tools.support_models",
    "qb_mcp.webhooks.forward",
)

__all__ = [
    "AddressIn",
    "AppliedView",
    "AuthenticationError",
    "AuthorizationError",
    "BalanceView",
    "Books",
    "BulkOutcome",
    "BusinessRuleError",
    "CatchUpSummary",
    "Change",
    "CompanyEntry",
    "CompanyList",
    "CompanyStatus",
    "ConfigError",
    "ConflictError",
    "ConnectionStatusInput",
    "ConvertEstimateInput",
    "ConvertEstimateResult",
    "CreateCreditMemoInput",
    "CreateEstimateInput",
    "CreateSalesReceiptInput",
    "CreditMemoView",
    "CustomerContact",
    "CustomerMatchView",
    "CustomerView",
    "DeleteResult",
    "DeleteTransactionInput",
    "DuplicateNameError",
    "DuplicateRequestError",
    "EstimateLineInput",
    "EstimateView",
    "ExplainFaultInput",
    "ExplainFaultOutput",
    "Explanation",
    "FaultDetail",
    "FindCustomerInput",
    "FindCustomerResult",
    "FindItemsInput",
    "FindItemsResult",
    "GetInvoicePdfInput",
    "GetTransactionInput",
    "IntuitError",
    "InvalidArgumentError",
    "InvoicePdf",
    "InvoiceView",
    "ItemView",
    "LineView",
    "LinkView",
    "ListCompaniesInput",
    "ListOpenInvoicesInput",
    "NotConnectedError",
    "NotFoundError",
    "OAuthError",
    "OpenInvoiceView",
    "OpenInvoicesResult",
    "PaymentLineView",
    "PaymentResult",
    "PaymentView",
    "QBOError",
    "QbMcpError",
    "QueryError",
    "QueryResult",
    "ReauthorizationRequiredError",
    "RecentChangesInput",
    "RecentChangesResult",
    "RecentFault",
    "RecordPaymentInput",
    "RefundInput",
    "RefundView",
    "RelatedFault",
    "ReportInput",
    "ReportResult",
    "ReportRow",
    "ReportTotal",
    "RunQueryInput",
    "SalesReceiptView",
    "SendInvoiceInput",
    "SendInvoiceResult",
    "ServerError",
    "Settings",
    "StaleObjectError",
    "SyncBooks",
    "ThrottledError",
    "TokenStoreError",
    "TransactionResult",
    "TransportError",
    "UpsertCustomerResult",
    "UpsertCustomersInput",
    "UpsertCustomersResult",
    "UpsertItemInput",
    "UpsertItemResult",
    "ValidationError",
    "VoidResult",
    "VoidTransactionInput",
    "__version__",
    "open_books",
    "open_books_sync",
    "verify_event_signature",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        for module in _MODULES:
            value = getattr(import_module(module), name, _MISSING)
            if value is not _MISSING:
                globals()[name] = value
                return value
    raise AttributeError(f"module 'qb_mcp' has no attribute {name!r}")


_MISSING = object()


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
