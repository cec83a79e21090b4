"""From the recognizer's per-line probabilities to plate text, steered by the plate layouts.

Each candidate reading of a plate (one line, or two lines split at a row) is decoded twice:
freely (greedy CTC) and against every template of the enabled layouts with as many lines
(:mod:`edge.engine.constrained`). A template costs the free reading some log-probability
(its *bend*: nothing when the free text fits it); precise templates are preferred to vague
ones by ``specificity`` per nat of their size. The best template wins if its bend stays
within ``max_bend``; otherwise the free text is kept and flagged as fitting no layout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
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
    when known (see :meth:`PlateFormats.shape_cost`). A two-line reading one of whose lines
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
    """The reading the winning template gives, if one is close enough to the free one."""
    templates = formats.templates_near(
        tuple(len(line.text) for line in free), LENGTH_SLACK, free[0].text[:1]
    )
    if not templates:
        return None
    lattices = _lattices(folded, charset, [t.lines for t in templates])
    line_scores = [lattice.scores for lattice, _ in lattices]

    def bends() -> Iterator[tuple[Template, float]]:
        for template in templates:
            bend = -BAND_COST if template.band else 0.0
            for number, part in enumerate(template.lines):
                score = line_scores[number][lattices[number][1][part]]
                if score is None:
                    break
                length_change = abs(len(part) - len(free[number].text))
                bend += score - free[number].log_prob - LENGTH_COST * length_change
            else:
                yield template, bend

    def prior(template: Template) -> float:
        return formats.template_cost(template, aspect)

    template = choose_template(bends(), formats.config, prior)
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
    best: tuple[float, Template] | None = None
    for variant in variants:
        scores = [
            lattice.scores[index[part]]
            for (lattice, index), part in zip(lattices, variant.lines, strict=True)
        ]
        if all(score is not None for score in scores):
            total = sum(score for score in scores if score is not None)
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
    bends: Iterable[tuple[Template, float]],
    config: Formats,
    prior: Callable[[Template], float] | None = None,
) -> Template | None:
    """Of the templates and their *bends* (log-probability a template costs the free
    reading), the one whose bend less ``specificity`` per nat of its size (and less its
    ``prior`` cost: a plate shape its region does not have) is highest, among those whose
    bend stays within ``max_bend``; ``None`` when none does."""
    best: tuple[float, Template] | None = None
    for template, bend in bends:
        ranked = bend - config.specificity * template.log_size
        if prior is not None:
            ranked -= prior(template)
        if bend >= -config.max_bend and (best is None or ranked > best[0]):
            best = (ranked, template)
    return None if best is None else best[1]


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
