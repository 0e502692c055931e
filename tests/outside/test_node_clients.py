"""node-quickbooks and intuit-oauth (npm) against the emulator, over loopback.

Each script under tests/outside/node/ drives one library through its ordinary flows and prints
every step's outcome as JSON; the tests here assert on those outcomes. The packages come from the
local prefix `.ci/run` installs them into (QB_MCP_NODE_PREFIX, as for the MCP Inspector); without
Node or the packages the tests skip, and under CI=true they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qb_mcp.emulator import Emulator
from tests.auth.live import serve
from tests.outside.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    emulator_config,
)

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "node"
PACKAGES = ("node-quickbooks", "intuit-oauth")
Results = dict[str, dict[str, Any]]


def node_modules() -> Path:
    """The node_modules folder holding the pinned packages, or a skip (a failure under CI)."""
    prefix = Path(os.environ.get("QB_MCP_NODE_PREFIX") or REPO / ".ci-node")
    modules = prefix / "node_modules"
    missing = [p for p in PACKAGES if not (modules / p / "package.json").is_file()]
    problem = ""
    if shutil.which("node") is None:
        problem = "node is not installed"
    elif missing:
        problem = f"{', '.join(missing)} not installed in {prefix} (see .ci/run)"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"{problem}: CI must run the outside-client checks (.ci/run)")
        pytest.skip(f"{problem}: the node outside-client tests need them")
    return modules


def run_script(name: str) -> Results:
    """Run one script against a fresh emulator (refresh tokens rotating on every refresh)."""
    modules = node_modules()
    emulator = Emulator(emulator_config(rotate_refresh_after=0))
    with serve(emulator.app) as base_url:
        env = {
            **os.environ,
            "NODE_PATH": str(modules),
            "QB_EMULATOR_URL": base_url,
            "QB_CLIENT_ID": CLIENT_ID,
            "QB_CLIENT_SECRET": CLIENT_SECRET,
            "QB_REDIRECT_URI": REDIRECT_URI,
        }
        done = subprocess.run(
            ["node", str(SCRIPTS / name)],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    results: Results = json.loads(done.stdout)
    return results


@pytest.fixture(scope="module")
def oauth() -> Iterator[Results]:
    yield run_script("oauth.js")


@pytest.fixture(scope="module")
def qbo() -> Iterator[Results]:
    yield run_script("quickbooks.js")


def ok(results: Results, step: str) -> dict[str, Any]:
    outcome = results[step]
    assert outcome["ok"], f"{step}: {json.dumps(outcome['error'])[:2000]}"
    return outcome


# ---- intuit-oauth --------------------------------------------------------------------------


def test_oauth_code_exchange(oauth: Results) -> None:
    got = ok(oauth, "code_exchange")
    assert got["realmId"] == "9341453050298"
    assert got["state"] == "node-state"
    assert got["has_access"] and got["has_refresh"] and got["has_id_token"]
    assert got["expires_in"] == 3600 and got["access_valid"]


def test_oauth_validates_the_id_token(oauth: Results) -> None:
    assert ok(oauth, "validate_id_token")["valid"] is True


def test_oauth_user_info(oauth: Results) -> None:
    assert ok(oauth, "user_info")["has_sub"]


def test_oauth_api_call_and_its_fault_parsing(oauth: Results) -> None:
    assert ok(oauth, "api_call")["company"] == "Craig's Design and Landscaping Services"
    fault = ok(oauth, "api_fault")
    assert fault["name"] == "OAuthError"
    assert fault["code"] == "610"
    assert fault["fault"]["type"] == "ValidationFault"
    assert fault["fault"]["errors"][0]["code"] == "610"


def test_oauth_sees_throttling_as_rate_limit_exceeded(oauth: Results) -> None:
    assert ok(oauth, "api_throttled")["code"] == "RATE_LIMIT_EXCEEDED"


def test_oauth_refresh_rotates_and_the_superseded_token_is_refused(oauth: Results) -> None:
    refreshed = ok(oauth, "refresh")
    assert refreshed["new_access"] and refreshed["rotated"] and refreshed["realm_kept"]
    assert ok(oauth, "superseded_refresh")["error"] == "invalid_grant"


def test_oauth_hard_expiry_when_asked_for(oauth: Results) -> None:
    got = ok(oauth, "hard_expiry")
    five_years = 5 * 365 * 86_400
    assert five_years - 60 <= got["created"] <= five_years
    assert five_years - 60 <= got["refreshed"] <= five_years


def test_oauth_revoke(oauth: Results) -> None:
    revoked = ok(oauth, "revoke")  # JSON body {"token": ...}
    assert revoked["status"] == 200
    assert revoked["refresh_after"] == "invalid_grant"


# ---- node-quickbooks -----------------------------------------------------------------------


def test_create_customer(qbo: Results) -> None:
    got = ok(qbo, "create_customer")
    assert got["sync_token"] == "0" and got["name"] == "Outside Node Co"


def test_a_repeated_request_id_replays_the_first_answer(qbo: Results) -> None:
    got = ok(qbo, "request_id")
    assert got["same"] and got["count"] == 1


def test_queries(qbo: Results) -> None:
    assert ok(qbo, "find_apostrophe")["names"] == ["O'Brien Plumbing"]
    names = ok(qbo, "find_like")["names"]
    assert names == sorted(names) and all(n.startswith("O") for n in names)
    counted = ok(qbo, "count")
    assert counted["total"] == counted["listed"]


def test_paging(qbo: Results) -> None:
    got = ok(qbo, "paging")
    assert got["page2"] == got["all"][5:10]
    assert got["fetched"] == got["all"]  # fetchAll walked every page of 4


def test_get_then_save(qbo: Results) -> None:
    got = ok(qbo, "get_then_save")
    assert got == {"ok": True, "sync_token": "1", "company": "Node Get Then Save Ltd"}


def test_a_stale_sync_token_is_a_5010_fault(qbo: Results) -> None:
    got = ok(qbo, "stale_sync_token")
    assert (got["status"], got["code"], got["message"]) == (400, "5010", "Stale Object Error")
    assert got["notes"] == "first"


def test_estimate_then_linked_invoice_then_payment(qbo: Results) -> None:
    got = ok(qbo, "quote_to_cash")
    assert got["estimate_total"] == 300 and got["invoice_balance"] == 300
    assert got["estimate_links"] == [[got["invoice_id"], "Invoice"]]
    assert got["balance_after"] == 180 and got["customer_balance"] == 180


def test_void_payment_restores_the_invoice_balance(qbo: Results) -> None:
    got = ok(qbo, "void_payment")
    assert got["payment_total"] == 0 and got["invoice_balance"] == 200


def test_delete_payment(qbo: Results) -> None:
    got = ok(qbo, "delete_payment")
    assert got["status"] == "Deleted" and got["read_after"]["code"] == "610"
    assert got["invoice_balance"] == 80


def test_void_sales_receipt(qbo: Results) -> None:
    got = ok(qbo, "void_sales_receipt")
    assert got["total_before"] == 45 and got["total"] == 0 and "Voided" in got["note"]


def test_credit_memo_lowers_the_customers_balance_and_prints(qbo: Results) -> None:
    got = ok(qbo, "credit_memo")
    assert got["total"] == got["remaining"] == 30
    assert got["customer_balance"] == 70  # the 100 invoice less the credit held
    assert got["pdf_head"] == "%PDF-"


def test_refund_receipt_is_paid_from_a_bank_account(qbo: Results) -> None:
    got = ok(qbo, "refund_receipt")
    assert (got["total"], got["balance"], got["reference"]) == (45, 0, "5001")


def test_get_invoice_pdf_is_a_real_pdf(qbo: Results) -> None:
    got = ok(qbo, "invoice_pdf")
    assert (got["head"], got["tail"]) == ("%PDF-", "%%EOF") and got["size"] > 500


def test_void_invoice(qbo: Results) -> None:
    got = ok(qbo, "void_invoice")
    assert got["total"] == 0 and got["balance"] == 0 and "Voided" in got["note"]


def test_delete_invoice(qbo: Results) -> None:
    got = ok(qbo, "delete_invoice")
    assert got["status"] == "Deleted" and got["read_after"]["code"] == "610"


def test_batch_create_update_delete_query(qbo: Results) -> None:
    got = ok(qbo, "batch")
    assert got["created"] == ["Node Batch 1", "Node Batch 2"]
    assert got["duplicate"] == "6240"
    assert got["updated"] == ["Batched Ltd", "1"]
    assert got["deleted"] == "Deleted" and got["read_after"]["code"] == "610"
    assert got["queried"] == ["Node Batch 2"]


def test_batch_void_of_a_payment(qbo: Results) -> None:
    got = ok(qbo, "batch_void_payment")
    assert got["fault"] is None
    assert got["payment_total"] == 0 and got["invoice_balance"] == 30


def test_change_data_capture(qbo: Results) -> None:
    assert ok(qbo, "cdc")["found"]


def test_throttling_is_a_429_with_the_xml_fault(qbo: Results) -> None:
    got = ok(qbo, "throttled")
    assert got["status"] == 429
    assert "ThrottleExceeded" in got["body"] and got["body"].startswith("<?xml")
    assert got["next_ok"]


def test_fault_parsing(qbo: Results) -> None:
    got = ok(qbo, "faults")
    assert (got["not_found"]["code"], got["not_found"]["type"]) == ("610", "ValidationFault")
    assert got["duplicate"]["code"] == "6240"
    assert got["bad_query"]["code"] == "4000" and got["bad_query"]["detail"]


def test_the_library_refreshes_its_token(qbo: Results) -> None:
    got = ok(qbo, "refresh")
    assert got["new_access"] and got["rotated"] and got["read"] == "1"


def test_the_library_revokes_with_a_form_body(qbo: Results) -> None:
    assert ok(qbo, "revoke")["cleared"]
