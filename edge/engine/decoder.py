"""From the recognizer's per-line probabilities to plate text, steered by the plate layouts.

Each candidate reading of a plate (one line, or two lines split at a row) is decoded twice:
freely (greedy CTC) and against every template of the enabled layouts with as many lines
(:mod:`edge.engine.constrained`). A template costs the free reading some log-probability
(its *bend*: nothing when the free text fits it); precise templates are preferred to vague
ones by ``specificity`` per nat of their size. The best template wins if its bend stays
within ``max_bend``; otherwise the free text is kept and flagged as fitting no layout.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from edge.config import Formats
from edge.engine.constrained import (
    FloatArray,
    Lattice,
    LineDecode,
    fold_blanks,
    greedy,
    score_templates,
)
from edge.formats import PlateFormats
from edge.layouts import Template

#: Templates whose line is this many characters longer or shorter than the free reading's
#: are not tried: reaching them would bend the reading past any sensible ``max_bend``.
LENGTH_SLACK = 2
#: Log-probability charged per character a template adds to or drops from the free reading:
#: a character held over two steps can cheaply be read as two, a count the format must not
#: invent without strong evidence.
LENGTH_COST = 1.5


@dataclass(frozen=True)
class TextRead:
    """Recognised plate text (upper case, no separators), its confidence, its line count,
    and the layout it fits (``format`` ``region:index``; ``valid`` false when none)."""

    text: str
    confidence: float
    lines: int
    valid: bool = False
    format: str | None = None
    #: Whether the layout fixes more than "any letter or digit" at some position.
    precise: bool = False


def decode_plate(
    lines: Sequence[FloatArray], charset: str, formats: PlateFormats
) -> TextRead | None:
    """The plate text of one reading; ``lines`` are per-line (steps, 1 + len(charset))
    log-probabilities, top line first. ``None`` when a line reads nothing."""
    folded = [fold_blanks(line)[0] for line in lines]
    free = [greedy(line, charset) for line in folded]
    if any(not line.text for line in free):
        return None
    best = _best_template(folded, free, charset, formats)
    if best is not None:
        return best
    text = "".join(line.text for line in free)
    check = formats.check(text)
    confidences = [c for line in free for c in line.confidences]
    return TextRead(text, _mean(confidences), len(lines), check.valid, check.format)


def _best_template(
    folded: list[FloatArray], free: list[LineDecode], charset: str, formats: PlateFormats
) -> TextRead | None:
    """The reading the winning template gives, if one is close enough to the free one."""
    templates = [
        t
        for t in formats.templates(len(folded))
        if all(
            abs(len(part) - len(line.text)) <= LENGTH_SLACK
            for part, line in zip(t.lines, free, strict=True)
        )
    ]
    if not templates:
        return None
    lattices: list[tuple[Lattice, dict[tuple[str, ...], int]]] = []
    for number, line in enumerate(folded):
        wanted = list(dict.fromkeys(t.lines[number] for t in templates))
        lattices.append(
            (score_templates(line, charset, wanted), {w: i for i, w in enumerate(wanted)})
        )
    line_scores = [lattice.scores for lattice, _ in lattices]

    def bends() -> Iterator[tuple[Template, float]]:
        for template in templates:
            bend = 0.0
            for number, part in enumerate(template.lines):
                score = line_scores[number][lattices[number][1][part]]
                if score is None:
                    break
                length_change = abs(len(part) - len(free[number].text))
                bend += score - free[number].log_prob - LENGTH_COST * length_change
            else:
                yield template, bend

    template = choose_template(bends(), formats.config)
    if template is None:
        return None
    parts = [
        lattice.decode(index[part])
        for (lattice, index), part in zip(lattices, template.lines, strict=True)
    ]
    found = [p for p in parts if p is not None]
    confidences = [c for p in found for c in p.confidences]
    text = "".join(p.text for p in found)
    return TextRead(
        text, _mean(confidences), len(folded), True, template.format, not template.generic
    )


def choose_template(bends: Iterable[tuple[Template, float]], config: Formats) -> Template | None:
    """Of the templates and their *bends* (log-probability a template costs the free
    reading), the one whose bend less ``specificity`` per nat of its size is highest, among
    those whose bend stays within ``max_bend``; ``None`` when none does."""
    best: tuple[float, Template] | None = None
    for template, bend in bends:
        ranked = bend - config.specificity * template.log_size
        if bend >= -config.max_bend and (best is None or ranked > best[0]):
            best = (ranked, template)
    return None if best is None else best[1]


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else 0.0
