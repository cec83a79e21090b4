"""What ``alpr read`` does: read plates in image files, one result per file."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.engine.pipeline import Engine, PlateRead
    from edge.formats import PlateFormats


@dataclass
class FileResult:
    """The plates read in one file, or why it could not be read."""

    file: str
    plates: list[PlateRead] = field(default_factory=list)
    ms: float = 0.0
    error: str | None = None

    def as_json(self) -> str:
        """One JSON line: ``file``, ``plates`` [text, confidence, box, vehicle...], ``ms``."""
        body: dict[str, Any] = {
            "file": self.file,
            "plates": [_plate_json(p) for p in self.plates],
            "ms": round(self.ms, 1),
        }
        if self.error is not None:
            body["error"] = self.error
        return json.dumps(body)

    def as_text(self) -> str:
        """A line per plate for people: ``FILE: TEXT  confidence  vehicle``."""
        if self.error is not None:
            return f"{self.file}: error: {self.error}"
        if not self.plates:
            return f"{self.file}: no plate found ({self.ms:.0f} ms)"
        lines = []
        for plate in self.plates:
            vehicle = _vehicle_words(plate)
            flag = "" if plate.valid else "  (fits no plate format)"
            lines.append(f"{self.file}: {plate.text}  {plate.confidence:.2f}  {vehicle}{flag}")
        return "\n".join(lines)


def _vehicle_words(plate: PlateRead) -> str:
    if plate.vehicle is None:
        return "no vehicle"
    colour = f"{plate.vehicle.colour} " if plate.vehicle.colour else ""
    return f"{colour}{plate.vehicle.type}"


def _plate_json(plate: PlateRead) -> dict[str, Any]:
    body = asdict(plate)
    del body["box_score"]  # inside ``confidence`` already; the JSON lines stay as they were
    body["box"] = list(plate.box)
    if plate.vehicle is not None:
        body["vehicle"] = {
            "type": plate.vehicle.type,
            "colour": plate.vehicle.colour,
            "box": list(plate.vehicle.box),
        }
    return body


def load_image(path: Path) -> Any:
    """The BGR pixels of an image file; ``ValueError`` saying why when it cannot be read."""
    import cv2
    import numpy as np

    if not path.exists():
        raise ValueError("no such file")
    if not path.is_file():
        raise ValueError("not a file")
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ValueError(
            "not a readable image (JPEG, PNG, WebP, BMP, TIFF...); videos are read by "
            "`alpr read` when their name ends in a video suffix (.mp4, .mkv, .avi, ...)"
        )
    return image


def read_files(
    engine: Engine, files: list[str], formats: PlateFormats | None = None
) -> Iterator[FileResult]:
    """Read each file in turn; a bad file gives an error result and never stops the rest."""
    for name in files:
        started = time.perf_counter()
        try:
            image = load_image(Path(name))
        except (ValueError, OSError) as exc:
            yield FileResult(name, error=str(exc), ms=_since(started))
            continue
        plates = engine.read(image, formats).plates
        yield FileResult(name, plates, _since(started))


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
