"""Agreeing on one text from several reads of the same plate (crops, later frames).

Reads of the modal length (weighted by confidence) vote per character position, each vote
weighted by its read's confidence. One misread character in one read is outvoted by the
others; a read with a spurious extra character drops out with its length.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence


def consensus(reads: Sequence[tuple[str, float]]) -> tuple[str, float] | None:
    """The voted text and the mean confidence of the reads of its length; ``None`` if no read."""
    reads = [(text, confidence) for text, confidence in reads if text]
    if not reads:
        return None
    weight_by_length: dict[int, float] = defaultdict(float)
    for text, confidence in reads:
        weight_by_length[len(text)] += confidence
    length = max(weight_by_length, key=lambda n: (weight_by_length[n], n))
    same_length = [(text, confidence) for text, confidence in reads if len(text) == length]
    chars = []
    for position in range(length):
        votes: dict[str, float] = defaultdict(float)
        for text, confidence in same_length:
            votes[text[position]] += confidence
        chars.append(max(votes, key=lambda c: votes[c]))
    mean = sum(confidence for _, confidence in same_length) / len(same_length)
    return "".join(chars), mean
