"""The one place pydantic's JSON schemas are made into the schemas `tools/list` publishes.

Every assistant reads every tool's schemas at the start of every conversation, so each byte is
paid for in its context each time (the budget: 28,000 bytes of compact JSON for the whole list,
kept by tests/server/test_tools_budget.py). Pydantic writes schemas for Python readers; a model
needs less. Validation does not depend on what is published: every call is validated by the
tool's input model on the server (tools/base.py, `execute_tool`), whose errors name the field,
the rule and the fix, before anything is sent.

Inputs keep what says what is accepted: types, `required`, enums, formats, patterns, numeric
bounds, item counts, defaults other than null, and every field's description. Dropped:
- `title` everywhere: pydantic's are the field name respelt ("Customer Id") or the class name;
- the models' docstrings (a model's `description`): written for Python readers; what a model
  needs is in the tool's description and the field descriptions;
- `default: null` and the `{"type": "null"}` option that goes with it: an optional parameter is
  one not in `required`. Null is still accepted where it was: the input model takes it, and the
  entry point treats a top-level null as not given (tools/base.py, `_entry_point`);
- string lengths (`minLength`, `maxLength`): every field has one (4,000 characters by default),
  no real value comes near most, and the input model refuses one too long naming the limit;
- `additionalProperties: false`: the input model refuses an unknown argument, listing the valid
  ones (the SDK hands unknown arguments on for that: `PassThroughArgs`);
- `anyOf` options that differ only in type are merged into a `type` list
  (`{"type": ["number", "string"]}` for an amount).

Outputs publish the result's fields one level deep: each top-level field with its JSON type
(`[T, "null"]` where it can be null: clients check structured results against the schema) and
its enum; a nested object is `{"type": "object"}` and a list of them `{"type": "array"}` (their
fields are named in the result itself).
No `required` (every field is always in the result), no defaults or bounds (a result carries
every value) and no descriptions: what a model must know of a result (a replay flag, paging) is
said once, in the tool's description; the output models' field descriptions document the Python
API (`qb_mcp.Books`).

Pure JSON in, JSON out: no pydantic import, so serving `tools/list` from `schemas.json` stays
light.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Keywords that constrain one JSON type only: options of an `anyOf` whose other keywords are all
# among their own type's can be merged into one schema with a list of types, meaning the same.
_TYPE_KEYWORDS: Mapping[str, frozenset[str]] = {
    "string": frozenset({"pattern", "format"}),
    "number": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}),
    "integer": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}),
    "object": frozenset({"properties", "required", "additionalProperties"}),
    "array": frozenset({"items", "minItems", "maxItems", "uniqueItems"}),
    "boolean": frozenset(),
    "null": frozenset(),
}
# Keywords whose value is a map of names to schemas, a list of schemas, or one schema.
_SCHEMA_MAPS = ("properties", "$defs")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_VALUES = ("items", "not", "additionalProperties")
# Never published (see the module docstring).
_DROPPED = frozenset({"title", "minLength", "maxLength"})
# Also not in outputs: a result carries every value, and its bounds are the server's business.
_OUTPUT_DROPPED = (
    "default",
    "required",
    "description",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
)
# The pattern older pydantic releases (2.12.0 among them; not the newest) write on a Decimal's
# string form: it says no more than "a decimal number", which the field's own description and
# the input model's check (its error names the rule) already say, and it made the same tools'
# list 1 KB bigger on the lowest bounds than on the newest releases.
_DECIMAL_PATTERN = r"^(?!^[-+.]*$)[+-]?0*\d*\.?\d*$"
_NULL = {"type": "null"}
_REF = "#/$defs/"


def compact_schema(schema: Mapping[str, Any], *, output: bool) -> dict[str, Any]:
    """The published form of a tool's input (`output` false) or output schema."""
    compacted = _node(schema, output=output, model=True)
    if output:
        compacted = _one_level(compacted)
    # MCP requires an object at the top; the tool's own description says what it is.
    compacted.pop("description", None)
    return {"type": "object", **{k: v for k, v in compacted.items() if k != "type"}}


def _node(schema: Mapping[str, Any], *, output: bool, model: bool = False) -> dict[str, Any]:
    node: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DROPPED or (key == "pattern" and value == _DECIMAL_PATTERN):
            continue
        if key in _SCHEMA_MAPS:
            is_model = key == "$defs"
            node[key] = {
                name: _node(sub, output=output, model=is_model) for name, sub in value.items()
            }
        elif key in _SCHEMA_LISTS:
            node[key] = [_node(sub, output=output) for sub in value]
        elif key in _SCHEMA_VALUES and isinstance(value, Mapping):
            node[key] = _node(value, output=output)
        else:
            node[key] = value
    if model and "properties" in node:
        node.pop("description", None)  # the model's docstring
    if node.get("additionalProperties") is True or (
        not output and node.get("additionalProperties") is False
    ):
        node.pop("additionalProperties")
    if output:
        for key in _OUTPUT_DROPPED:
            node.pop(key, None)
    elif "default" in node and node["default"] is None:
        node.pop("default")
        if "anyOf" in node:
            node["anyOf"] = [option for option in node["anyOf"] if option != _NULL]
    return _merge_types(node)


def _without_subsumed(options: list[Any]) -> list[Any]:
    """`options` without those a bare `{"type": T}` among them already accepts (a patterned
    string beside any string: pydantic 2.12 writes an amount so), each bare type once."""
    bare = {o["type"] for o in options if isinstance(o, Mapping) and o.keys() == {"type"}}
    kept: list[Any] = []
    for option in options:
        is_bare = isinstance(option, Mapping) and option.keys() == {"type"}
        kind = option.get("type") if isinstance(option, Mapping) else None
        if (not is_bare and isinstance(kind, str) and kind in bare) or option in kept:
            continue
        kept.append(option)
    return kept


def _merge_types(node: dict[str, Any]) -> dict[str, Any]:
    """`anyOf` options that are plain types (with only their own type's keywords) as one schema
    with a list of types; a single option left (a null dropped) replaces the `anyOf`."""
    options = node.get("anyOf")
    if not isinstance(options, list) or not options:
        return node
    options = _without_subsumed(options)
    node = {**node, "anyOf": options}
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    if len(options) == 1:
        return node if rest.keys() & options[0].keys() else {**options[0], **rest}
    if len(options) == 2 and options[1] == _NULL and isinstance(options[0].get("type"), str):
        # An enum or null (an output's optional choice): the enum with null among its values.
        choice = options[0]
        if "enum" in choice and not rest.keys() & choice.keys():
            nullable = [choice["type"], "null"]
            return {**choice, "type": nullable, "enum": [*choice["enum"], None], **rest}
    merged: dict[str, Any] = {}
    types: list[str] = []
    for option in options:
        kind = option.get("type")
        if not isinstance(kind, str) or kind in types or kind not in _TYPE_KEYWORDS:
            return node
        keywords = option.keys() - {"type"}
        if not keywords <= _TYPE_KEYWORDS[kind] or keywords & merged.keys():
            return node
        types.append(kind)
        merged.update({k: option[k] for k in keywords})
    if rest.keys() & (merged.keys() | {"type"}):
        return node
    return {"type": types, **merged, **rest}


def _one_level(schema: dict[str, Any]) -> dict[str, Any]:
    """An output schema with its top-level fields only: each reference to a nested model as
    `{"type": "object"}`, a reference to anything else (an enum) inlined; no `$defs`."""
    defs: Mapping[str, Any] = schema.get("$defs", {})
    properties = {
        name: _list_of_objects(_without_models(field, defs))
        for name, field in schema.get("properties", {}).items()
    }
    shallow = {k: v for k, v in schema.items() if k not in ("$defs", "properties")}
    if properties or "properties" in schema:
        shallow["properties"] = properties
    return shallow


def _list_of_objects(field: dict[str, Any]) -> dict[str, Any]:
    """A list of nested objects as `{"type": "array"}`: the result shows what is in it."""
    if field.get("items") == {"type": "object"}:
        return {k: v for k, v in field.items() if k != "items"}
    return field


def _without_models(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """`node` with every reference in it (items, options, map values...) replaced, so none is
    left dangling once `$defs` is gone."""
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF):
        target = defs.get(ref.removeprefix(_REF), {})
        rest = {k: v for k, v in node.items() if k != "$ref"}
        if "properties" in target or target.get("type") == "object":
            return {"type": "object", **rest}
        return {**_without_models(target, defs), **rest}
    found = dict(node)
    for key, value in node.items():
        if key in _SCHEMA_MAPS and isinstance(value, Mapping):
            found[key] = {name: _without_models(sub, defs) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            found[key] = [_without_models(sub, defs) for sub in value]
        elif key in _SCHEMA_VALUES and isinstance(value, Mapping):
            found[key] = _without_models(value, defs)
    return _merge_types(found)
