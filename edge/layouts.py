"""Plate layouts as data: character classes per position, one or two lines, per region.

``edge/layouts.yaml`` holds the shipped layouts (its header explains the notation). A layout
line such as ``"LL DDD LL"`` expands into fixed-length *templates*: one set of allowed
characters per position. The constrained decoder (:mod:`edge.engine.constrained`) scores
templates against the recognizer's output; :class:`edge.formats.PlateFormats` checks texts.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import yaml

LAYOUTS_FILE = Path(__file__).with_name("layouts.yaml")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
CLASSES = {"L": LETTERS, "D": DIGITS, "A": DIGITS + LETTERS}
#: Separators a layout may show between characters; they are not read.
SEPARATORS = " -."
#: Expansions of one line's counts beyond this many templates are refused (a typo guard).
MAX_TEMPLATES = 512

_TOKEN = re.compile(
    r"\((?P<alt>[A-Z0-9]+(?:\|[A-Z0-9]+)*)\)"
    r"|(?P<cls>[LDA]|\[[A-Z0-9]+\])(?:\{(?P<lo>\d+)(?:,(?P<hi>\d+))?\}|(?P<opt>\?))?"
)
#: A token of a layout line: a class (its characters) with its fewest and most repeats, or
#: a set of fixed words (``(MH|DL|KA)``, once).
Token = tuple[str | tuple[str, ...], int, int]


@dataclass(frozen=True)
class Template:
    """One fixed-length reading of a layout: allowed characters per position, per line."""

    format: str  # ``region:index`` of the layout it came from
    lines: tuple[tuple[str, ...], ...]
    #: Where the layout names word sets (``(MH|DL)``): the exact templates this one stands
    #: for, each word spelled out. This template holds, per position, any character of
    #: those words there, so that the decoder scores one template where there would be
    #: dozens; the winner's words are then chosen among its variants. Empty otherwise.
    variants: tuple[Template, ...] = ()
    #: Leading positions of the first line that hold the country band's letters (one
    #: allowed character each): read, but not part of the plate's text.
    band: int = 0

    # Derived once per template: the decoder asks for them on every plate it reads.
    @cached_property
    def positions(self) -> tuple[str, ...]:
        """The allowed characters of every position, lines joined."""
        return tuple(chars for line in self.lines for chars in line)

    @property
    def length(self) -> int:
        return len(self.positions)

    def fits(self, text: str) -> bool:
        """Whether ``text`` (lines joined, no separators) is one the template accepts."""
        if self.variants:
            return any(variant.fits(text) for variant in self.variants)
        return len(text) == len(self.positions) and all(
            char in chars for char, chars in zip(text, self.positions, strict=True)
        )

    @cached_property
    def generic(self) -> bool:
        """Whether every position takes any letter or digit (a catch-all layout)."""
        return all(len(chars) >= len(CLASSES["A"]) for chars in self.positions)

    @cached_property
    def region(self) -> str:
        """The region of the layout it came from (``format`` less its index)."""
        return self.format.rpartition(":")[0]

    @cached_property
    def log_size(self) -> float:
        """Natural log of the number of texts the template accepts (its vagueness)."""
        return sum(math.log(len(chars)) for chars in self.positions)


@dataclass(frozen=True)
class Layout:
    """A plate layout of a region: one pattern per printed line."""

    region: str
    index: int
    lines: tuple[str, ...]

    @property
    def format(self) -> str:
        return f"{self.region}:{self.index}"

    def templates(self) -> list[Template]:
        """Every fixed-length template the layout's counts allow (with its word variants)."""
        per_line = [_expand(line) for line in self.lines]
        combos = list(itertools.islice(itertools.product(*per_line), MAX_TEMPLATES + 1))
        if len(combos) > MAX_TEMPLATES:
            raise ValueError(f"layout {self.format} {self.lines} expands to too many templates")
        templates = []
        for combo in combos:
            lines = tuple(coarse for coarse, _ in combo)
            if not all(len(x) for x in lines):
                continue
            exact = list(itertools.product(*(fine for _, fine in combo)))
            variants = () if exact == [lines] else tuple(Template(self.format, v) for v in exact)
            templates.append(Template(self.format, lines, variants))
        return templates


def parse_line(line: str) -> list[Token]:
    """The (characters, fewest, most) of each class of a layout line, or (words, 1, 1) of a
    set of fixed words such as ``(MH|DL)``; ``ValueError`` if bad."""
    compact = "".join(ch for ch in line if ch not in SEPARATORS)
    tokens: list[Token] = []
    position = 0
    while position < len(compact):
        match = _TOKEN.match(compact, position)
        if match is None:
            raise ValueError(
                f"bad layout line {line!r} at {compact[position:]!r}: expected L, D, A, "
                "[CHARS] or (WORD|WORD), a class optionally followed by {n}, {m,n} or ?"
            )
        position = match.end()
        if match["alt"]:
            tokens.append((tuple(dict.fromkeys(match["alt"].split("|"))), 1, 1))
            continue
        chars = CLASSES.get(match["cls"]) or match["cls"][1:-1]
        low = 0 if match["opt"] else int(match["lo"] or 1)
        high = 1 if match["opt"] else int(match["hi"] or match["lo"] or 1)
        if high < low or high > 12:
            raise ValueError(f"bad count in layout line {line!r}: {match.group(0)!r}")
        tokens.append((chars, low, high))
    if not tokens:
        raise ValueError(f"empty layout line {line!r}")
    return tokens


def _choices(token: Token) -> list[tuple[tuple[str, ...], list[tuple[str, ...]]]]:
    """The position sequences one token may stand for, each with its exact spellings. A
    class gives one per count, its own spelling. A word set gives one per word length: per
    position the characters any word has there (``(MH|MP|DL)``: ``[MD][HPL]``), with its
    exact spellings grouped by beginning, the last position the letters that may end it
    (``M[HP]``, ``DL``)."""
    chars, low, high = token
    if isinstance(chars, str):
        return [((chars,) * n, [(chars,) * n]) for n in range(low, high + 1)]
    by_length: dict[int, list[str]] = {}
    for word in chars:
        by_length.setdefault(len(word), []).append(word)
    choices = []
    for length, words in by_length.items():
        coarse = tuple("".join(sorted({w[i] for w in words})) for i in range(length))
        endings: dict[tuple[str, ...], str] = {}
        for word in words:
            head = tuple(word[:-1])
            endings[head] = endings.get(head, "") + word[-1]
        fine = [(*head, "".join(sorted(last))) for head, last in endings.items()]
        choices.append((coarse, fine))
    return choices


def _expand(line: str) -> list[tuple[tuple[str, ...], list[tuple[str, ...]]]]:
    """The templates of one layout line: each as its positions and its exact spellings."""
    expanded = []
    for parts in itertools.product(*(_choices(token) for token in parse_line(line))):
        coarse = tuple(chars for part, _ in parts for chars in part)
        fine = [
            tuple(chars for piece in pieces for chars in piece)
            for pieces in itertools.product(*(spellings for _, spellings in parts))
        ]
        expanded.append((coarse, fine))
        if len(expanded) > MAX_TEMPLATES:
            raise ValueError(f"layout line {line!r} expands to too many templates")
    return expanded


def split_regions(region: str) -> list[str]:
    """The region and group names of a setting such as ``"eu, us-ca"`` (``any`` when empty)."""
    return [name.strip() for name in region.split(",") if name.strip()] or ["any"]


@dataclass(frozen=True)
class LayoutBook:
    """Every known layout, by region, and the region groups (``eu`` = its countries)."""

    regions: dict[str, tuple[Layout, ...]]
    groups: dict[str, tuple[str, ...]]

    def names(self) -> list[str]:
        return sorted({*self.regions, *self.groups})

    def select(self, names: Iterable[str]) -> list[Layout]:
        """The layouts of the named regions or groups (``any``: all of them)."""
        chosen: list[str] = []
        for name in names:
            if name == "any":
                chosen += list(self.regions)
            elif name in self.groups:
                chosen += list(self.groups[name])
            elif name in self.regions:
                chosen.append(name)
            else:
                known = ", ".join(["any", *self.names()])
                raise ValueError(f"region must be one of {known}, got {name!r}")
        unique = list(dict.fromkeys(chosen))
        return [layout for region in unique for layout in self.regions[region]]


def build_book(
    regions: Mapping[str, Sequence[str | Sequence[str]]],
    groups: Mapping[str, Sequence[str]],
    words: Mapping[str, Sequence[str]] | None = None,
) -> LayoutBook:
    """A checked :class:`LayoutBook` from plain data (the YAML's shape). A line may name a
    word set of ``words`` as ``$name``: it stands for ``(WORD|WORD|...)``."""
    book: dict[str, tuple[Layout, ...]] = {}
    for region, entries in regions.items():
        layouts = []
        for index, entry in enumerate(entries):
            lines = (entry,) if isinstance(entry, str) else tuple(entry)
            if not 1 <= len(lines) <= 3 or not all(isinstance(x, str) for x in lines):
                raise ValueError(f"layout {region}:{index} must be 1-3 line strings, got {entry!r}")
            try:
                layout = Layout(str(region), index, tuple(_with_words(x, words) for x in lines))
                layout.templates()
            except ValueError as exc:
                raise ValueError(f"layout {region}:{index}: {exc}") from exc
            layouts.append(layout)
        book[str(region)] = tuple(layouts)
    expanded = {str(g): _group_regions(str(g), groups, book) for g in groups}
    return LayoutBook(book, expanded)


def _group_regions(
    group: str,
    groups: Mapping[str, Sequence[str]],
    regions: Mapping[str, object],
    inside: tuple[str, ...] = (),
) -> tuple[str, ...]:
    """The regions of ``group``, whose members are regions or other groups (``americas``
    names ``us-states``); ``ValueError`` for an unknown member or a group inside itself."""
    if group in inside:
        raise ValueError(f"group {inside[0]!r} holds itself through {' -> '.join(inside)}")
    unknown = [str(m) for m in groups[group] if m not in regions and m not in groups]
    if unknown:
        raise ValueError(f"group {group!r} names unknown regions {unknown}")
    members: list[str] = []
    for member in map(str, groups[group]):
        if member in groups:
            members += _group_regions(member, groups, regions, (*inside, group))
        else:
            members.append(member)
    return tuple(dict.fromkeys(members))


_WORD_SET = re.compile(r"\$([a-z][a-z0-9]*(?:-[a-z0-9]+)*)")


def _with_words(line: str, words: Mapping[str, Sequence[str]] | None) -> str:
    """``line`` with each ``$name`` replaced by its word set ``(WORD|WORD|...)``."""

    def spelled(match: re.Match[str]) -> str:
        name = match[1]
        if not words or name not in words:
            known = ", ".join(sorted(words or ())) or "none"
            raise ValueError(f"line {line!r} names an unknown word set ${name} (known: {known})")
        entries = [str(w).upper() for w in words[name]]
        if not entries or not all(re.fullmatch(r"[A-Z0-9]+", w) for w in entries):
            raise ValueError(f"word set ${name} must list words of letters and digits")
        return "(" + "|".join(entries) + ")"

    return _WORD_SET.sub(spelled, line)


@cache
def _shipped_data() -> dict[str, Any]:
    """``edge/layouts.yaml`` as plain data, read once."""
    return dict(yaml.safe_load(LAYOUTS_FILE.read_text(encoding="utf-8")))


@cache
def shipped_book() -> LayoutBook:
    """The layouts shipped in ``edge/layouts.yaml``."""
    data = _shipped_data()
    return build_book(data["regions"], data.get("groups", {}), shipped_words())


def band_templates(template: Template, codes: Sequence[str]) -> list[Template]:
    """``template`` (one line) after each band code and after each code's first letter:
    the readings of a plate whose band letters were read as characters."""
    prefixes = list(dict.fromkeys(p for code in codes for p in (code, code[0])))
    return [
        Template(
            template.format,
            ((*prefix, *template.lines[0]),),
            tuple(Template(v.format, ((*prefix, *v.lines[0]),)) for v in template.variants),
            band=len(prefix),
        )
        for prefix in prefixes
    ]


def check_bands(bands: Mapping[str, Sequence[str]], book: LayoutBook) -> dict[str, tuple[str, ...]]:
    """Band codes by region, checked: known regions, codes of 1-3 letters."""
    checked = {}
    for region, codes in bands.items():
        if region not in book.regions:
            raise ValueError(f"bands: unknown region {region!r}")
        listed = tuple(str(c) for c in codes)
        if not listed or not all(re.fullmatch(r"[A-Z]{1,3}", c) for c in listed):
            raise ValueError(f"bands: {region} must list codes of 1-3 letters, got {codes!r}")
        checked[str(region)] = listed
    return checked


@cache
def shipped_bands() -> dict[str, tuple[str, ...]]:
    """The country-band codes of ``edge/layouts.yaml``, by region."""
    return check_bands(_shipped_data().get("bands") or {}, shipped_book())


#: A region's range of one-line plate box shapes (width / height): fewest, most (None: open).
AspectRange = tuple[float | None, float | None]


def check_aspects(aspects: Mapping[str, Any], book: LayoutBook) -> dict[str, AspectRange]:
    """Plate box shapes by region, checked, with each group name spelled out as its regions:
    ``[fewest, most]`` width / height, either ``null`` (open), fewest below most."""
    checked: dict[str, AspectRange] = {}
    for name, bounds in aspects.items():
        if name not in book.regions and name not in book.groups:
            raise ValueError(f"aspects: unknown region or group {name!r}")
        if not isinstance(bounds, list | tuple) or len(bounds) != 2:
            raise ValueError(f"aspects: {name} must be [fewest, most], got {bounds!r}")
        low, high = (None if b is None else float(b) for b in bounds)
        if (low is None and high is None) or any(b is not None and b <= 0 for b in (low, high)):
            raise ValueError(f"aspects: {name} needs a positive bound, got {bounds!r}")
        if low is not None and high is not None and low >= high:
            raise ValueError(f"aspects: {name} fewest {low} must be below most {high}")
        for region in book.groups.get(name, (name,)):
            checked[region] = (low, high)
    return checked


@cache
def shipped_aspects() -> dict[str, AspectRange]:
    """The one-line plate box shapes of ``edge/layouts.yaml``, by region."""
    return check_aspects(_shipped_data().get("aspects") or {}, shipped_book())


@cache
def shipped_words() -> dict[str, tuple[str, ...]]:
    """The word sets of ``edge/layouts.yaml`` (``$name`` in a layout line)."""
    words = _shipped_data().get("words") or {}
    return {str(k): tuple(map(str, v)) for k, v in words.items()}
