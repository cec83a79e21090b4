"""The records in ``streams.records`` and the schemas in ``schemas/`` describe the same data."""

from __future__ import annotations

from typing import Any

import pytest

from schemas import SCHEMA_FILES, load_schema
from streams import records
from streams.alert import Alert
from streams.codec import AvroSchema


def _fields(schema: dict[str, Any]) -> dict[str, Any]:
    return {f["name"]: f for f in schema["fields"]}


#: Records kept beside the package that uses them rather than in ``streams.records``.
ELSEWHERE = {"Alert": Alert}


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_record_fields_match_schema(name: str) -> None:
    record = ELSEWHERE.get(name) or getattr(records, name)
    assert set(record._options.fields) == set(_fields(load_schema(name)))


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_every_field_is_documented_and_the_schema_parses(name: str) -> None:
    schema = load_schema(name)
    assert schema["doc"]
    undocumented = [f["name"] for f in schema["fields"] if not f.get("doc")]
    assert undocumented == []
    assert AvroSchema.named(name).name == f"alpr.{name}"


def test_plate_read_starts_with_every_plate_event_field_unchanged() -> None:
    # The router relies on it: a read's body is the event's body followed by the additions.
    event = load_schema("PlateEvent")["fields"]
    read = load_schema("PlateRead")["fields"]
    assert [(f["name"], f["type"]) for f in read[: len(event)]] == [
        (f["name"], f["type"]) for f in event
    ]
    assert [f["name"] for f in read[len(event) :]] == [
        "received_at",
        "plate",
        "search_key",
        "camera",
    ]


def test_unknown_schema_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown schema"):
        load_schema("Nope")
