"""A PlateRead as a row of plate_reads and as an Elasticsearch document."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from stores.es_docs import (
    ADDED_PROPERTIES,
    MAPPING,
    alias_name,
    daily_index,
    day_of_index,
    index_for,
    index_template,
    read_document,
)
from stores.rows import COLUMNS, read_row
from tests.support.stores import plate_read_datum


def test_a_row_has_every_column_in_order() -> None:
    read = plate_read_datum(captured_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    row = dict(zip(COLUMNS, read_row(read), strict=True))
    assert row["event_id"] == read["event_id"]
    assert row["captured_at"] == read["captured_at"]
    assert row["plate"] == "AB12CDE"
    assert row["plate_box"] == [410, 300, 120, 32]
    assert json.loads(row["model_versions"]) == read["model_versions"]
    assert (row["lat"], row["lon"]) == (51.5, -0.12)
    assert row["camera_known"] is True and row["camera_name"] == "North gate"


def test_a_read_without_location_takes_the_camera_location() -> None:
    read = plate_read_datum(location=None, vehicle_box=None)
    read["camera"]["location"] = {"lat": 1.0, "lon": 2.0}
    row = dict(zip(COLUMNS, read_row(read), strict=True))
    assert (row["lat"], row["lon"]) == (1.0, 2.0)
    assert row["vehicle_box"] is None
    assert read_document(read)["location"] == {"lat": 1.0, "lon": 2.0}


def test_a_read_missing_a_field_names_it() -> None:
    read = plate_read_datum()
    del read["plate"]
    with pytest.raises(KeyError, match="plate"):
        read_row(read)
    with pytest.raises(KeyError, match="plate"):
        read_document(read)


def test_a_document_has_only_mapped_fields() -> None:
    doc = read_document(plate_read_datum())
    assert set(doc) == set(MAPPING["properties"])
    assert doc["confidence"] == pytest.approx(0.93)
    json.dumps(doc)  # the client serialises it as is


def test_the_vehicle_colour_is_in_the_row_and_the_document_and_none_when_unknown() -> None:
    read = plate_read_datum(vehicle_colour="red")
    assert dict(zip(COLUMNS, read_row(read), strict=True))["vehicle_colour"] == "red"
    assert read_document(read)["vehicle_colour"] == "red"
    older = plate_read_datum()
    del older["vehicle_colour"]  # a read decoded as an older edge wrote it
    assert dict(zip(COLUMNS, read_row(older), strict=True))["vehicle_colour"] is None
    assert read_document(older)["vehicle_colour"] is None


def test_fields_added_to_the_mapping_are_in_it() -> None:
    assert ADDED_PROPERTIES.items() <= MAPPING["properties"].items()


def test_daily_indices_follow_the_utc_day_behind_one_alias() -> None:
    moment = datetime(2026, 11, 25, 23, 59, tzinfo=UTC)
    assert index_for("alpr", moment) == "alpr-reads-2026.11.25"
    assert day_of_index("alpr", daily_index("alpr", moment.date())) == moment.date()
    assert day_of_index("alpr", "alpr-reads-retained") is None
    assert day_of_index("alpr", "other-reads-2026.11.25") is None
    template = index_template("alpr", shards=2, replicas=1)
    assert template["index_patterns"] == ["alpr-reads-*"]
    assert template["template"]["aliases"] == {alias_name("alpr"): {}}
    assert template["template"]["settings"]["number_of_shards"] == 2


def test_the_mapping_needs_no_missing_module() -> None:
    """The integration-test distribution has no analysis-common: only built-in analyzers."""
    text = json.dumps(MAPPING)
    analyzers = {p.get("analyzer") for p in MAPPING["properties"].values()} - {None}
    assert analyzers <= {"standard"}
    assert "script" not in text and "normalizer" not in text
    assert MAPPING["properties"]["location"]["type"] == "geo_point"
