"""Voting one text out of several reads."""

from __future__ import annotations

import pytest

from edge.engine.consensus import consensus


def test_each_position_is_voted_by_confidence() -> None:
    reads = [("HH12SH5901", 0.96), ("MH12SN5901", 0.94), ("MH12SH5901", 0.94)]
    text, confidence = consensus(reads) or ("", 0.0)
    assert text == "MH12SH5901"
    assert confidence == pytest.approx((0.96 + 0.94 + 0.94) / 3)


def test_a_read_with_an_extra_character_drops_out_with_its_length() -> None:
    assert consensus([("NO23456", 0.9), ("ENO23456", 0.95), ("NO23456", 0.8)]) == (
        "NO23456",
        pytest.approx(0.85),
    )


def test_no_reads_give_none() -> None:
    assert consensus([]) is None
    assert consensus([("", 0.9)]) is None
