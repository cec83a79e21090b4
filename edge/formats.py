"""Plate text normalisation and the plate layouts of a site's regions."""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.config import Formats
from edge.layouts import (
    Layout,
    LayoutBook,
    Template,
    band_templates,
    build_book,
    shipped_aspects,
    shipped_bands,
    shipped_book,
    shipped_words,
    split_regions,
)

_NOT_PLATE_CHARS = re.compile(r"[^A-Z0-9]")
#: How much more precise (natural log of the ratio of texts they accept) a country's most
#: precise layout that a text fits must be than every other country's for
#: ``PlateFormats.region_of`` to name it: 1.0, e (2.7) times. Of the 384 exact reads of the
#: local real sets under region ``any``, 152 were named a region, 151 of them right; the
#: most precise layout's region, named before, was right for 254 and wrong for 130 (every
#: old Argentine plate to Belgium's LLL-DDD). 2.0 named 24 fewer, as right.
REGION_MARGIN = 1.0


def normalise(text: str) -> str:
    """Upper case with separators and spaces removed: ``'5AU 53-41'`` -> ``'5AU5341'``."""
    return _NOT_PLATE_CHARS.sub("", text.upper())


@dataclass(frozen=True)
class FormatCheck:
    """Whether a text fits a layout of the regions, and which one (``region:index``)."""

    valid: bool
    format: str | None


@dataclass(frozen=True)
class NearTemplates:
    """Templates near some line lengths (:meth:`PlateFormats.near`), with what the decoder
    ranks them by as arrays (one entry per template, in the templates' order): it ranks a
    hundred or more of them for every reading of a plate."""

    templates: list[Template]
    #: Per line, the distinct parts of the templates (first seen first), each part's index
    #: among them, and each template's part's index.
    parts: tuple[list[tuple[str, ...]], ...]
    part_index: tuple[dict[tuple[str, ...], int], ...]
    part_of: tuple[npt.NDArray[np.intp], ...]
    #: Per line, each template's part's length.
    part_length: tuple[npt.NDArray[np.int64], ...]
    banded: npt.NDArray[np.bool_]
    log_size: npt.NDArray[np.float64]
    #: Each template's region's plate shape (width / height; -inf and inf where it has none).
    low: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    countries: npt.NDArray[np.str_]


class PlateFormats:
    """The layouts of the enabled regions: checks texts and hands templates to the decoder.

    ``region`` (a name, a group or a comma-separated list; default the configuration's)
    selects the layouts. Of the layouts a text fits, :meth:`check` names the most precise.
    """

    def __init__(self, config: Formats, region: str | None = None) -> None:
        self.config = config
        self.region = region or config.region
        #: The country a camera learnt most of its plates are from (see :meth:`preferring`).
        self.preferred: str | None = None
        book = _book(config)
        self.layouts: list[Layout] = book.select(split_regions(self.region))
        self._templates: dict[int, list[Template]] = defaultdict(list)
        by_length: dict[int, list[Template]] = defaultdict(list)
        # The one-line templates of regions with a country band, also after its letters
        # (see band_templates), by the band's first letter: the decoder tries those whose
        # letter begins the free reading.
        self._banded: dict[str, list[Template]] = defaultdict(list)
        bands = shipped_bands()
        self._aspects = shipped_aspects()
        for layout in self.layouts:
            for template in layout.templates():
                self._templates[len(template.lines)].append(template)
                by_length[template.length].append(template)
                if len(template.lines) == 1 and layout.region in bands:
                    for banded in band_templates(template, bands[layout.region]):
                        self._banded[banded.lines[0][0]].append(banded)
        # Of the templates a text fits, the most precise names its format.
        self._by_length = {n: sorted(ts, key=lambda t: t.log_size) for n, ts in by_length.items()}
        lines = {
            line
            for template in self._templates.get(2, ())
            for exact in (template.variants or (template,))
            for line in exact.lines
        }
        self._near: dict[tuple[tuple[int, ...], int, str], NearTemplates] = {}
        self._two_line_lines: dict[int, list[tuple[str, ...]]] = defaultdict(list)
        for line in lines:
            self._two_line_lines[len(line)].append(line)

    def templates(self, lines: int) -> list[Template]:
        """The templates of every enabled layout with ``lines`` lines."""
        return self._templates.get(lines, [])

    def near(self, lengths: tuple[int, ...], slack: int, lead: str = "") -> NearTemplates:
        """The templates with ``len(lengths)`` lines whose every line is within ``slack``
        characters of the length given for it, and for one line that begins with ``lead``
        (the free reading's first letter) the band templates whose band begins with it,
        with the arrays the decoder ranks them by (kept per ``lengths`` and lead: a site's
        readings come in few of them)."""
        key = (lengths, slack, lead if len(lengths) == 1 else "")
        if key not in self._near:
            templates = [
                t
                for t in [*self._templates.get(len(lengths), ()), *self._banded.get(key[2], [])]
                if all(
                    abs(len(part) - n) <= slack for part, n in zip(t.lines, lengths, strict=True)
                )
            ]
            parts = tuple(
                list(dict.fromkeys(t.lines[number] for t in templates))
                for number in range(len(lengths))
            )
            index = tuple({part: i for i, part in enumerate(line)} for line in parts)
            shapes = [self._aspects.get(t.region, (None, None)) for t in templates]
            self._near[key] = NearTemplates(
                templates=templates,
                parts=parts,
                part_index=index,
                part_of=tuple(
                    np.array([index[n][t.lines[n]] for t in templates], np.intp)
                    for n in range(len(lengths))
                ),
                part_length=tuple(
                    np.array([len(t.lines[n]) for t in templates], np.int64)
                    for n in range(len(lengths))
                ),
                banded=np.array([bool(t.band) for t in templates], np.bool_),
                log_size=np.array([t.log_size for t in templates], np.float64),
                low=np.array([-np.inf if lo is None else lo for lo, _ in shapes], np.float64),
                high=np.array([np.inf if hi is None else hi for _, hi in shapes], np.float64),
                countries=np.array([country_of(t.region) for t in templates], np.str_),
            )
        return self._near[key]

    def template_costs(self, near: NearTemplates, aspect: float | None) -> npt.NDArray[np.float64]:
        """What each of ``near``'s templates costs a plate whose box is ``aspect`` (width /
        height) wide before its characters are weighed: ``aspect_cost`` for a one-line
        template whose region's plates have another shape (``aspects`` of
        ``edge/layouts.yaml``), and ``foreign_cost`` for another country's template when a
        country is :attr:`preferred`."""
        count = len(near.templates)
        shape = np.zeros(count, np.float64)
        if aspect is not None and len(near.parts) == 1:
            outside = (aspect < near.low) | (aspect > near.high)
            shape = np.where(outside, self.config.aspect_cost, 0.0)
        foreign = np.zeros(count, np.float64)
        if self.preferred is not None:
            foreign = np.where(near.countries != self.preferred, self.config.foreign_cost, 0.0)
        return shape + foreign

    def preferring(self, country: str | None) -> PlateFormats:
        """These layouts with ``country``'s preferred (``None``: none): another country's
        layout costs ``foreign_cost`` (:meth:`template_costs`). They share their templates."""
        if country == self.preferred:
            return self
        chosen = copy.copy(self)
        chosen.preferred = country
        return chosen

    def countries(self) -> set[str]:
        """The countries of the enabled layouts."""
        return {country_of(layout.region) for layout in self.layouts}

    def one_line_of_two(self, text: str) -> bool:
        """Whether ``text`` fits one line of a two-line layout whole (``YCF5284``, the
        bottom line of ``JH 63 / YCF 5284``): then it may be half a plate."""
        return any(
            all(c in chars for c, chars in zip(text, line, strict=True))
            for line in self._two_line_lines.get(len(text), ())
        )

    def check(self, text: str) -> FormatCheck:
        """The most precise layout that ``text`` fits, or an invalid result naming none."""
        for template in self._by_length.get(len(text), ()):
            if template.fits(text):
                return FormatCheck(True, template.format)
        return FormatCheck(False, None)

    def region_of(self, text: str) -> str | None:
        """The region ``text``'s plate is from, as far as the enabled layouts tell.

        Of the layouts it fits (the precise ones when one of them fits, so that a catch-all
        such as the US vanity plates' does not count), a country is named when its most
        precise one accepts fewer texts than any other country's by :data:`REGION_MARGIN`
        (natural log of the ratio): ``B121PHD`` fits Romania's ``B DDD LLL`` (Bucharest) and
        Britain's older ``L DDD LLL``, 22 times as many texts; ``MLB803`` fits Belgian,
        Swedish, Lithuanian, Argentine ... layouts alike, and gets ``None``, as a text that
        fits none does. Of that country, its one region, or the country when several of its
        regions fit (``us`` for ``us`` and ``us-ca``). :meth:`check` names the most precise
        layout all the same."""
        fitting = [t for t in self._by_length.get(len(text), ()) if t.fits(text)]
        fitting = [t for t in fitting if not t.generic] or fitting
        if not fitting:
            return None
        # The templates are sorted by log_size: each country's first is its most precise.
        best: dict[str, float] = {}
        for template in fitting:
            best.setdefault(country_of(template.region), template.log_size)
        (country, size), *others = best.items()
        if others and others[0][1] - size < REGION_MARGIN:
            return None
        regions = {t.region for t in fitting if country_of(t.region) == country}
        return regions.pop() if len(regions) == 1 else country


def country_of(region: str) -> str:
    """The country of a region code: ``us`` of ``us-ca`` (and of ``us``)."""
    return region.partition("-")[0]


def _book(config: Formats) -> LayoutBook:
    shipped = shipped_book()
    if not config.regions:
        return shipped
    extra = build_book(config.regions, {}, shipped_words())
    return LayoutBook({**shipped.regions, **extra.regions}, shipped.groups)
