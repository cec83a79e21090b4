"""Plate text normalisation and per-region format validation."""

from __future__ import annotations

import re
from dataclasses import dataclass

from edge.config import Formats

_NOT_PLATE_CHARS = re.compile(r"[^A-Z0-9]")


def normalise(text: str) -> str:
    """Upper case with separators and spaces removed: ``'5AU 53-41'`` -> ``'5AU5341'``."""
    return _NOT_PLATE_CHARS.sub("", text.upper())


@dataclass(frozen=True)
class FormatCheck:
    """Whether a text fits a format of the region, and which one (``region:index``)."""

    valid: bool
    format: str | None


class PlateFormats:
    """Matches normalised plate text against the configured formats of one region."""

    def __init__(self, config: Formats, region: str | None = None) -> None:
        self.region = region or config.region
        if self.region != "any" and self.region not in config.regions:
            known = ", ".join(["any", *sorted(config.regions)])
            raise ValueError(f"region must be one of {known}, got {self.region!r}")
        selected = (
            config.regions.items()
            if self.region == "any"
            else [(self.region, config.regions[self.region])]
        )
        self._patterns = [
            (f"{name}:{index}", re.compile(pattern))
            for name, patterns in selected
            for index, pattern in enumerate(patterns)
        ]

    def check(self, text: str) -> FormatCheck:
        """The first format that ``text`` fits, or an invalid result naming none."""
        for name, pattern in self._patterns:
            if pattern.fullmatch(text):
                return FormatCheck(True, name)
        return FormatCheck(False, None)
