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
    r"(?P<cls>[LDA]|\[[A-Z0-9]+\])(?:\{(?P<lo>\d+)(?:,(?P<hi>\d+))?\}|(?P<opt>\?))?"
)


@dataclass(frozen=True)
class Template:
    """One fixed-length reading of a layout: allowed characters per position, per line."""

    format: str  # ``region:index`` of the layout it came from
    lines: tuple[tuple[str, ...], ...]

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
        return len(text) == len(self.positions) and all(
            char in chars for char, chars in zip(text, self.positions, strict=True)
        )

    @cached_property
    def generic(self) -> bool:
        """Whether every position takes any letter or digit (a catch-all layout)."""
        return all(len(chars) >= len(CLASSES["A"]) for chars in self.positions)

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
        """Every fixed-length template the layout's counts allow."""
        per_line = [_expand(line) for line in self.lines]
        combos = list(itertools.islice(itertools.product(*per_line), MAX_TEMPLATES + 1))
        if len(combos) > MAX_TEMPLATES:
            raise ValueError(f"layout {self.format} {self.lines} expands to too many templates")
        return [
            Template(self.format, tuple(combo)) for combo in combos if all(len(x) for x in combo)
        ]


def parse_line(line: str) -> list[tuple[str, int, int]]:
    """The (characters, fewest, most) of each class of a layout line; ``ValueError`` if bad."""
    compact = "".join(ch for ch in line if ch not in SEPARATORS)
    tokens: list[tuple[str, int, int]] = []
    position = 0
    while position < len(compact):
        match = _TOKEN.match(compact, position)
        if match is None:
            raise ValueError(
                f"bad layout line {line!r} at {compact[position:]!r}: expected L, D, A or "
                "[CHARS], optionally followed by {n}, {m,n} or ?"
            )
        chars = CLASSES.get(match["cls"]) or match["cls"][1:-1]
        low = 0 if match["opt"] else int(match["lo"] or 1)
        high = 1 if match["opt"] else int(match["hi"] or match["lo"] or 1)
        if high < low or high > 12:
            raise ValueError(f"bad count in layout line {line!r}: {match.group(0)!r}")
        tokens.append((chars, low, high))
        position = match.end()
    if not tokens:
        raise ValueError(f"empty layout line {line!r}")
    return tokens


def _expand(line: str) -> list[tuple[str, ...]]:
    tokens = parse_line(line)
    choices = [range(low, high + 1) for _, low, high in tokens]
    expanded = []
    for counts in itertools.product(*choices):
        expanded.append(
            tuple(chars for (chars, _, _), n in zip(tokens, counts, strict=True) for _ in range(n))
        )
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
    regions: Mapping[str, Sequence[str | Sequence[str]]], groups: Mapping[str, Sequence[str]]
) -> LayoutBook:
    """A checked :class:`LayoutBook` from plain data (the YAML's shape)."""
    book: dict[str, tuple[Layout, ...]] = {}
    for region, entries in regions.items():
        layouts = []
        for index, entry in enumerate(entries):
            lines = (entry,) if isinstance(entry, str) else tuple(entry)
            if not 1 <= len(lines) <= 3 or not all(isinstance(x, str) for x in lines):
                raise ValueError(f"layout {region}:{index} must be 1-3 line strings, got {entry!r}")
            layout = Layout(str(region), index, lines)
            try:
                layout.templates()
            except ValueError as exc:
                raise ValueError(f"layout {region}:{index}: {exc}") from exc
            layouts.append(layout)
        book[str(region)] = tuple(layouts)
    for group, members in groups.items():
        unknown = [m for m in members if m not in book]
        if unknown:
            raise ValueError(f"group {group!r} names unknown regions {unknown}")
    return LayoutBook(book, {str(g): tuple(map(str, m)) for g, m in groups.items()})


@cache
def shipped_book() -> LayoutBook:
    """The layouts shipped in ``edge/layouts.yaml``."""
    data = yaml.safe_load(LAYOUTS_FILE.read_text(encoding="utf-8"))
    return build_book(data["regions"], data.get("groups", {}))
