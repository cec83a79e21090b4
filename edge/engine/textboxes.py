"""Grouping text-detector boxes into plate candidates.

A text detector boxes words and lines, not plates: ``PASSAT`` and ``CC`` come as two
boxes, a two-line motorcycle plate as two stacked boxes. Boxes next to each other on one
line, or stacked with about the same width, are merged into one candidate.
"""

from __future__ import annotations

from collections.abc import Sequence

from edge.engine.detections import Box

#: Words on one line: they share this much of the lower one's height...
SAME_LINE_OVERLAP = 0.5
#: ...and the gap between them is at most this many times that height.
WORD_GAP = 1.0
#: Stacked lines: they share this much of the narrower one's width...
STACK_OVERLAP = 0.5
#: ...and the gap between them is at most this many times the shorter one's height.
LINE_GAP = 0.6
#: Stacked lines of a plate have similar heights: at most this ratio between them.
HEIGHT_RATIO = 2.0


def _span_overlap(a1: float, a2: float, b1: float, b2: float) -> float:
    return max(0.0, min(a2, b2) - max(a1, b1))


def belong_together(a: Box, b: Box) -> bool:
    """Whether two text boxes are parts of one plate (words of a line, or stacked lines)."""
    height_a, height_b = a[3] - a[1], b[3] - b[1]
    width_a, width_b = a[2] - a[0], b[2] - b[0]
    if min(height_a, height_b, width_a, width_b) <= 0:
        return False
    shorter = min(height_a, height_b)
    vertical = _span_overlap(a[1], a[3], b[1], b[3])
    horizontal_gap = max(a[0], b[0]) - min(a[2], b[2])
    if vertical >= SAME_LINE_OVERLAP * shorter and horizontal_gap <= WORD_GAP * shorter:
        return True
    horizontal = _span_overlap(a[0], a[2], b[0], b[2])
    vertical_gap = max(a[1], b[1]) - min(a[3], b[3])
    return (
        horizontal >= STACK_OVERLAP * min(width_a, width_b)
        and vertical_gap <= LINE_GAP * shorter
        and max(height_a, height_b) <= HEIGHT_RATIO * shorter
    )


def merge_text_boxes(boxes: Sequence[tuple[Box, float]]) -> list[tuple[Box, float]]:
    """Merge boxes that belong together until none do; a group keeps its lowest score."""
    groups = list(boxes)
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                (a, score_a), (b, score_b) = groups[i], groups[j]
                if belong_together(a, b):
                    union = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    groups[i] = (union, min(score_a, score_b))
                    del groups[j]
                    merged = True
                    break
            if merged:
                break
    return groups
