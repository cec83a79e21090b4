"""The recognizer's output restricted to plate characters, decoded greedily."""

from __future__ import annotations

import numpy as np
import pytest

from edge.engine.constrained import LineDecode, greedy
from edge.engine.ctc import PlateAlphabet

VOCABULARY = ["blank", "A", "B", "a", "1", "-", "中", " "]


def _steps(*choices: str, confidence: float = 0.9) -> np.ndarray:
    """Probabilities picking each vocabulary entry in turn (``_`` is the blank)."""
    probabilities = np.full((len(choices), len(VOCABULARY)), 0.01, np.float32)
    for step, choice in enumerate(choices):
        probabilities[step, VOCABULARY.index("blank" if choice == "_" else choice)] = confidence
    return probabilities


def _decode(alphabet: PlateAlphabet, probabilities: np.ndarray) -> LineDecode:
    return greedy(alphabet.plate_log_probs(probabilities), alphabet.charset)


def test_repeats_collapse_unless_a_blank_separates_them() -> None:
    alphabet = PlateAlphabet(VOCABULARY, "AB1")
    assert _decode(alphabet, _steps("A", "A", "_", "A", "B", "B")).text == "AAB"


def test_lower_case_counts_as_upper_case_and_separators_are_dropped() -> None:
    alphabet = PlateAlphabet(VOCABULARY, "AB1")
    decoded = _decode(alphabet, _steps("a", "-", "1", " ", "B"))
    assert decoded.text == "A1B"
    assert decoded.confidence == pytest.approx(0.9)


def test_characters_outside_the_charset_are_never_picked() -> None:
    alphabet = PlateAlphabet(VOCABULARY, "AB1")
    probabilities = _steps("中")
    probabilities[0, VOCABULARY.index("B")] = 0.3
    assert _decode(alphabet, probabilities).text == "B"


def test_nothing_but_blanks_decodes_to_empty_with_zero_confidence() -> None:
    decoded = _decode(PlateAlphabet(VOCABULARY, "AB1"), _steps("_", "_"))
    assert (decoded.text, decoded.confidence) == ("", 0.0)


def test_wrong_class_count_and_unusable_charset_are_refused() -> None:
    alphabet = PlateAlphabet(VOCABULARY, "AB1")
    with pytest.raises(ValueError, match=r"shape \(steps, 8\)"):
        alphabet.plate_log_probs(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="no character of charset"):
        PlateAlphabet(VOCABULARY, "XYZ")
