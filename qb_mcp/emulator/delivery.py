"""`POST invoice/{id}/send[?sendTo=address]`: QuickBooks e-mails an invoice.

Intuit's Invoice reference ("Send an invoice"; markdown copy in github.com/Petrus-Han/
finance_plugins ref/quickbooks_dev_docs/api-reference/invoice.md): the body is empty with
`Content-Type: application/octet-stream`; once sent, EmailStatus is EmailSent, DeliveryInfo holds
`{"DeliveryType": "Email", "DeliveryTime": ...}`, and BillEmail.Address becomes the `sendTo`
address when one is given. Intuit does not deduplicate sends: each call is another e-mail.
The emulator sends nothing; it records the delivery on the invoice (a change, with a SyncToken).

Choices where the reference is silent (unverified): an invoice with no BillEmail and no sendTo
is refused with 6000, and so is a sendTo that is not an e-mail address; a voided invoice can
still be sent, as in QuickBooks' own screens.
"""

from __future__ import annotations

import re

from qb_mcp.emulator import values as v
from qb_mcp.emulator.realms import Obj

_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
MAX_EMAIL = 100


def mark_sent(invoice: Obj, send_to: str | None, when: str) -> None:
    """Record on `invoice` (a copy being updated) that it was e-mailed at `when`."""
    if send_to is not None:
        if len(send_to) > MAX_EMAIL or not _EMAIL.match(send_to):
            raise v.business(f"sendTo {send_to[:MAX_EMAIL]!r} is not an email address.", "sendTo")
        invoice["BillEmail"] = {"Address": send_to}
    address = (invoice.get("BillEmail") or {}).get("Address")
    if not address:
        raise v.business(
            "The invoice has no BillEmail address; give sendTo or set the customer's email.",
            "BillEmail",
        )
    invoice["EmailStatus"] = "EmailSent"
    invoice["DeliveryInfo"] = {"DeliveryType": "Email", "DeliveryTime": when}
