"""An operator's correction: its text normalised as the router's, its reason, its event."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import fastavro
import pytest

from config.router import RouterSettings
from streams.codec import AvroSchema, to_datum
from streams.corrections import CorrectionError, corrected_plate, make_correction
from streams.records import ReadCorrection

CAPTURED = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _correction(text: object = "wx-70 abd", reason: object = "misread D as C") -> ReadCorrection:
    return make_correction(
        event_id="e1", captured_at=CAPTURED, old_text="WX70ABC", text=text, reason=reason,
        key_id="k1", owner="dana", router=RouterSettings(), plate_crop_key="crops/e1.jpg",
        now=NOW,
    )  # fmt: skip


def test_the_new_text_is_normalised_as_the_router_normalises_plates() -> None:
    correction = _correction()
    assert correction.new_plate == "WX70ABD"
    assert correction.new_text == "wx-70 abd"
    assert correction.old_text == "WX70ABC"
    assert (correction.key_id, correction.owner, correction.corrected_at) == ("k1", "dana", NOW)


def test_the_router_settings_bound_the_length() -> None:
    assert corrected_plate("AB12", RouterSettings(plate_min_length=4)) == "AB12"
    with pytest.raises(CorrectionError, match=r"expected 5\.\.12") as caught:
        corrected_plate("AB12", RouterSettings(plate_min_length=5))
    assert caught.value.field == "text"


@pytest.mark.parametrize("text", ["", "   ", "AB#12", None, 42, "A" * 41])
def test_text_the_router_would_refuse_is_refused(text: object) -> None:
    with pytest.raises(CorrectionError) as caught:
        _correction(text=text)
    assert caught.value.field == "text"


def test_a_correction_to_the_same_plate_is_refused() -> None:
    with pytest.raises(CorrectionError, match="already reads"):
        _correction(text="wx 70 abc")


@pytest.mark.parametrize("reason", ["", "  x ", None, "r" * 501])
def test_a_reason_is_required(reason: object) -> None:
    with pytest.raises(CorrectionError) as caught:
        _correction(reason=reason)
    assert caught.value.field == "reason"


def test_each_correction_has_its_own_id() -> None:
    assert _correction().correction_id != _correction().correction_id


def test_the_event_round_trips_through_its_avro_schema() -> None:
    correction = _correction()
    schema = AvroSchema.named("ReadCorrection")
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema.parsed, to_datum(correction))
    out.seek(0)
    back = fastavro.schemaless_reader(out, schema.parsed)
    assert isinstance(back, dict)
    assert ReadCorrection(**back) == correction
