"""A correction as a partial document: the first text kept, a later correction not undone."""

from __future__ import annotations

from datetime import UTC, datetime

from stores.es_corrections import corrected_fields
from stores.es_docs import CORRECTION_PROPERTIES, MAPPING, index_template
from streams.records import ReadCorrection


def _correction(at: datetime) -> ReadCorrection:
    return ReadCorrection(
        correction_id="c1", event_id="e1", captured_at=datetime(2026, 3, 1, tzinfo=UTC),
        old_text="WX70ABC", new_text="wx70 abd", new_plate="WX70ABD", reason="misread",
        key_id="k1", owner="dana", corrected_at=at,
    )  # fmt: skip


def test_the_first_text_read_is_kept_and_the_new_one_applied() -> None:
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    fields = corrected_fields({"plate_text": "WX70ABC"}, _correction(at))
    assert fields == {
        "plate": "WX70ABD", "search_key": "WX70A80", "plate_text": "wx70 abd",
        "read_text": "WX70ABC", "corrected_by": "dana (k1)", "corrected_at": at.isoformat(),
    }  # fmt: skip
    again = corrected_fields({"plate_text": "wx70 abd", "read_text": "WX70ABC"}, _correction(at))
    assert again is not None and again["read_text"] == "WX70ABC"


def test_an_older_correction_does_not_undo_a_newer_one() -> None:
    newer = datetime(2026, 3, 3, tzinfo=UTC).isoformat()
    stored = {"plate_text": "X", "read_text": "WX70ABC", "corrected_at": newer}
    assert corrected_fields(stored, _correction(datetime(2026, 3, 2, tzinfo=UTC))) is None


def test_the_template_maps_the_correction_fields() -> None:
    mapped = index_template("p")["template"]["mappings"]["properties"]
    assert set(mapped) == set(MAPPING["properties"]) | set(CORRECTION_PROPERTIES)
