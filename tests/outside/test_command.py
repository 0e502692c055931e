"""The outside clients against `qb-mcp emulator` itself: the command a user starts, as a
subprocess on a free loopback port, with its defaults (any client id and secret)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal

import pytest
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice

from tests.outside.conftest import Loopback
from tests.outside.test_python_quickbooks import connect, invoice_for, new_customer, pay
from tests.ports import free_port


@pytest.fixture
def command() -> Iterator[Loopback]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "qb_mcp", "emulator", "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "QBO_LOG_LEVEL": "WARNING"},
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()  # printed once the port is listening
        base_url = f"http://127.0.0.1:{port}"
        assert base_url in banner, banner
        yield Loopback(base_url)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)


@pytest.mark.slow
def test_python_quickbooks_against_the_command(
    command: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    qb = connect(command, monkeypatch)
    assert [c.DisplayName for c in Customer.filter(DisplayName="O'Brien Plumbing", qb=qb)] == [
        "O'Brien Plumbing"
    ]
    customer = new_customer(qb, "Command Line Python")
    invoice = invoice_for(qb, customer, 60)
    pay(qb, customer, invoice, 25)
    assert Decimal(str(Invoice.get(invoice.Id, qb=qb).Balance)) == 35
