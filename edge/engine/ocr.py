"""Plate text recognition: PP-OCR recognition on the plate crop, read as one line and, for
squarish plates, as two lines split at a few candidate rows; every reading is decoded against
the plate layouts and the engine picks among them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from edge.config import PpOcr
from edge.engine.bands import cut_country_band
from edge.engine.constrained import load_in_background
from edge.engine.ctc import PlateAlphabet
from edge.engine.decoder import TextRead, decode_plate
from edge.engine.geometry import Image
from edge.engine.lines import has_line_gap, line_splits, text_rows
from edge.engine.output_columns import cut_output_layer, graph_metadata, load_graph
from edge.engine.runtime import Backend, open_session
from edge.formats import PlateFormats

__all__ = ["PlateReader", "PpOcrReader", "TextRead"]

#: PP-OCR recognition input height and the narrowest width its own inference pads to.
REC_HEIGHT = 48
REC_MIN_WIDTH = 320
REC_MAX_WIDTH = 1280
#: The recognizer's batch widths are multiples of this (see ``log_probs``).
WIDTH_STEP = 16
#: Horizontal stretch of a plate's text rows (``_BandCut.line``): they are already about
#: five times as wide as high, and the crops' ``stretch`` (1.5) made them the widest line of
#: their batch, which every other line is padded to. 1.0 read 261 of 303 local real plates,
#: 1.25 read 258 and 1.5 read 257 (eu, us, other; see tests/data/local-sets).
ROWS_STRETCH = 1.0
#: A crop whose middle rows' median grey is below this is read inverted too.
DARK_PLATE = 100


class PlateReader(ABC):
    """Reads the text of one plate crop."""

    @abstractmethod
    def read(self, crops: Sequence[Image], formats: PlateFormats) -> list[TextRead]:
        """Candidate texts from crops of one plate (as one line and, if it may be, two),
        decoded against the layouts of ``formats``."""

    def read_many(
        self, plates: Sequence[Sequence[Image]], formats: PlateFormats
    ) -> list[list[TextRead]]:
        """:meth:`read` for several plates (each a list of crops); readers that batch
        recognition across plates override it."""
        return [self.read(crops, formats) for crops in plates]


class PpOcrReader(PlateReader):
    """PP-OCR recognition (no detection) through ONNX Runtime."""

    def __init__(self, model: Path, config: PpOcr, backend: Backend | None = None) -> None:
        self.config = config
        # The decoder's compiled pass loads while the recognizer compiles.
        load_in_background()
        graph = load_graph(model)
        metadata = graph_metadata(graph)
        if "character" not in metadata:
            raise ValueError(f"{model.name} carries no 'character' list in its metadata")
        vocabulary = ["blank", *metadata["character"].splitlines(), " "]
        # The graph hands back only the columns the decoder reads (see output_columns).
        columns = PlateAlphabet(vocabulary, config.charset).columns.tolist()
        self.alphabet = PlateAlphabet([vocabulary[c] for c in columns], config.charset)
        self.session = open_session(
            cut_output_layer(graph, columns, model.name), backend, model.name, per_shape=True
        )
        self.input_name = self.session.get_inputs()[0].name

    def read(self, crops: Sequence[Image], formats: PlateFormats) -> list[TextRead]:
        return self.read_many([crops], formats)[0]

    def read_many(
        self, plates: Sequence[Sequence[Image]], formats: PlateFormats
    ) -> list[list[TextRead]]:
        """Each plate's crops (in order of preference) read in stages, every stage one batch
        across the plates still open: the first crop as one line; then, unless that reading
        settled (a precise layout, confidently), the other crops as one line (and the first
        inverted when the plate is dark: light text on a dark ground); then, unless
        one of those settled, the crops narrow enough (``two_line_aspect``) as two lines at
        candidate split rows (the first crop's, then, unless that settled, the others').
        Plates about as tall as wide (``square_aspect``) are read as two lines even when a
        one-line reading settled: that reading is often one line of a two-line plate. Their
        splits join the one-line readings of the same crops (two stages, not four: a round
        of the recognizer costs more than a few more lines in it). There only a settled
        two-line reading counts, and it replaces the one-line readings it holds whole
        (:func:`whole_plates`). Easy plates cost one recognition."""
        # Each plate's crops lose their country band as a stage first needs them (most
        # plates settle on the first crop).
        usable = [
            _BandCut([c for c in crops if c.shape[0] >= 4 and c.shape[1] >= 4], self.config)
            for crops in plates
        ]
        # Without a two-line layout among the enabled regions no two-line reading can settle;
        # square plates are still read at split rows, for one line's reading (a state name
        # over the registration: see decode_plate).
        two_lines = bool(formats.templates(2))
        square = [bool(crops.raw) and self._square(crops.first()) for crops in usable]
        plans = [self._stages(crops, sq) for crops, sq in zip(usable, square, strict=True)]
        # Narrow enough for two lines, yet not square: the gap test found no gap between
        # lines, so an unsettled reading is not tried at split rows (only a settled one
        # that may be half a plate is).
        gapless = [
            not sq and bool(crops.raw) and self._gapless(crops.first())
            for crops, sq in zip(usable, square, strict=True)
        ]
        # Each plate's shape, for the decoder's plate-shape cost (PlateFormats.template_costs).
        aspects = [_aspect(crops.raw) for crops in usable]
        reads: list[list[TextRead | None]] = [[] for _ in usable]
        for number in range(max((len(plan) for plan in plans), default=0)):
            settled = [any(self._settled(r) for r in found) for found in reads]
            halves = [
                self._halves(found, formats) if two_lines and not sq and number == 2 else []
                for found, sq in zip(reads, square, strict=True)
            ]
            open_plates = [
                i
                for i, found in enumerate(reads)
                if number < len(plans[i])
                and (
                    (not settled[i] and not (gapless[i] and number >= 2))
                    or (
                        (square[i] or halves[i])
                        and not any(
                            r is not None and r.lines == 2 and self._settled(r) for r in found
                        )
                    )
                )
            ]
            # A plate open again only for its two-line reading reads its splits alone.
            groups = [
                [g for g in plans[i][number]() if not settled[i] or len(g) == 2]
                for i in open_plates
            ]
            if not any(groups):
                continue
            decoded = self._decode(groups, formats, [aspects[i] for i in open_plates])
            for i, more in zip(open_plates, decoded, strict=True):
                # Without two-line layouts a split counts only as one line's reading (a
                # word over the registration: see decode_plate).
                more = [r for r in more if two_lines or r is None or r.lines == 1]
                reads[i] += self._kept(more, settled[i], halves[i])
        return [
            whole_plates(
                [
                    c
                    for c in found
                    if c is not None
                    and self.config.min_chars <= len(c.text) <= self.config.max_chars
                    and c.confidence >= self.config.min_score
                ],
                self._settled,
                square=sq,
            )
            for found, sq in zip(reads, square, strict=True)
        ]

    def _halves(self, found: list[TextRead | None], formats: PlateFormats) -> list[str]:
        """The settled one-line readings that may be one line of a two-line plate (a wide
        two-line plate read as its bigger line: ``YCF5284`` of ``JH 63 / YCF 5284``)."""
        return [
            r.text
            for r in found
            if r is not None
            and r.lines == 1
            and self._settled(r)
            and formats.one_line_of_two(r.text)
        ]

    def _kept(
        self, more: list[TextRead | None], settled: bool, halves: list[str]
    ) -> list[TextRead | None]:
        """Of one stage's readings of a plate, those that join its candidates: all while
        none settled, but a two-line reading that did not settle is kept only while no
        reading did (one-line readings of its own stage included); after one settled, only
        settled readings, and a plate read again for its ``halves`` only the two-line
        readings that hold one of them whole."""
        one_line_settled = any(self._settled(r) for r in more if r is not None and r.lines == 1)
        kept: list[TextRead | None] = []
        for r in more:
            if halves:
                if self._settled(r) and r is not None and any(h in r.text for h in halves):
                    kept.append(r)
            elif self._settled(r) or not (
                settled or (one_line_settled and r is not None and r.lines == 2)
            ):
                kept.append(r)
        return kept

    def _stages(self, crops: _BandCut, square: bool) -> list[Callable[[], list[_Group]]]:
        """The groups of line images each stage reads of one plate (see :meth:`read_many`),
        each made when its stage comes."""
        stretch, most = self.config.stretch, self.config.split_crops

        def line_stretch() -> float:
            return stretch if crops.line() is crops.first() else ROWS_STRETCH

        def one_line() -> list[_Group]:
            return [[(crops.line(), line_stretch())]]

        def more_lines() -> list[_Group]:
            # The first crop whole, when its text rows were read first.
            whole = [crops.first()] if crops.line() is not crops.first() else []
            rest = [[(c, stretch)] for c in [*whole, *crops.all()[1:]]]
            return rest + [[(c, line_stretch())] for c in _inverted([crops.line()])]

        def first_split() -> list[_Group]:
            return self._splits([crops.first()] if most else [])

        def other_splits() -> list[_Group]:
            return self._splits(crops.all()[1:most])

        if not crops.raw:
            return []
        if square:
            return [lambda: one_line() + first_split(), lambda: more_lines() + other_splits()]
        return [one_line, more_lines, first_split, other_splits]

    def _square(self, first: Image) -> bool:
        """Whether the plate's first crop is about as tall as wide (see ``square_aspect``),
        or narrow enough for two lines with a clear gap between them (``gap_quiet``)."""
        aspect = first.shape[1] / first.shape[0]
        if aspect < self.config.square_aspect:
            return True
        if aspect >= self.config.two_line_aspect or self.config.gap_quiet <= 0:
            return False
        return has_line_gap(first, self.config.gap_quiet)

    def _gapless(self, first: Image) -> bool:
        """Whether a plate that :meth:`_square` turned down was narrow enough for two lines:
        then its row profile showed no gap between lines."""
        aspect = first.shape[1] / first.shape[0]
        return self.config.gap_quiet > 0 and aspect < self.config.two_line_aspect

    def _splits(self, crops: list[Image]) -> list[list[tuple[Image, float]]]:
        """Two-line hypotheses of the squarish ``crops``: top and bottom at each split row."""
        pairs = []
        for crop in crops:
            height = crop.shape[0]
            if crop.shape[1] / height >= self.config.two_line_aspect:
                continue
            # Each line reaches a little past the split: a row a little off cuts no stroke.
            reach = round(self.config.split_overlap * height)
            for split in line_splits(crop):
                top, bottom = crop[: min(height, split + reach)], crop[max(0, split - reach) :]
                pairs.append([(top, 1.0), (bottom, 1.0)])
        return pairs

    def _settled(self, read: TextRead | None) -> bool:
        return (
            read is not None
            and read.valid
            and read.precise
            and read.confidence >= self.config.settle_confidence
        )

    def _decode(
        self,
        plates: list[list[list[tuple[Image, float]]]],
        formats: PlateFormats,
        aspects: Sequence[float | None],
    ) -> list[list[TextRead | None]]:
        """Per plate, one candidate per group of line images (top line first), decoded for
        the plate's shape (``aspects``, its first crop's width / height); every line of
        every plate recognised in one batch."""
        jobs = [job for groups in plates for group in groups for job in group]
        if not jobs:
            return [[] for _ in plates]
        lines = self.log_probs(jobs)
        decoded: list[list[TextRead | None]] = []
        at = 0
        for groups, aspect in zip(plates, aspects, strict=True):
            found: list[TextRead | None] = []
            for group in groups:
                found.append(
                    decode_plate(
                        lines[at : at + len(group)], self.alphabet.charset, formats, aspect
                    )
                )
                at += len(group)
            decoded.append(found)
        return decoded

    def log_probs(self, lines: Sequence[tuple[Image, float]]) -> list[np.ndarray]:
        """Per-step plate-character log-probabilities of each (image, horizontal stretch)
        read as one line of text, in one batch."""
        tensors = [_to_tensor(image, stretch, self.config.pad_width) for image, stretch in lines]
        # Batch widths in steps of WIDTH_STEP: few input shapes, so a runtime that prepares
        # each new shape once (OpenVINO) meets few new ones.
        width = -(-max(t.shape[2] for t in tensors) // WIDTH_STEP) * WIDTH_STEP
        batch = np.zeros((len(tensors), 3, REC_HEIGHT, width), np.float32)
        for row, tensor in enumerate(tensors):
            batch[row, :, :, : tensor.shape[2]] = tensor
        (output,) = self.session.run(None, {self.input_name: batch})
        steps = [_steps(t.shape[2], width, output.shape[1]) for t in tensors]
        return [
            self.alphabet.plate_log_probs(sequence[:n])
            for sequence, n in zip(output, steps, strict=True)
        ]


#: One reading's line images (top line first), each with its horizontal stretch.
_Group = list[tuple[Image, float]]


class _BandCut:
    """A plate's crops, each cut of its country band when first asked for, and the first
    one's text rows (:meth:`line`)."""

    def __init__(self, raw: list[Image], config: PpOcr) -> None:
        self.raw = raw
        self.config = config
        self._cut: list[Image | None] = [None] * len(raw)
        self._line: Image | None = None

    def _at(self, index: int) -> Image:
        cut = self._cut[index]
        if cut is None:
            cut = self._cut[index] = cut_country_band(self.raw[index])
        return cut

    def first(self) -> Image:
        return self._at(0)

    def line(self) -> Image:
        """The first crop cut to its text rows (:func:`text_rows`) when the plate is
        narrower than ``rows_aspect`` (US-shaped: its characters fill half its height);
        else, or when the rows cannot be told, the first crop itself."""
        if self._line is None:
            first = self.first()
            rows = None
            if first.shape[1] < self.config.rows_aspect * first.shape[0]:
                rows = text_rows(first)
            self._line = first if rows is None else first[rows[0] : rows[1]]
        return self._line

    def all(self) -> list[Image]:
        return [self._at(i) for i in range(len(self.raw))]


def whole_plates(
    candidates: list[TextRead], settled: Callable[[TextRead], bool], square: bool = False
) -> list[TextRead]:
    """The candidates less the one-line readings that a settled two-line reading outranks:
    those it holds whole, or but for one character (``3470`` when ``97J`` over ``3470`` was
    read too: one line of a two-line plate; see :func:`_part_of`), and those that did not
    settle (a one-line reading of a two-line plate mixes both lines; read from several crops,
    it would outvote the two-line one).
    On a ``square`` plate (about as tall as wide: a one-line reading of it is most often
    one of its lines) with no settled reading, a two-line reading that fits a precise layout
    outranks the one-line readings it holds whole, however confident they are, and those
    that fit no precise layout (``4175`` beside ``93KF`` over ``4173``)."""
    two_line = [c.text for c in candidates if c.lines == 2 and settled(c)]
    if not two_line:
        if not square or any(settled(c) for c in candidates):
            return candidates
        precise = [c.text for c in candidates if c.lines == 2 and c.valid and c.precise]
        if not precise:
            return candidates
        return [
            c
            for c in candidates
            if c.lines != 1 or (c.precise and not any(_part_of(c.text, text) for text in precise))
        ]
    return [
        c
        for c in candidates
        if c.lines != 1 or (settled(c) and not any(_part_of(c.text, text) for text in two_line))
    ]


def _part_of(line: str, plate: str) -> bool:
    """Whether ``line`` is a shorter reading of part of ``plate``, one character aside (the
    bottom line ``L7831`` of ``59S2`` over ``27831``, its open 2 read L)."""
    if len(line) >= len(plate):
        return False
    return any(
        sum(a != b for a, b in zip(line, plate[start:], strict=False)) <= 1
        for start in range(len(plate) - len(line) + 1)
    )


def _aspect(crops: list[Image]) -> float | None:
    """The width / height of a plate's first crop (its detector box with a small margin), as
    the decoder weighs layouts by plate shape; ``None`` without crops."""
    return crops[0].shape[1] / crops[0].shape[0] if crops else None


def _inverted(crops: list[Image]) -> list[Image]:
    """The first crop with its tones inverted, when it looks like light text on a dark plate
    (old Argentine, some Asian and US plates): the recognizer learnt dark text on light."""
    if not crops:
        return []
    first = crops[0]
    middle = first[first.shape[0] // 4 : first.shape[0] - first.shape[0] // 4]
    return [255 - first] if float(np.median(middle)) < DARK_PLATE else []


def _steps(width: int, batch_width: int, batch_steps: int) -> int:
    """The output steps that cover a line's own width (the rest is padding of the batch)."""
    return max(1, min(batch_steps, int(np.ceil(batch_steps * width / batch_width))))


def _to_tensor(crop: Image, stretch: float = 1.0, pad_width: int = REC_MIN_WIDTH) -> np.ndarray:
    """A BGR crop resized to the recognition height (width times ``stretch``), in [-1, 1], CHW,
    padded on the right to at least ``pad_width``."""
    import cv2

    height, width = crop.shape[:2]
    scaled = np.ceil(REC_HEIGHT * stretch * width / max(height, 1))
    new_width = int(np.clip(scaled, 8, REC_MAX_WIDTH))
    shrinking = height > REC_HEIGHT
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    resized = cv2.resize(crop, (new_width, REC_HEIGHT), interpolation=interpolation)
    tensor = resized.astype(np.float32).transpose(2, 0, 1) / 255.0
    padded = np.zeros((3, REC_HEIGHT, max(new_width, pad_width)), np.float32)
    padded[:, :, :new_width] = (tensor - 0.5) / 0.5
    return padded
