"""Parsing both notification formats into normalised events, and refusing what is not one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qb_mcp.webhooks.events import MalformedNotification, parse_body, parse_time


def legacy(*entities: dict[str, Any], realm: str = "1185883450") -> bytes:
    return json.dumps(
        {
            "eventNotifications": [
                {"realmId": realm, "dataChangeEvent": {"entities": list(entities)}}
            ]
        }
    ).encode()


def entity(**overrides: Any) -> dict[str, Any]:
    base = {
        "name": "Customer",
        "id": "1",
        "operation": "Create",
        "lastUpdated": "2015-10-05T14:42:19-0700",
    }
    return {**base, **overrides}


def cloudevent(**overrides: Any) -> dict[str, Any]:
    base = {
        "specversion": "1.0",
        "id": "88cd52b4-7e6f-4d3a-9c47-1b2a7c0e5f11",
        "source": "intuit.dGVzdA==",
        "type": "qbo.customer.created.v1",
        "datacontenttype": "application/json",
        "time": "2025-09-10T21:31:25.179851517Z",
        "intuitentityid": "58",
        "intuitaccountid": "9130355377388",
        "data": {},
    }
    return {**base, **overrides}


def test_the_signed_sample_is_one_customer_create(samples_dir: Path) -> None:
    [event] = parse_body((samples_dir / "webhook-legacy-signed.raw-body.txt").read_bytes())
    assert (event.realm_id, event.entity, event.entity_id, event.operation) == (
        "1185883450",
        "Customer",
        "1",
        "Create",
    )
    assert event.occurred_at == datetime(2015, 10, 5, 21, 42, 19, tzinfo=UTC)
    assert event.source == "legacy"


def test_the_multi_entity_sample_gives_two_events(samples_dir: Path) -> None:
    events = parse_body((samples_dir / "webhook-legacy-multi-entity.json").read_bytes())
    assert [(e.entity, e.entity_id) for e in events] == [("Customer", "1"), ("Vendor", "1")]


def test_a_cloudevents_array_is_normalised() -> None:
    [event] = parse_body(json.dumps([cloudevent()]).encode())
    assert (event.realm_id, event.entity, event.entity_id, event.operation) == (
        "9130355377388",
        "Customer",
        "58",
        "Create",
    )
    assert event.occurred_at == datetime(2025, 9, 10, 21, 31, 25, 179851, tzinfo=UTC)
    assert event.source == "cloudevents"
    assert event.cloudevent_id == "88cd52b4-7e6f-4d3a-9c47-1b2a7c0e5f11"


def test_cloudevents_entity_names_get_qbo_capitals() -> None:
    [event] = parse_body(json.dumps([cloudevent(type="qbo.creditmemo.voided.v1")]).encode())
    assert (event.entity, event.operation) == ("CreditMemo", "Void")


def test_merge_keeps_the_id_merged_away_in_both_formats() -> None:
    [old] = parse_body(legacy(entity(operation="Merge", deletedId="7")))
    [new] = parse_body(
        json.dumps([cloudevent(type="qbo.customer.merged.v1", data={"deletedId": "7"})]).encode()
    )
    assert old.deleted_id == new.deleted_id == "7"
    assert old.operation == new.operation == "Merge"


@pytest.mark.parametrize(
    "text",
    [
        "2015-10-05T14:42:19-0700",
        "2015-10-05T14:42:19-07:00",
        "2015-10-05T14:42:19.000-0700",
        "2015-10-05T21:42:19Z",
        "2015-10-05T21:42:19.000000000Z",
        "2015-10-05T23:42:19+02:00",
    ],
)
def test_every_time_spelling_of_one_second_agrees(text: str) -> None:
    assert parse_time(text, "t") == datetime(2015, 10, 5, 21, 42, 19, tzinfo=UTC)


def test_nanoseconds_are_cut_to_microseconds() -> None:
    assert parse_time("2025-09-10T21:31:25.999999999Z", "t").microsecond == 999999


def test_legacy_spellings_of_one_change_share_a_dedupe_key() -> None:
    keys = {
        parse_body(legacy(entity(lastUpdated=text)))[0].dedupe_key
        for text in (
            "2015-10-05T14:42:19-0700",
            "2015-10-05T14:42:19-07:00",
            "2015-10-05T14:42:19.417-0700",
        )
    }
    assert len(keys) == 1


def test_another_operation_is_another_event() -> None:
    create = parse_body(legacy(entity()))[0]
    update = parse_body(legacy(entity(operation="Update")))[0]
    assert create.dedupe_key != update.dedupe_key
    assert create.event_id != update.event_id


def test_event_ids_are_stable_and_uri_safe() -> None:
    first = parse_body(legacy(entity()))[0]
    again = parse_body(legacy(entity(lastUpdated="2015-10-05T21:42:19Z")))[0]
    assert first.event_id == again.event_id
    assert first.event_id.startswith("evt_") and len(first.event_id) == 28


def test_empty_deliveries_are_valid_and_hold_nothing() -> None:
    assert parse_body(b"[]") == []
    assert parse_body(b'{"eventNotifications": []}') == []
    assert parse_body(legacy()) == []


MALFORMED = {
    "not json": b"{not json",
    "not utf-8": b"\xff\xfe[]",
    "a bare string": b'"hello"',
    "an unrelated object": b'{"hello": "world"}',
    "notifications not a list": b'{"eventNotifications": {}}',
    "notification not an object": b'{"eventNotifications": [1]}',
    "realm not numeric": legacy(entity(), realm="abc"),
    "no dataChangeEvent": b'{"eventNotifications": [{"realmId": "1"}]}',
    "entities not a list": b'{"eventNotifications": [{"realmId": "1", "dataChangeEvent": {"entities": 5}}]}',
    "unknown operation": legacy(entity(operation="Explode")),
    "no name": legacy({k: v for k, v in entity().items() if k != "name"}),
    "bad id": legacy(entity(id="")),
    "id not a string": legacy(entity(id=1)),
    "time without offset": legacy(entity(lastUpdated="2015-10-05T14:42:19")),
    "impossible date": legacy(entity(lastUpdated="2015-02-30T14:42:19-0700")),
    "impossible offset": legacy(entity(lastUpdated="2015-10-05T14:42:19-9900")),
    "bad merge target": legacy(entity(operation="Merge", deletedId={"x": 1})),
    "cloudevent not an object": b"[1]",
    "wrong specversion": json.dumps([cloudevent(specversion="0.3")]).encode(),
    "no cloudevent id": json.dumps([cloudevent(id="")]).encode(),
    "type not qbo": json.dumps([cloudevent(type="com.example.created.v1")]).encode(),
    "unknown verb": json.dumps([cloudevent(type="qbo.customer.exploded.v1")]).encode(),
    "no realm": json.dumps([cloudevent(intuitaccountid=None)]).encode(),
    "no entity id": json.dumps([cloudevent(intuitentityid=None)]).encode(),
    "bad time": json.dumps([cloudevent(time="yesterday")]).encode(),
    "data not an object": json.dumps([cloudevent(data=[1])]).encode(),
    "one good one bad": json.dumps([cloudevent(), cloudevent(time=None)]).encode(),
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_bodies_are_refused_with_a_reason(body: bytes) -> None:
    with pytest.raises(MalformedNotification) as caught:
        parse_body(body)
    assert caught.value.reason


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "eventNotifications",
                    "realmId",
                    "dataChangeEvent",
                    "entities",
                    "name",
                    "id",
                    "operation",
                    "lastUpdated",
                    "deletedId",
                    "specversion",
                    "type",
                    "time",
                    "intuitaccountid",
                    "intuitentityid",
                    "data",
                    "x",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_any_json_gives_events_or_a_reason_never_a_crash(value: object) -> None:
    try:
        events = parse_body(json.dumps(value).encode())
    except MalformedNotification as exc:
        assert exc.reason
    else:
        assert all(e.occurred_at.tzinfo is not None for e in events)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_give_events_or_a_reason_never_a_crash(body: bytes) -> None:
    try:
        events = parse_body(body)
    except MalformedNotification as exc:
        assert exc.reason
    else:
        assert isinstance(events, list)
