"""`compact_schema`: what tools/list publishes of pydantic's schemas still says what is accepted
and returned, in fewer bytes."""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any, Literal

from jsonschema import Draft202012Validator
from pydantic import BaseModel, Field

from qb_mcp.tools.compact import compact_schema


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Inner(BaseModel):
    """A docstring for Python readers."""

    code: str = Field(description="nested")


class Sample(BaseModel):
    """A docstring for Python readers."""

    title: str = Field(max_length=80, description="a field named title")
    note: str | None = Field(default=None, max_length=100, description="optional text")
    amount: Decimal | str = Field(description="money")
    kind: Literal["a", "b"] | None = None
    colour: Colour | None = None
    inner: Inner | None = None
    inners: list[Inner] = Field(default_factory=list, min_length=1, max_length=5)
    limit: int = Field(default=10, ge=1, le=50, description="a bound")
    by_code: dict[str, Inner] = Field(default_factory=dict)


def inputs() -> dict[str, Any]:
    return compact_schema(Sample.model_json_schema(), output=False)


def outputs() -> dict[str, Any]:
    return compact_schema(Sample.model_json_schema(mode="serialization"), output=True)


def test_titles_and_docstrings_go_but_a_field_named_title_stays() -> None:
    schema = inputs()
    assert "title" in schema["properties"]
    assert "title" not in schema["properties"]["title"]
    assert "description" not in schema
    assert "description" not in schema["$defs"]["Inner"]
    assert schema["$defs"]["Inner"]["properties"]["code"]["description"] == "nested"


def test_an_optional_input_is_one_not_required_and_takes_its_type_only() -> None:
    schema = inputs()
    assert schema["required"] == ["title", "amount"]
    assert schema["properties"]["note"] == {"type": "string", "description": "optional text"}
    assert schema["properties"]["kind"] == {"type": "string", "enum": ["a", "b"]}


def test_inputs_keep_what_says_what_is_accepted() -> None:
    schema = inputs()
    assert schema["properties"]["amount"] == {"type": ["number", "string"], "description": "money"}
    assert schema["properties"]["limit"] == {
        "default": 10,
        "description": "a bound",
        "maximum": 50,
        "minimum": 1,
        "type": "integer",
    }
    assert schema["properties"]["inners"]["minItems"] == 1
    assert schema["properties"]["inners"]["maxItems"] == 5
    # Lengths are the input model's to enforce (it names the limit when refusing).
    assert "maxLength" not in schema["properties"]["title"]


def test_outputs_are_one_level_deep_and_take_null_where_it_is_returned() -> None:
    schema = outputs()
    assert "$defs" not in schema and "required" not in schema
    props = schema["properties"]
    assert props["inner"] == {"type": ["object", "null"]}
    assert props["inners"] == {"type": "array"}  # a list of objects: its items go unsaid
    assert props["colour"] == {"type": ["string", "null"], "enum": ["red", "blue", None]}
    assert props["note"] == {"type": ["string", "null"]}
    assert props["by_code"] == {"type": "object", "additionalProperties": {"type": "object"}}
    assert "$ref" not in str(schema)
    assert not any("description" in prop for prop in props.values())
    # What a client checks a result against.
    result = Sample(title="t", amount=Decimal("1.50"), inners=[Inner(code="x")])
    Draft202012Validator(schema).validate(result.model_dump(mode="json"))
    assert list(Draft202012Validator(schema).iter_errors({"colour": "green"}))


def test_an_amount_reads_the_same_whichever_pydantic_wrote_it() -> None:
    # pydantic 2.12.0 (the lowest bound) writes a Decimal with a patterned string beside a plain
    # one; the newest writes number | string. Both publish the same schema, so tools/list is the
    # same size on either (its budget test runs on both in CI).
    older = {
        "anyOf": [
            {"type": "number"},
            {"type": "string", "pattern": r"^(?!^[-+.]*$)[+-]?0*\d*\.?\d*$"},
            {"type": "string"},
        ],
        "description": "money",
    }
    newer = {"anyOf": [{"type": "number"}, {"type": "string"}], "description": "money"}
    for field in (older, newer):
        schema = {"type": "object", "properties": {"amount": field}}
        compacted = compact_schema(schema, output=False)
        assert compacted["properties"]["amount"] == {
            "type": ["number", "string"],
            "description": "money",
        }
