"""The company's clock: QuickBooks stamps times and takes default dates in the company's own zone,
with daylight saving time (the demo company is in California: -08:00 in winter, -07:00 in summer).
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx2
import pytest

from qb_mcp.emulator import Emulator, EmulatorConfig

REALM = "9341453050298"


def at(moment: datetime) -> Emulator:
    return Emulator(EmulatorConfig(require_auth=False), clock=moment.timestamp)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("utc", "offset", "company_day"),
    [
        # 07:30 UTC on 15 January is 23:30 on the 14th in California (PST, -08:00).
        (datetime(2026, 1, 15, 7, 30, tzinfo=UTC), "-08:00", "2026-01-14"),
        # 06:30 UTC on 15 July is 23:30 on the 14th in California (PDT, -07:00).
        (datetime(2026, 7, 15, 6, 30, tzinfo=UTC), "-07:00", "2026-07-14"),
    ],
)
async def test_times_and_default_dates_follow_daylight_saving(
    utc: datetime, offset: str, company_day: str
) -> None:
    emulator = at(utc)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=emulator.app), base_url="http://emulator"
    ) as client:
        created = await client.post(
            f"/v3/company/{REALM}/customer", json={"DisplayName": "Zone Test Co"}
        )
        assert created.status_code == 200, created.text
        body = created.json()
        assert body["time"].endswith(offset)
        assert body["Customer"]["MetaData"]["CreateTime"].endswith(offset)
        invoice = await client.post(
            f"/v3/company/{REALM}/invoice",
            json={
                "CustomerRef": {"value": body["Customer"]["Id"]},
                "Line": [
                    {
                        "Amount": 10,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                    }
                ],
            },
        )
        assert invoice.status_code == 200, invoice.text
        assert invoice.json()["Invoice"]["TxnDate"] == company_day
        fault = await client.get(f"/v3/company/{REALM}/customer/987654")
        assert fault.json()["time"].endswith(offset)
