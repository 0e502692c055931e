"""Request bodies as independently written clients send them (shared by the emulator tests).

Generated with python-quickbooks 0.9.12 (`Customer().to_json()` with only DisplayName set);
these blanks and read-only defaults come with every create and save it makes.
"""

from __future__ import annotations

from typing import Any

# What python-quickbooks 0.9.12 sends for `Customer()` with only DisplayName set.
PYTHON_QUICKBOOKS_CUSTOMER: dict[str, Any] = {
    "Active": True,
    "Balance": 0,
    "BalanceWithJobs": 0,
    "BillWithParent": False,
    "CompanyName": "",
    "DisplayName": "Defaults Co",
    "FamilyName": "",
    "FullyQualifiedName": "",
    "GivenName": "",
    "IsProject": False,
    "Job": False,
    "Level": 0,
    "MiddleName": "",
    "Notes": "",
    "OpenBalanceDate": "",
    "PreferredDeliveryMethod": "",
    "PrimaryTaxIdentifier": "",
    "PrintOnCheckName": "",
    "ResaleNum": "",
    "Suffix": "",
    "SyncToken": 0,
    "Taxable": True,
    "Title": "",
    "domain": "QBO",
    "sparse": False,
}
