"""Synthetic licence plates rendered from the plate layouts, for training the recognizer.

Every plate starts from a layout of ``edge/layouts.yaml``: a template of it is picked, each
position gets a random character its class allows, and the text is drawn one or two lines
high in a plate style (ground and ink colours, an EU band, a border, separators between
groups, a condensed font). :mod:`edge.training.augment` then puts the plate into a scene and
degrades it the way cameras do. Fonts come from Debian's font packages or, on a machine
without them, the DejaVu fonts that matplotlib ships; none are committed here.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from edge.layouts import LayoutBook, Template, shipped_book

#: Font files tried, bold and condensed faces first (plate fonts are both); any found are used.
FONT_NAMES = (
    "RobotoCondensed-Bold.ttf",
    "RobotoCondensed-Regular.ttf",
    "Roboto-Bold.ttf",
    "Roboto-Medium.ttf",
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSansMono-Bold.ttf",
    "LiberationSansNarrow-Bold.ttf",
    "LiberationSans-Bold.ttf",
    "LiberationMono-Bold.ttf",
    "FreeSansBold.ttf",
    "FreeMonoBold.ttf",
    "Arimo-Bold.ttf",
    "Cousine-Bold.ttf",
    "OpenSans-Bold.ttf",
    "OpenSans-Semibold.ttf",
)
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))

#: (ground, ink) colours in RGB of common plate styles, with their weights.
STYLES: tuple[tuple[tuple[int, int, int], tuple[int, int, int], float], ...] = (
    ((240, 240, 236), (20, 20, 20), 0.52),  # white, black (most of Europe, Brazil, India)
    ((245, 200, 40), (15, 15, 15), 0.12),  # yellow, black (UK rear, NL, LU, taxis)
    ((235, 235, 240), (25, 35, 110), 0.10),  # white, dark blue (US states, Argentina)
    ((230, 230, 225), (150, 25, 25), 0.05),  # white, dark red (US states, trade plates)
    ((210, 215, 220), (20, 60, 30), 0.03),  # grey, green
    ((25, 25, 25), (235, 235, 235), 0.08),  # black, white (old plates, Asia)
    ((30, 50, 140), (240, 240, 240), 0.06),  # blue, white (Vietnam official, old Argentina)
    ((250, 250, 250), (40, 40, 40), 0.04),  # bright white, grey (worn plates)
)
EU_BAND = (0, 51, 153)


@dataclass(frozen=True)
class SynthPlate:
    """A rendered plate: RGB pixels, its text (no separators) and how many lines it has."""

    image: np.ndarray
    text: str
    lines: int
    format: str
    #: The text of each line, top first.
    parts: tuple[str, ...] = ()


@cache
def find_fonts(extra: tuple[Path, ...] = ()) -> tuple[Path, ...]:
    """The plate-like fonts on this machine (``extra`` folders searched first)."""
    found: dict[str, Path] = {}
    for folder in (*extra, *FONT_DIRS, _matplotlib_fonts()):
        if folder is None or not folder.is_dir():
            continue
        for path in folder.rglob("*.ttf"):
            if path.name in FONT_NAMES and path.name not in found:
                found[path.name] = path
    if not found:
        raise FileNotFoundError(
            "no plate-like font found: install Debian's fonts-dejavu-core or "
            "fonts-roboto-unhinted, or matplotlib (which ships DejaVu)"
        )
    return tuple(found[name] for name in FONT_NAMES if name in found)


def _matplotlib_fonts() -> Path | None:
    try:
        import matplotlib
    except ImportError:
        return None
    return Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"


class PlateSynth:
    """Renders random plates of the layouts of ``regions`` (names or groups, ``any`` = all)."""

    def __init__(
        self,
        regions: Sequence[str] = ("any",),
        book: LayoutBook | None = None,
        fonts: Sequence[Path] | None = None,
        two_line_share: float = 0.25,
    ) -> None:
        if not 0.0 <= two_line_share <= 1.0:
            raise ValueError(f"two_line_share must be in [0, 1], got {two_line_share}")
        book = book or shipped_book()
        layouts = book.select(regions)
        self.eu = set(book.groups.get("eu", ()))
        self.by_lines: dict[int, list[list[Template]]] = {1: [], 2: []}
        for layout in layouts:
            templates = layout.templates()
            if templates and len(layout.lines) in self.by_lines:
                self.by_lines[len(layout.lines)].append(templates)
        if not self.by_lines[1]:
            raise ValueError(f"regions {list(regions)} have no one-line layout to render")
        self.two_line_share = two_line_share if self.by_lines[2] else 0.0
        self.fonts = tuple(fonts) if fonts else find_fonts()

    def sample(self, rng: random.Random) -> SynthPlate:
        """One random plate."""
        lines = 2 if rng.random() < self.two_line_share else 1
        template = rng.choice(rng.choice(self.by_lines[lines]))
        # A layout's word set (Indian state codes) is drawn as one of its words.
        spelled = rng.choice(template.variants) if template.variants else template
        parts = ["".join(rng.choice(chars) for chars in line) for line in spelled.lines]
        region = template.format.split(":")[0]
        band = region in self.eu and lines == 1 and rng.random() < 0.7
        image = render_plate(parts, rng, rng.choice(self.fonts), band=band)
        return SynthPlate(image, "".join(parts), lines, template.format, tuple(parts))


def render_plate(
    parts: Sequence[str], rng: random.Random, font_path: Path, band: bool = False
) -> np.ndarray:
    """The plate of ``parts`` (its lines, top first) drawn in a random style, RGB."""
    ground, ink = _style(rng)
    size = 64
    font = ImageFont.truetype(str(font_path), size)
    texts = [_grouped(part, rng) for part in parts]
    spacing = rng.uniform(-0.02, 0.12) * size
    line_images = [_draw_line(text, font, ink, ground, spacing) for text in texts]
    if len(line_images) == 2:
        top, bottom = line_images
        top = _scaled(top, rng.uniform(0.75, 1.0))
        line_images = [top, bottom]
    squeeze = rng.uniform(0.62, 1.0)
    line_images = [_stretched(line, squeeze) for line in line_images]
    gap = int(rng.uniform(0.05, 0.25) * size)
    width = max(line.width for line in line_images)
    height = sum(line.height for line in line_images) + gap * (len(line_images) - 1)
    pad_x, pad_y = int(rng.uniform(0.1, 0.4) * size), int(rng.uniform(0.08, 0.3) * size)
    band_width = int(0.55 * size) if band else 0
    plate = Image.new("RGB", (width + 2 * pad_x + band_width, height + 2 * pad_y), ground)
    y = pad_y
    for line in line_images:
        plate.paste(line, (band_width + pad_x + (width - line.width) // 2, y))
        y += line.height + gap
    draw = ImageDraw.Draw(plate)
    if band:
        _draw_band(draw, band_width, plate.height, rng)
    if rng.random() < 0.6:
        inset = int(rng.uniform(0.02, 0.08) * size)
        draw.rectangle(
            (inset, inset, plate.width - 1 - inset, plate.height - 1 - inset),
            outline=ink,
            width=max(1, int(rng.uniform(0.02, 0.06) * size)),
        )
    return np.asarray(plate)


def _style(rng: random.Random) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    ground, ink, _ = rng.choices(STYLES, weights=[w for _, _, w in STYLES])[0]
    jitter = [rng.randint(-18, 18) for _ in range(3)]
    r, g, b = (int(np.clip(c + j, 0, 255)) for c, j in zip(ground, jitter, strict=True))
    return (r, g, b), ink


def _grouped(text: str, rng: random.Random) -> str:
    """The text with separators where letters and digits meet, as most plates print it."""
    if rng.random() < 0.2:
        return text
    separator = rng.choice([" ", " ", "-", "·", "  "])
    out = [text[0]]
    for before, char in itertools.pairwise(text):
        if before.isdigit() != char.isdigit() and rng.random() < 0.8:
            out.append(separator)
        out.append(char)
    return "".join(out)


def _draw_line(
    text: str,
    font: ImageFont.FreeTypeFont,
    ink: tuple[int, int, int],
    ground: tuple[int, int, int],
    spacing: float,
) -> Image.Image:
    """One line of text, character by character so that the tracking can vary."""
    widths = [font.getlength(char) for char in text]
    ascent, descent = font.getmetrics()
    top = font.getbbox("A0")[1]
    height = ascent - top + max(2, descent // 3)
    width = int(sum(widths) + spacing * (len(text) - 1)) + 4
    line = Image.new("RGB", (max(width, 8), int(height)), ground)
    draw = ImageDraw.Draw(line)
    x = 2.0
    for char, advance in zip(text, widths, strict=True):
        draw.text((x, -top), char, font=font, fill=ink)
        x += advance + spacing
    return line


def _scaled(image: Image.Image, factor: float) -> Image.Image:
    size = (max(1, int(image.width * factor)), max(1, int(image.height * factor)))
    return image.resize(size, Image.Resampling.BILINEAR)


def _stretched(image: Image.Image, factor: float) -> Image.Image:
    return image.resize(
        (max(1, int(image.width * factor)), image.height), Image.Resampling.BILINEAR
    )


def _draw_band(draw: ImageDraw.ImageDraw, width: int, height: int, rng: random.Random) -> None:
    """The blue EU band with a country code at its foot (the recognizer must ignore it)."""
    draw.rectangle((0, 0, width, height), fill=EU_BAND)
    code = "".join(rng.choice("ABCDEFGHIKLMNPRSTUZ") for _ in range(rng.choice([1, 2, 2, 3])))
    font = ImageFont.load_default(size=max(8, int(width * 0.45)))
    box = draw.textbbox((0, 0), code, font=font)
    draw.text(
        ((width - (box[2] - box[0])) / 2, height * 0.6), code, font=font, fill=(255, 255, 255)
    )
    for k in range(12):  # the ring of stars, as dots
        angle = 2 * np.pi * k / 12
        cx, cy = (
            width / 2 + width * 0.25 * np.cos(angle),
            height * 0.3 + width * 0.25 * np.sin(angle),
        )
        draw.ellipse((cx - 1, cy - 1, cx + 1, cy + 1), fill=(255, 204, 0))
