"""Plate normalisation and the OCR-confusion search key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.plates import OCR_CONFUSIONS, PlateTextError, normalise_plate, search_key


@pytest.mark.parametrize(
    ("text", "plate"),
    [
        ("AB12 CDE", "AB12CDE"),
        ("ab-12-cde", "AB12CDE"),
        (" k.a 4711 ", "KA4711"),
        ("\uff21\uff22\uff11\uff12", "AB12"),  # full-width forms fold to ASCII
        ("B·123·XY", "B123XY"),
    ],
)
def test_normalise_drops_separators_and_case(text: str, plate: str) -> None:
    assert normalise_plate(text) == plate


@pytest.mark.parametrize("text", ["", "   ", "- . -"])
def test_empty_plate_is_told_apart(text: str) -> None:
    with pytest.raises(PlateTextError) as caught:
        normalise_plate(text)
    assert caught.value.empty


@pytest.mark.parametrize(
    ("text", "match"),
    [("AB#12", "characters outside"), ("A", "1 characters"), ("A" * 13, "13 characters")],
)
def test_bad_plates_say_why(text: str, match: str) -> None:
    with pytest.raises(PlateTextError, match=match) as caught:
        normalise_plate(text)
    assert not caught.value.empty


def test_length_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="min_length"):
        normalise_plate("AB12", min_length=5, max_length=4)


def test_search_key_folds_ocr_confusions() -> None:
    assert search_key("BO5SZI") == "805521"
    assert search_key("8OS") == search_key("B05")
    assert search_key("AX") == "AX"


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=2, max_size=12))
def test_search_key_is_idempotent_and_confusion_free(plate: str) -> None:
    key = search_key(plate)
    assert search_key(key) == key
    assert not set(key) & set(OCR_CONFUSIONS)
    assert len(key) == len(plate)
