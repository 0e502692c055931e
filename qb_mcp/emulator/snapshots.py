"""The backend's state as plain JSON data, and back (for `--state PATH`).

Decimals are written as `{"$decimal": "100.00"}`: a bare string could not be told apart from a
text field on the way back, and a float would lose cents.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from qb_mcp.emulator import values as v
from qb_mcp.emulator.realms import Realm

_TAG = "$decimal"


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {_TAG: str(value)}
    if isinstance(value, Mapping):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, Mapping):
        if set(value) == {_TAG}:
            try:
                return Decimal(str(value[_TAG]))
            except InvalidOperation:
                raise ValueError(f"bad decimal {value[_TAG]!r}") from None
        return {str(key): _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def dump(version: int, realms: Mapping[str, Realm]) -> dict[str, Any]:
    """Every realm as JSON-serialisable data."""
    return {
        "version": version,
        "realms": {
            realm_id: {
                "seed": realm.seed,
                "company_name": realm.company_name,
                "objects": _encode(realm.objects),
                "deleted": _encode(realm.deleted),
                # Copied like the rest: a snapshot must not change when the backend does.
                "stamps": _encode(realm.stamps),
                "counters": _encode(realm.counters),
            }
            for realm_id, realm in realms.items()
        },
    }


def load(version: int, data: Any) -> dict[str, Realm]:
    """Realms from `dump()` output; a malformed document raises QBOFault and builds nothing."""
    try:
        if not isinstance(data, Mapping) or data.get("version") != version:
            raise ValueError(f"expected a version {version} snapshot")
        realms: dict[str, Realm] = {}
        for realm_id, raw in dict(data["realms"]).items():
            realm = Realm(
                realm_id=str(realm_id),
                seed=str(raw["seed"]),
                company_name=None if raw["company_name"] is None else str(raw["company_name"]),
                objects={
                    str(e): {str(i): dict(o) for i, o in objs.items()}
                    for e, objs in _decode(raw["objects"]).items()
                },
                deleted={
                    str(e): {str(i): dict(o) for i, o in objs.items()}
                    for e, objs in _decode(raw["deleted"]).items()
                },
                stamps={
                    str(e): {str(i): float(s) for i, s in stamps.items()}
                    for e, stamps in dict(raw["stamps"]).items()
                },
                counters={str(k): int(n) for k, n in dict(raw["counters"]).items()},
            )
            realms[realm.realm_id] = realm
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise v.invalid_property(f"the state snapshot is malformed: {exc}"[:300]) from None
    return realms
