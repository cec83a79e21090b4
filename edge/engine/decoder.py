"""From the recognizer's per-line probabilities to plate text, steered by the plate layouts.

Each candidate reading of a plate (one line, or two lines split at a row) is decoded twice:
freely (greedy CTC) and against every template of the enabled layouts with as many lines
(:mod:`edge.engine.constrained`). A template costs the free reading some log-probability
(its *bend*: nothing when the free text fits it); precise templates are preferred to vague
ones by ``specificity`` per nat of their size. The best template wins if its bend stays
within ``max_bend``; otherwise the free text is kept and flagged as fitting no layout.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from edge.config import Formats
from edge.engine.constrained import (
    IN_PLAY,
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
#: Log-probability charged for reading a plate's first characters as its country band (a
#: band template, see ``edge.layouts.band_templates``): enough that a plate whose own
#: layout takes those characters (``DAXY123``, German, not band ``D`` + ``AXY123``) keeps
#: them, little enough that a precise layout after the band beats a vague one that swallows
#: it (``RIF05TAC``: band ``R`` + Romanian ``IF05TAC``, not Austria's ``RI F05TAC``).
BAND_COST = 1.5
#: Log-probability charged per character a template adds to or drops from the free reading:
#: a character held over two steps can cheaply be read as two, a count the format must not
#: invent without strong evidence.
LENGTH_COST = 1.5
#: A line of a two-line reading with at least this many characters, letters only, is a word
#: printed on the plate or its frame (a state name, ``CALIFORNIA`` over ``4ESD877``), not
#: part of the registration: no shipped two-line layout has a line of more than three
#: letters and no digit. Such a reading is the other line's alone.
WORD_CHARS = 5
#: A split whose other line reads nothing (cut above or below the characters) is a one-line
#: reading of the line that holds them when that fits a precise layout with at least this
#: many characters (``1MLD993`` under an empty line, where the whole crop read ``IMLD993``);
#: shorter or vaguer, it is a fragment (``DEVP`` of ``A120EVP``, a sticker's ``IEEL``).
ALONE_CHARS = 5


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
    lines: Sequence[FloatArray],
    charset: str,
    formats: PlateFormats,
    aspect: float | None = None,
) -> TextRead | None:
    """The plate text of one reading; ``lines`` are per-line (steps, 1 + len(charset))
    log-probabilities, top line first; ``aspect`` the width / height of the plate's crop,
    when known (see :meth:`PlateFormats.template_costs`). A two-line reading one of whose lines
    is a word or reads nothing is the other line's alone (:func:`_registration_line`);
    ``None`` when a line reads nothing and the other is no precise plate."""
    folded = [fold_blanks(line)[0] for line in lines]
    free = [greedy(line, charset) for line in folded]
    kept = _registration_line(free) if len(lines) == 2 else None
    if kept is not None:
        alone = _decode_folded([folded[kept]], [free[kept]], charset, formats, aspect)
        if any(not line.text for line in free) and (
            alone is None or not alone.precise or len(alone.text) < ALONE_CHARS
        ):
            return None
        return alone
    return _decode_folded(folded, free, charset, formats, aspect)


def _decode_folded(
    folded: list[FloatArray],
    free: list[LineDecode],
    charset: str,
    formats: PlateFormats,
    aspect: float | None,
) -> TextRead | None:
    """:func:`decode_plate` of lines already folded and read freely."""
    if any(not line.text for line in free):
        return None
    best = _best_template(folded, free, charset, formats, aspect)
    if best is not None:
        return best
    text = "".join(line.text for line in free)
    check = formats.check(text)
    confidences = [c for line in free for c in line.confidences]
    return TextRead(text, _mean(confidences), len(free), check.valid, check.format)


def _best_template(
    folded: list[FloatArray],
    free: list[LineDecode],
    charset: str,
    formats: PlateFormats,
    aspect: float | None,
) -> TextRead | None:
    """The reading the winning template gives, if one is close enough to the free one
    (:func:`choose_template`'s rule, over arrays of the templates: a reading weighs a
    hundred or more of them)."""
    near = formats.near(tuple(len(line.text) for line in free), LENGTH_SLACK, free[0].text[:1])
    if not near.templates:
        return None
    lattices = [
        (score_templates(line, charset, parts), index)
        for line, parts, index in zip(folded, near.parts, near.part_index, strict=True)
    ]
    # Each template's bend (the log-probability it costs the free reading); -inf for a
    # template one of whose lines cannot fit its line's steps.
    bend = np.where(near.banded, -BAND_COST, 0.0)
    for (lattice, _), line, part_of, length in zip(
        lattices, free, near.part_of, near.part_length, strict=True
    ):
        score = lattice.scores[part_of]
        bend = bend + (score - line.log_prob - LENGTH_COST * np.abs(length - len(line.text)))
    costs = formats.template_costs(near, aspect)
    template = choose_template(near.templates, bend, near.log_size, formats.config, costs)
    if template is None:
        return None
    if template.variants:
        return _best_variant(folded, template, charset)
    return _reading(lattices, template.lines, template)


def _best_variant(folded: list[FloatArray], template: Template, charset: str) -> TextRead | None:
    """The reading of the winning template's likeliest exact variant (its words spelled
    out: ``MH`` where the template allows ``[DM][HLP]``)."""
    variants = _in_play(folded, charset, template.variants)
    lattices = _lattices(folded, charset, [v.lines for v in variants])
    scores = [lattice.scores for lattice, _ in lattices]
    best: tuple[float, Template] | None = None
    for variant in variants:
        parts = [
            float(line_scores[index[part]])
            for line_scores, (_, index), part in zip(scores, lattices, variant.lines, strict=True)
        ]
        if all(score > -np.inf for score in parts):
            total = sum(parts)
            if best is None or total > best[0]:
                best = (total, variant)
    return None if best is None else _reading(lattices, best[1].lines, template)


def _in_play(
    folded: list[FloatArray], charset: str, variants: Sequence[Template]
) -> Sequence[Template]:
    """The variants whose fixed characters (a position that allows one) the recognizer
    gives some weight on their line (:data:`IN_PLAY` at some step): a path through any other
    is far less likely. All of them when none is left."""
    index = {char: i + 1 for i, char in enumerate(charset)}
    peaks = [line.max(axis=0) for line in folded]
    floor = np.log(IN_PLAY)

    def likely(variant: Template) -> bool:
        return all(
            peaks[number][index[chars]] >= floor
            for number, line in enumerate(variant.lines)
            for chars in line
            if len(chars) == 1 and chars in index
        )

    kept = [v for v in variants if likely(v)]
    return kept or variants


def _lattices(
    folded: list[FloatArray], charset: str, templates: Iterable[tuple[tuple[str, ...], ...]]
) -> list[tuple[Lattice, dict[tuple[str, ...], int]]]:
    """Per line, the lattice of every distinct line of ``templates`` and each one's index."""
    every = list(templates)
    lattices = []
    for number, line in enumerate(folded):
        wanted = list(dict.fromkeys(t[number] for t in every))
        lattices.append(
            (score_templates(line, charset, wanted), {w: i for i, w in enumerate(wanted)})
        )
    return lattices


def _reading(
    lattices: list[tuple[Lattice, dict[tuple[str, ...], int]]],
    lines: tuple[tuple[str, ...], ...],
    template: Template,
) -> TextRead:
    """The text of ``lines``' best paths, as a reading of ``template``'s layout."""
    parts = [
        lattice.decode(index[part]) for (lattice, index), part in zip(lattices, lines, strict=True)
    ]
    found = [p for p in parts if p is not None]
    # A band template's first characters are the country band's: read, not the plate's.
    confidences = [c for p in found for c in p.confidences][template.band :]
    text = "".join(p.text for p in found)[template.band :]
    return TextRead(
        text, _mean(confidences), len(lattices), True, template.format, not template.generic
    )


def choose_template(
    templates: Sequence[Template],
    bends: FloatArray,
    log_sizes: FloatArray,
    config: Formats,
    costs: FloatArray | None = None,
) -> Template | None:
    """Of the ``templates`` and their *bends* (log-probability each costs the free reading;
    -inf where it cannot fit), the one whose bend less ``specificity`` per nat of its size
    (``log_sizes``) and less its ``costs`` (a plate shape its region does not have, another
    country's layout: ``PlateFormats.template_costs``) is highest, the first of equals, among
    those whose bend stays within ``max_bend``; ``None`` when none does. One rule for every
    reader, over arrays: a reading weighs a hundred or more templates."""
    ranked = bends - config.specificity * log_sizes
    if costs is not None:
        ranked = ranked - costs
    eligible = bends >= -config.max_bend
    if not eligible.any():
        return None
    return templates[int(np.argmax(np.where(eligible, ranked, -np.inf)))]


def _registration_line(free: list[LineDecode]) -> int | None:
    """Of a two-line reading, the line that holds the whole registration when the other
    reads nothing (a split above or below the characters) or a word (:data:`WORD_CHARS`: a
    state name or a frame's slogan); ``None`` when both lines count."""
    empty = [not line.text for line in free]
    if empty.count(True) == 1:
        return empty.index(False)
    words = [_is_word(line.text) for line in free]
    if not any(empty) and words.count(True) == 1:
        return words.index(False)
    return None


def _is_word(text: str) -> bool:
    """Whether a line's free reading is a printed word, not registration characters."""
    return len(text) >= WORD_CHARS and text.isalpha()


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else 0.0
