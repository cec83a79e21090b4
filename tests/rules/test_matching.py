"""Watch-list matching: exact, OCR-aware fuzzy and regular expressions."""

from __future__ import annotations

import pytest

from rules.matching import Watchlist, ocr_distance, read_plates_csv


def test_ocr_confusions_cost_less_than_other_edits() -> None:
    assert ocr_distance("AB123CD", "AB123CD") == 0
    assert ocr_distance("AB123CD", "A8123CD") == 0.25
    assert ocr_distance("AB123CD", "AB123CX") == 1
    assert ocr_distance("AB123CD", "AB12CD") == 1


def test_exact_matches_only_the_same_plate() -> None:
    listed = Watchlist(["AB123CD"])
    assert listed.match("AB123CD") == "AB123CD"
    assert listed.match("A8123CD") is None


@pytest.mark.parametrize(("read", "expected"), [
    ("A8123CD", "AB123CD"),   # B read as 8
    ("AB123C0", "AB123CD"),   # D read as 0
    ("AB12CD", "AB123CD"),    # a character lost
    ("AB123CDX", "AB123CD"),  # one too many
    ("XY987ZZ", None),
])  # fmt: skip
def test_fuzzy_finds_ocr_misreads(read: str, expected: str | None) -> None:
    assert Watchlist(["AB123CD", "KX70WRT"], "fuzzy", 1.0).match(read) == expected


def test_fuzzy_distance_bound_holds() -> None:
    strict = Watchlist(["AB123CD"], "fuzzy", 0.5)
    assert strict.match("A8I23CD") == "AB123CD"  # two confusions: 0.5
    assert strict.match("AB123CX") is None  # a real edit: 1


def test_regex_matches_the_whole_plate() -> None:
    trade = Watchlist(["TR[0-9]{3}"], "regex")
    assert trade.match("TR123") == "TR[0-9]{3}"
    assert trade.match("XTR123") is None


def test_csv_first_column_normalised_header_and_comments_skipped() -> None:
    assert read_plates_csv(["plate,note\n", "# x\n", "ab-12 c,stolen\n", "\n", '"KX70WRT"\n']) == [
        "AB12C",
        "KX70WRT",
    ]
