"""The OCR-aware edit distance: look-alike swaps cost less, and the edits are explained."""

from __future__ import annotations

import pytest

from web.lookup.distance import (
    LOOKALIKE_COST,
    align,
    key_distance,
    key_neighbours,
    substitution_cost,
)


@pytest.mark.parametrize(("a", "b"), [("O", "0"), ("0", "D"), ("I", "1"), ("B", "8"),
                                      ("S", "5"), ("Z", "2"), ("G", "6"), ("O", "Q")])  # fmt: skip
def test_lookalikes_cost_less_than_other_substitutions(a: str, b: str) -> None:
    assert substitution_cost(a, b) == LOOKALIKE_COST == substitution_cost(b, a)
    assert substitution_cost(a, "X") == 1.0
    assert substitution_cost(a, a) == 0.0


def test_alignment_of_lookalikes_and_a_real_edit() -> None:
    same = align("AB12CDE", "AB12CDE")
    assert (same.cost, same.distance, same.edits) == (0.0, 0, ())

    swapped = align("AB12CDE", "A812CDE")
    assert swapped.cost == LOOKALIKE_COST and swapped.distance == 1
    assert swapped.edits[0].describe() == "B read as 8 at 2"

    mixed = align("SO12XY", "5012KY")
    assert mixed.cost == 2 * LOOKALIKE_COST + 1.0 and mixed.distance == 3
    assert [e.kind for e in mixed.edits] == ["lookalike", "lookalike", "substitute"]
    assert mixed.edits[2].describe() == "K for X at 5"


def test_insertions_and_deletions_are_named_with_their_position() -> None:
    extra = align("AB12C", "AB712C")
    assert extra.cost == 1.0 and extra.edits[0].describe() == "extra 7 at 3"
    missing = align("AB12C", "AB2C")
    assert missing.cost == 1.0 and missing.edits[0].describe() == "missing 1 at 3"


def test_a_lookalike_is_cheaper_than_any_real_edit() -> None:
    assert align("BOS123", "8O5123").cost < align("BOS123", "BOX123").cost


def test_key_distance_is_plain_levenshtein() -> None:
    assert key_distance("kitten", "sitting") == 3
    assert key_distance("", "abc") == 3
    assert key_distance("AB", "BA") == 2  # no transpositions, as the fuzzy queries are set


def test_key_neighbours_are_exactly_the_keys_one_edit_away() -> None:
    key = "A8C"
    neighbours = key_neighbours(key)
    assert key in neighbours and neighbours == sorted(set(neighbours))
    assert all(key_distance(key, other) <= 1 for other in neighbours)
    assert {"A8", "AC", "8C", "A8CX", "XA8C", "A9C"} <= set(neighbours)
    assert not any(c in other for other in neighbours for c in "OQDILZSGB")


def test_key_neighbours_never_grow_past_the_longest_plate() -> None:
    assert max(len(k) for k in key_neighbours("A" * 12)) == 12
