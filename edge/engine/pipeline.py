"""The engine: vehicles -> plates (inside vehicles, or in the frame) -> OCR -> formats."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from edge.engine import mosaic
from edge.engine.colour import vehicle_colour
from edge.engine.consensus import consensus
from edge.engine.detections import Box, Detection, Detections
from edge.engine.geometry import Image, crop, overlap, pad_box
from edge.engine.ocr import PlateReader, TextRead
from edge.engine.plates import PlateLocator
from edge.engine.vehicles import VehicleDetector
from edge.formats import PlateFormats

#: Where the engine looks for plates (see ``YoloPlates.search``).
SEARCHES = ("frame", "auto", "vehicles")
#: Fewest characters of a read of a plate found only by the search inside a vehicle.
SECOND_LOOK_CHARS = 4
#: Vehicles searched again per detector run in the 'auto' search (a 2x2 mosaic).
MOSAIC_CELLS = 4
#: A vehicle longer than this share of the frame's longer side is searched alone in the
#: 'auto' search: a mosaic's cell (half the detector's input) would show it smaller than
#: the whole frame did. Alone, its crop fills the detector's input.
MOSAIC_LARGEST = 0.5
#: Margin added around a vehicle before searching it for plates (fraction of its size).
VEHICLE_MARGIN = 0.05
#: Margins (fraction of width, height) around a located plate for OCR. Detectors box plates
#: tightly and cut edge characters; wide margins bring in stickers and country bands. Each
#: margin gives candidate reads; they vote (see consensus) and the format check arbitrates.
#: The first is the reader's first try (see PpOcrReader.read_many): a tight box cuts edge
#: characters more often than a padded one, and a reading of a cut plate often settles
#: (``577PRO`` of ``B 577 PRO``, ``F14UPS`` of ``IF 14 UPS``). 6% of the width on each side
#: for the first and 8% for the wide one read 4 more of 352 real plates than 2% and 4%
#: (local sets, see tests/data/local-sets; each set the same or better).
PLATE_MARGINS = ((0.06, 0.05), (0.0, 0.0), (0.08, 0.10))
#: A plate belongs to a vehicle whose box holds this much of the plate's box.
OWNER_OVERLAP = 0.8
#: Plate boxes on one row closer than this many times their height are one plate's words.
WORD_GAP = 0.8
#: Such boxes may also overlap, by up to this share of the narrower one's width (``KCT7``
#: and ``708`` of ``KCT 708``; ``AD741T`` and ``41TI`` of ``AD 741 TI``, 0.51). Boxes
#: that overlap much more were dropped as duplicates before (``DUPLICATE_OVERLAP``).
WORD_OVERLAP = 0.75
#: Plates whose boxes overlap this much of the smaller one are the same plate.
DUPLICATE_OVERLAP = 0.6
#: A larger box around a plate's box replaces it if it scores at least this fraction of it.
PART_SCORE = 0.5
#: A frame with no vehicle in which nothing (or one word) was found is read whole as one
#: plate when its width over its height lies in this range (a one-line plate is 2-5.5 times
#: as wide as high, a two-line one 1-2 times) and it is at most :data:`PLATE_PHOTO_HEIGHT`
#: pixels high.
PLATE_SHAPED = (1.0, 6.0)
PLATE_PHOTO_HEIGHT = 400
#: A plate-shaped frame is also read whole when the plates found in it span less than this
#: share of its width and are at least ``WORD_OF_PHOTO`` of its height: words of its plate.
PART_OF_PHOTO = 0.6
WORD_OF_PHOTO = 0.4
#: A candidate that fits only a catch-all layout (no precise one: the US vanity plates'
#: "2-8 letters or digits") votes with this share of its confidence. Fitting one says
#: little, and such readings can outvote the precise readings of other crops (1NBFOL2 of
#: three whole crops against 1NBF042, California's layout, of its text rows and splits).
VAGUE_VOTE = 0.5
#: The box score given to a frame read whole as a plate (no detector vouched for it).
WHOLE_FRAME_SCORE = 0.5


@dataclass(frozen=True)
class Vehicle:
    """The vehicle a plate belongs to."""

    type: str
    box: Box
    #: Named body colour (see edge.engine.colour); ``None`` when it could not be told.
    colour: str | None = None


@dataclass(frozen=True)
class PlateRead:
    """One plate read in a frame."""

    text: str
    confidence: float
    box: Box
    vehicle: Vehicle | None
    valid: bool
    format: str | None
    lines: int
    #: The locator's score for the plate's box (``confidence`` is the text's times it).
    box_score: float = 1.0
    #: The plate's region (lower case: ``ro``, ``us-ca``), when the enabled layouts that
    #: its text fits are one region's or one country's; ``None`` when several countries'
    #: fit (see ``PlateFormats.region_of``). ``format`` names one layout the text fits.
    region: str | None = None


class Located(NamedTuple):
    """A plate found in a frame: its box, its vehicle, and whether only the search inside
    that vehicle found it (such finds must read like a plate to be kept)."""

    plate: Detection
    vehicle: Vehicle | None
    second_look: bool


@dataclass
class FrameResult:
    """The plates read in a frame, and the time each stage took (milliseconds)."""

    plates: list[PlateRead]
    timings: dict[str, float] = field(default_factory=dict)


class _Stopwatch:
    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)

    def add(self, stage: str, started: float) -> None:
        self.totals[stage] += (time.perf_counter() - started) * 1000.0


class Engine:
    """Reads plates in BGR frames with one backend per stage."""

    def __init__(
        self,
        vehicles: VehicleDetector,
        plates: PlateLocator,
        reader: PlateReader,
        formats: PlateFormats,
        search: str = "frame",
        vehicle_searches: int = 4,
    ) -> None:
        if search not in SEARCHES:
            raise ValueError(f"search must be one of {', '.join(SEARCHES)}, got {search!r}")
        if vehicle_searches < 0:
            raise ValueError(f"vehicle_searches must be >= 0, got {vehicle_searches}")
        self.search = search
        self.vehicle_searches = vehicle_searches
        self.vehicles = vehicles
        self.plates = plates
        self.reader = reader
        self.formats = formats

    def read(self, frame: Image, formats: PlateFormats | None = None) -> FrameResult:
        """Every legible plate in ``frame``, validated against ``formats`` (or the default)."""
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame must be a BGR image of shape (H, W, 3), got {frame.shape}")
        watch = _Stopwatch()
        started = time.perf_counter()
        vehicles = self.vehicles.detect(frame)
        watch.add("vehicles", started)
        started = time.perf_counter()
        located = self._locate(frame, vehicles)
        whole_photo = not vehicles and _plate_shaped(frame) and _covers_little(located, frame)
        if whole_photo:
            # A photo of a plate alone (a crop, a scan): the detector, which learnt plates
            # in scenes, rarely boxes a plate that fills the image, or boxes one word of it
            # (`451` of an old Argentine `PLJ 451`). Read it whole too, kept only as a
            # plate-like read, as the second look's finds are.
            height, width = frame.shape[:2]
            whole = Detection((0.0, 0.0, float(width), float(height)), WHOLE_FRAME_SCORE, "plate")
            located = [*located, Located(whole, None, second_look=True)]
        watch.add("plates", started)
        started = time.perf_counter()
        reads = self._read_all(frame, located, formats or self.formats)
        if whole_photo and reads[-1] is not None:
            # The photo holds one plate: read whole, it replaces the words found in it.
            reads = [reads[-1]]
        watch.add("ocr", started)
        started = time.perf_counter()
        plates = _coloured(frame, [r for r in reads if r is not None])
        watch.add("plates", started)
        watch.totals["frame"] = sum(watch.totals.values())
        return FrameResult(plates, dict(watch.totals))

    def _locate(self, frame: Image, vehicles: Detections) -> list[Located]:
        """Every plate, its owner, and whether only the search inside a vehicle found it."""
        # Colours are named later, for the vehicles whose plates are read (see _coloured).
        owners = [Vehicle(v.label, _rounded(v.box)) for v in vehicles]
        found: list[tuple[Detection, Vehicle | None]] = []
        if self.search == "vehicles":
            for owner in owners:
                found += self._locate_in(frame, owner)
        # The whole frame also holds close-ups and plates of vehicles the detector missed.
        found += [(p, None) for p in self.plates.locate(frame)]
        second_looks: list[tuple[Detection, Vehicle | None]] = []
        if self.search == "auto":
            # A plate too small to see in the whole frame grows when its vehicle's crop is
            # scaled up to the model's input: search the vehicles that got no plate.
            empty = [o for o in owners if not any(_holds(o, p) for p, _ in found)]
            second_looks = [
                (plate, owner)
                for plate, owner in self._locate_in_mosaics(frame, empty[: self.vehicle_searches])
                # The crop's margin shows what is around the vehicle: a plate there is not
                # this vehicle's, and the whole frame did not see one there.
                if owner is not None and _holds(owner, plate)
            ]
            found += second_looks
        # Overlapping vehicle boxes (a car also boxed as a truck) hold the same plate: the
        # smallest one around it owns it, whichever crop it was found in.
        plates = _join_words([p for p, _ in _drop_duplicates(found)])
        return [Located(p, _owner(p, owners), any(p is s for s, _ in second_looks)) for p in plates]

    def _locate_in(self, frame: Image, owner: Vehicle) -> list[tuple[Detection, Vehicle | None]]:
        x1, y1, x2, y2 = pad_box(owner.box, VEHICLE_MARGIN, VEHICLE_MARGIN)
        x1, y1 = max(0.0, x1), max(0.0, y1)
        region = crop(frame, (x1, y1, x2, y2))
        return [(p, owner) for p in self.plates.locate(region).shifted(x1, y1)]

    def _locate_in_mosaics(
        self, frame: Image, owners: list[Vehicle]
    ) -> list[tuple[Detection, Vehicle | None]]:
        """Plates in the vehicles' crops, four vehicles to a detector run (see mosaic); a
        vehicle too large for a mosaic's cell to show it larger than the frame did is
        searched alone (:data:`MOSAIC_LARGEST`)."""
        found: list[tuple[Detection, Vehicle | None]] = []
        largest = MOSAIC_LARGEST * max(frame.shape[:2])
        packed = []
        for owner in owners:
            if max(_size(owner.box)) > largest:
                found += self._locate_in(frame, owner)
            else:
                packed.append(owner)
        for start in range(0, len(packed), MOSAIC_CELLS):
            group = packed[start : start + MOSAIC_CELLS]
            regions = [pad_box(o.box, VEHICLE_MARGIN, VEHICLE_MARGIN) for o in group]
            image, cells = mosaic.pack(frame, regions, compact=self.plates.any_size)
            for index, plate in mosaic.unpack(list(self.plates.locate(image)), cells):
                found.append((plate, group[index]))
        return found

    def read_at(
        self,
        image: Image,
        box: Box,
        score: float,
        formats: PlateFormats | None = None,
        margins: Sequence[tuple[float, float]] = PLATE_MARGINS,
    ) -> PlateRead | None:
        """The plate at ``box`` in ``image`` (found earlier, e.g. in a previous frame of a
        track, with the locator's ``score``), read without locating it again."""
        located = Located(Detection(box, score, "plate"), None, second_look=False)
        return self._read_all(image, [located], formats or self.formats, margins)[0]

    def _read_all(
        self,
        frame: Image,
        located: list[Located],
        formats: PlateFormats,
        margins: Sequence[tuple[float, float]] = PLATE_MARGINS,
    ) -> list[PlateRead | None]:
        """Every located plate read, their crops recognised together."""
        crops = [[crop(frame, pad_box(p.plate.box, mx, my)) for mx, my in margins] for p in located]
        candidates = self.reader.read_many(crops, formats)
        reads = []
        for found, (plate, vehicle, second_look) in zip(candidates, located, strict=True):
            if second_look:
                # Found only by the search inside a vehicle, where stickers, dealer frames
                # and badges also look like plates: kept only as a plate-like read.
                found = [c for c in found if c.valid and len(c.text) >= SECOND_LOOK_CHARS]
            reads.append(_plate_read(found, plate, vehicle, formats) if found else None)
        return reads


def _plate_read(
    candidates: list[TextRead], plate: Detection, vehicle: Vehicle | None, formats: PlateFormats
) -> PlateRead:
    """The plate's read from its crops' candidate texts (at least one)."""
    text = _choose(candidates)
    return PlateRead(
        text=text.text,
        confidence=round(text.confidence * plate.score, 4),
        box=_rounded(plate.box),
        vehicle=vehicle,
        valid=text.valid,
        format=text.format,
        lines=text.lines,
        box_score=round(plate.score, 4),
        region=formats.region_of(text.text) if text.valid else None,
    )


def _coloured(frame: Image, plates: list[PlateRead]) -> list[PlateRead]:
    """The plates with their vehicles' body colours named: only vehicles that own a read
    plate are looked at (a street frame holds many more vehicles than legible plates)."""
    colours: dict[Box, str | None] = {}
    named = []
    for plate in plates:
        if plate.vehicle is not None:
            box = plate.vehicle.box
            if box not in colours:
                colours[box] = vehicle_colour(frame, box)
            plate = replace(plate, vehicle=replace(plate.vehicle, colour=colours[box]))
        named.append(plate)
    return named


def _covers_little(located: list[Located], frame: Image) -> bool:
    """Whether nothing was found, or only words of a plate filling the frame: boxes as
    tall as :data:`WORD_OF_PHOTO` of the frame that together span less than
    :data:`PART_OF_PHOTO` of its width."""
    if not located:
        return True
    height, width = frame.shape[:2]
    boxes = [p.plate.box for p in located]
    if any(y2 - y1 < WORD_OF_PHOTO * height for _, y1, _, y2 in boxes):
        return False
    return max(b[2] for b in boxes) - min(b[0] for b in boxes) < PART_OF_PHOTO * width


def _plate_shaped(frame: Image) -> bool:
    """Whether ``frame`` may be a photo of a plate alone (see :data:`PLATE_SHAPED`)."""
    height, width = frame.shape[:2]
    low, high = PLATE_SHAPED
    return 0 < height <= PLATE_PHOTO_HEIGHT and low <= width / height <= high


def _size(box: Box) -> tuple[float, float]:
    """A box's width and height."""
    return box[2] - box[0], box[3] - box[1]


def _rounded(box: Box) -> Box:
    """A box to a tenth of a pixel: finer is noise."""
    x1, y1, x2, y2 = (round(v, 1) for v in box)
    return x1, y1, x2, y2


def _holds(vehicle: Vehicle, plate: Detection) -> bool:
    return overlap(plate.box, vehicle.box) >= OWNER_OVERLAP


def _owner(plate: Detection, vehicles: list[Vehicle]) -> Vehicle | None:
    """The vehicle holding the plate: a two-wheeler around it first (a scooter seen through a
    car's box is still the scooter), then the smallest one around it (nearest, when nested)."""
    holding = [v for v in vehicles if _holds(v, plate)]
    return min(
        holding,
        key=lambda v: (v.type != "motorcycle", (v.box[2] - v.box[0]) * (v.box[3] - v.box[1])),
        default=None,
    )


def _choose(candidates: list[TextRead]) -> TextRead:
    """The vote of the reads that fit a layout (of all reads when none does).

    Each candidate was already decoded against the layouts; the crops' candidates then vote
    (see consensus; one that fits only a catch-all layout with :data:`VAGUE_VOTE` of its
    confidence), and the voted text takes the validity, layout and line count of the
    best candidate that reads it (or, when the vote mixes them, of the best of its length).
    """
    pool = [c for c in candidates if c.valid] or candidates
    voted = consensus([(c.text, c.confidence * (1.0 if c.precise else VAGUE_VOTE)) for c in pool])
    if voted is None:
        raise ValueError("candidates must hold text; the reader drops empty reads")
    text = voted[0]
    # The text's confidence is its length's reads' own mean, unweighted.
    confidence = float(np.mean([c.confidence for c in pool if len(c.text) == len(text)]))
    same = [c for c in pool if c.text == text] or [c for c in pool if len(c.text) == len(text)]
    best = max(same, key=lambda c: c.confidence)
    if best.text == text:
        return TextRead(text, confidence, best.lines, best.valid, best.format)
    return TextRead(text, confidence, best.lines, False, None)


def _drop_duplicates(
    found: list[tuple[Detection, Vehicle | None]],
) -> list[tuple[Detection, Vehicle | None]]:
    """One plate per place: plates found inside a vehicle first, then by score.

    A box mostly inside another counts as the same plate, so overlap is measured against
    the smaller box. Detectors sometimes also box one part of a plate (its first word): of
    two such boxes with comparable scores, the larger one is kept.
    """
    ranked = sorted(found, key=lambda pv: (pv[1] is not None, pv[0].score), reverse=True)
    kept: list[tuple[Detection, Vehicle | None]] = []
    for plate, vehicle in ranked:
        clash = next(
            (
                i
                for i, (other, _) in enumerate(kept)
                if overlap(plate.box, other.box) >= DUPLICATE_OVERLAP
            ),
            None,
        )
        if clash is None:
            kept.append((plate, vehicle))
        elif (
            _area(plate) > _area(kept[clash][0])
            and plate.score >= PART_SCORE * kept[clash][0].score
        ):
            kept[clash] = (plate, vehicle)
    return kept


def _join_words(plates: list[Detection]) -> list[Detection]:
    """Plates whose boxes sit side by side on one row, as tall as each other and closer than
    :data:`WORD_GAP` of their height, are the words of one plate boxed apart (``LBR`` and
    ``784``): they become one box, scored as the better of them."""
    joined = sorted(plates, key=lambda p: p.box[0])
    merged = True
    while merged:
        merged = False
        for i in range(len(joined) - 1):
            a, b = joined[i], joined[i + 1]
            if _words_of_one_plate(a.box, b.box):
                box = (
                    min(a.box[0], b.box[0]),
                    min(a.box[1], b.box[1]),
                    max(a.box[2], b.box[2]),
                    max(a.box[3], b.box[3]),
                )
                joined[i : i + 2] = [Detection(box, max(a.score, b.score), a.label)]
                merged = True
                break
    return joined


def _words_of_one_plate(left: Box, right: Box) -> bool:
    height_l, height_r = left[3] - left[1], right[3] - right[1]
    if min(height_l, height_r) <= 0 or not 0.75 <= height_l / height_r <= 1.33:
        return False
    shared = min(left[3], right[3]) - max(left[1], right[1])
    gap = right[0] - left[2]
    narrower = min(left[2] - left[0], right[2] - right[0])
    return (
        shared >= 0.7 * min(height_l, height_r)
        and -WORD_OVERLAP * narrower <= gap <= WORD_GAP * height_l
    )


def _area(detection: Detection) -> float:
    return detection.width * detection.height
