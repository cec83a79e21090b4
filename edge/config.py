"""The engine's configuration: one pydantic tree, each stage's backend picked by ``type``.

A bad value fails at start with a message naming the field. Nothing here needs the ``edge``
extra, so commands can validate a configuration on any machine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

#: COCO class ids of the vehicles the COCO YOLOv8n model knows, and their names.
COCO_VEHICLES = {2: "car", 3: "motorcycle", 5: "bus", 7: "truck"}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: How a YOLOv8 detector takes its image (``input_shape``), and the two choices.
InputShape = Literal["fit", "square"]
INPUT_SHAPES = (
    "'fit': the image is letterboxed to its own aspect (long side 640, short side rounded up "
    "to 32; a 16:9 frame costs 60% of a square run, at the same scale); 'square': into "
    "640x640, as the model was exported"
)


class YoloVehicles(_Section):
    """Vehicle detection with the COCO YOLOv8n ONNX model."""

    input_shape: InputShape = Field(
        default="square",
        description=f"{INPUT_SHAPES}. Square by default: fit boxes the same vehicles, but "
        "YOLOv8n's car/truck call of small cars flips more often without the padding",
    )
    type: Literal["yolov8"] = "yolov8"
    model: str = Field(default="vehicles", description="Name of the model in the manifest")
    min_score: float = Field(default=0.3, ge=0.01, le=1.0, description="Lowest vehicle score kept")
    iou_threshold: float = Field(default=0.5, ge=0.05, le=1.0, description="NMS overlap threshold")
    min_size: int = Field(
        default=48, ge=1, le=4096, description="Vehicles narrower than this many pixels are ignored"
    )


class NoVehicles(_Section):
    """No vehicle stage: plates are searched in the whole frame."""

    type: Literal["none"] = "none"


class YoloPlates(_Section):
    """Plate localisation with the YOLOv8 plate detector exported from safelicensing."""

    input_shape: InputShape = Field(default="fit", description=INPUT_SHAPES)

    type: Literal["yolov8"] = "yolov8"
    model: str = Field(default="plates", description="Name of the model in the manifest")
    min_score: float = Field(default=0.25, ge=0.01, le=1.0, description="Lowest plate score kept")
    iou_threshold: float = Field(default=0.5, ge=0.05, le=1.0, description="NMS overlap threshold")
    search: Literal["frame", "auto", "vehicles"] = Field(
        default="auto",
        description="Where to look: the whole frame once ('frame', fastest); the frame, then "
        "each vehicle it found no plate in ('auto': small plates in wide frames, one more "
        "model run per such vehicle); or every vehicle crop and the frame ('vehicles')",
    )
    vehicle_searches: int = Field(
        default=4,
        ge=0,
        le=64,
        description="Most vehicles per frame searched again in 'auto' (surest vehicles first)",
    )
    white_balance: bool = Field(
        default=True,
        description="Scale each colour channel of the detector's input to its mean grey "
        "first: a camera's colour cast (a dashcam's magenta at night) hides plates from the "
        "detector. The recognizer reads the frame as it is",
    )
    fallback_to_text: bool = Field(
        default=True, description="Use text detection when the plate model is not in the cache"
    )


class TextPlates(_Section):
    """Plate localisation by PP-OCR text detection: slower, needs no plate model."""

    type: Literal["text"] = "text"
    model: str = Field(default="text_det", description="Name of the text detection model")
    min_score: float = Field(default=0.5, ge=0.01, le=1.0, description="Lowest text box score kept")
    search: Literal["frame", "vehicles"] = Field(
        default="vehicles", description="Search each vehicle crop and the frame, or only the frame"
    )
    min_aspect: float = Field(
        default=1.2,
        ge=0.1,
        le=20.0,
        description="Text boxes narrower than this width/height are ignored",
    )


class PpOcr(_Section):
    """Plate text recognition with the PP-OCR recognition model on the plate crop."""

    type: Literal["ppocr"] = "ppocr"
    model: str = Field(
        default="text_rec", description="Name of the recognition model in the manifest"
    )
    path: Path | None = Field(
        default=None,
        description="A PP-OCR recognizer fine-tuned on plates (`alpr train ocr --base ppocr`): "
        "its folder (model.onnx and model.json, checked by sha256); unset, the registry's "
        "current `registry` or else `model` of the manifest is read",
    )
    registry: str | None = Field(
        default="plate-ocr-ppocr",
        min_length=1,
        description="Name of a fine-tuned PP-OCR recognizer in the model registry: its version "
        "marked current is read, checked by sha256, and while none is (a fresh machine) the "
        "manifest's `model`. Default plate-ocr-ppocr, what `alpr train ocr --base ppocr` "
        "trains; null reads with the manifest's `model` always (the baseline)",
    )
    charset: str = Field(
        default="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        min_length=1,
        description="Characters a plate may hold; the decoder picks only among these",
    )
    min_score: float = Field(
        default=0.4, ge=0.0, le=1.0, description="Reads scored lower are dropped"
    )
    min_chars: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Reads with fewer characters are dropped (fragments of stickers and "
        "badges; lower it for sites with one- or two-character plates)",
    )
    max_chars: int = Field(
        default=11,
        ge=1,
        le=40,
        description="Reads with more characters are dropped: no shipped plate layout is "
        "longer (Irish and Indian plates reach 11), and such reads are dealer frames and "
        "slogans",
    )
    stretch: float = Field(
        default=1.5,
        ge=1.0,
        le=3.0,
        description="Horizontal stretch of one-line plate crops before recognition: plate "
        "fonts are narrower than the text PP-OCR was trained on (M reads as H)",
    )
    two_line_aspect: float = Field(
        default=2.6,
        ge=0.5,
        le=10.0,
        description="Plates with width/height below this are tried as two lines",
    )
    pad_width: int = Field(
        default=192,
        ge=8,
        le=1280,
        description="Recognition inputs narrower than this are padded to it; a batch is as "
        "wide as its widest line. PP-OCR's own inference pads to 320, but plate lines are "
        "100-230 pixels wide at height 48, and recognition time grows with the width; short "
        "lines (the top line of a two-line plate) read worse with much less padding",
    )
    square_aspect: float = Field(
        default=1.8,
        ge=0.5,
        le=10.0,
        description="Plates with width/height below this are read as two lines even when a "
        "one-line reading settled (it is often one line of a two-line plate), if a two-line "
        "layout is enabled; 0.5 turns that off. Below the 2:1 of US plates, whose crops "
        "would pay for the two-line reading for nothing",
    )
    gap_quiet: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="Plates narrower than two_line_aspect but not square whose row profile "
        "shows a gap between two text lines (its quietest middle row at most this share of "
        "the text rows' energy) are read as square ones are; 0 turns that off",
    )
    rows_aspect: float = Field(
        default=2.9,
        ge=0.0,
        le=10.0,
        description="Plates narrower than this (width / height; US plates are 2:1) are first "
        "read as the band of rows that holds their characters (lines.text_rows), without "
        "the state name, stickers and frame text above and below them; 0 turns that off",
    )
    settle_confidence: float = Field(
        default=0.9,
        ge=0.0,
        le=1.0,
        description="A one-line reading that fits a precise layout with at least this "
        "confidence is not tried as two lines (saves two recognitions per split)",
    )
    split_overlap: float = Field(
        default=0.0,
        ge=0.0,
        le=0.2,
        description="How far each line of a two-line split reaches past the split row, as a "
        "share of the plate's height, so that a split row a little off cuts no stroke away. "
        "0.02 read 1-2% more synthetic two-line plates (bench.synthetic), but left the small "
        "scooter plate of bench.read's 1080p frame unsettled: its other crops were read "
        "too, 30 ms more per frame; 0.03 and more read the scooter's SH as SN",
    )
    split_crops: int = Field(
        default=3,
        ge=0,
        le=3,
        description="How many of the plate's margin crops (tightest first) are also tried as "
        "two lines split at candidate rows (each costs two more recognitions)",
    )

    @model_validator(mode="after")
    def _chars_in_order(self) -> PpOcr:
        if self.min_chars > self.max_chars:
            raise ValueError(
                f"min_chars ({self.min_chars}) must not exceed max_chars ({self.max_chars})"
            )
        return self


class SlotOcr(_Section):
    """Plate text recognition with the project's own plate recognizer (``alpr train ocr``):
    the whole plate crop, one or two lines, read in one pass, one character per slot."""

    type: Literal["slots"] = "slots"
    path: Path | None = Field(
        default=None,
        description="A trained model's folder (model.onnx and model.json); unset, the "
        "model registry's current version of `model` is used",
    )
    model: str = Field(
        default="plate-ocr", min_length=1, description="Name of the recognizer in the registry"
    )
    crops: int = Field(
        default=2,
        ge=1,
        le=4,
        description="How many of the plate's margin crops (tightest first) are read; the "
        "most confident reading that fits a layout wins",
    )
    min_score: float = Field(
        default=0.4, ge=0.0, le=1.0, description="Reads scored lower are dropped"
    )
    min_chars: int = Field(default=3, ge=1, le=20, description="Shorter reads are dropped")


class Formats(_Section):
    """Plate formats: the layouts of the enabled regions steer decoding and flag odd reads.

    Layouts come from ``edge/layouts.yaml`` (one entry per country or layout, one- and
    two-line); ``regions`` adds or replaces a region's layouts in the same notation.
    Reads that fit no layout are kept and flagged, never dropped.
    """

    region: str = Field(
        default="any",
        description="Regions or groups whose layouts apply, comma-separated (e.g. 'eu', "
        "'de,nl', 'us'); 'any' enables every layout",
    )
    regions: dict[str, list[str | list[str]]] = Field(
        default_factory=dict,
        description="Extra layouts per region (replacing the shipped ones of that region): "
        "one string per one-line layout, a list of line strings per multi-line layout",
    )
    specificity: float = Field(
        default=0.3,
        ge=0.0,
        le=2.0,
        description="Preference for precise layouts over vague ones, per nat of the layout's "
        "size (0: only the recognizer's probabilities decide)",
    )
    max_bend: float = Field(
        default=6.0,
        ge=0.0,
        le=50.0,
        description="Most log-probability a layout may cost the recognizer's best reading "
        "and still be chosen; beyond it the raw reading is kept and flagged",
    )
    aspect_cost: float = Field(
        default=2.0,
        ge=0.0,
        le=20.0,
        description="Log-probability charged to a one-line layout whose region's plates have "
        "another shape than the plate's box (edge/layouts.yaml `aspects`: a 2:1 US plate "
        "read to a German layout); 0 turns the check off",
    )
    learn_region: bool = Field(
        default=True,
        description="Whether a camera whose region spans several countries learns the one "
        "most of its plates are from (edge/video/region.py) and charges the other "
        "countries' layouts `foreign_cost`: the format then settles look-alikes its way "
        "(IF14UPS, not Indonesia's F14UPS)",
    )
    foreign_cost: float = Field(
        default=4.0,
        ge=0.0,
        le=50.0,
        description="Log-probability charged to a layout of another country than the one a "
        "camera learnt (see learn_region): a foreign plate still reads to its own layout when "
        "that fits the recognizer's reading this much better; 0 turns it off",
    )

    @field_validator("regions")
    @classmethod
    def _layouts_parse(
        cls, regions: dict[str, list[str | list[str]]]
    ) -> dict[str, list[str | list[str]]]:
        from edge.layouts import build_book, shipped_words

        build_book(regions, {}, shipped_words())
        return regions

    @model_validator(mode="after")
    def _region_known(self) -> Formats:
        known = self.known_regions()
        for name in self.region_names():
            if name not in known:
                raise ValueError(
                    f"region {name!r} is not configured; known: {', '.join(sorted(known))}"
                )
        return self

    def region_names(self) -> list[str]:
        """The enabled region and group names."""
        from edge.layouts import split_regions

        return split_regions(self.region)

    def known_regions(self) -> set[str]:
        """Every region and group name a camera or ``--region`` may use."""
        from edge.layouts import shipped_book

        return {"any", *shipped_book().names(), *self.regions}


def _type_or(default: str) -> Callable[[Any], str]:
    """A section's backend: its ``type`` field, or ``default`` when the section leaves it out
    (``plates: {search: frame}`` means the default backend with that setting)."""

    def discriminate(value: Any) -> str:
        if isinstance(value, dict):
            return str(value.get("type", default))
        return str(getattr(value, "type", default))

    return discriminate


class EngineConfig(_Section):
    """The whole engine: one backend per stage plus runtime options."""

    vehicles: Annotated[
        Annotated[YoloVehicles, Tag("yolov8")] | Annotated[NoVehicles, Tag("none")],
        Discriminator(_type_or("yolov8")),
    ] = Field(default_factory=YoloVehicles, description="Vehicle detection backend")
    plates: Annotated[
        Annotated[YoloPlates, Tag("yolov8")] | Annotated[TextPlates, Tag("text")],
        Discriminator(_type_or("yolov8")),
    ] = Field(default_factory=YoloPlates, description="Plate localisation backend")
    ocr: Annotated[
        Annotated[PpOcr, Tag("ppocr")] | Annotated[SlotOcr, Tag("slots")],
        Discriminator(_type_or("ppocr")),
    ] = Field(default_factory=PpOcr, description="Plate text recognition backend")
    formats: Formats = Field(default_factory=Formats, description="Plate formats per region")
    threads: int = Field(
        default=0, ge=0, le=256, description="Threads per model; 0 lets the runtime choose"
    )
    allow_gpu: bool = Field(default=True, description="Try TensorRT and CUDA before the CPU")
    runtime: Literal["auto", "onnxruntime", "openvino"] = Field(
        default="auto",
        description="What runs the models: 'auto' takes ONNX Runtime where it has a GPU to "
        "use, else OpenVINO on the CPU when installed (the edge extra installs it; see "
        "precision for the text recognizer), else ONNX Runtime on the CPU",
    )
    precision: Literal["auto", "bf16", "mixed", "f32"] = Field(
        default="auto",
        description="OpenVINO's arithmetic on the CPU: 'auto' bfloat16 for every model on CPUs "
        "with AMX, two to three times float32's speed, and float32 elsewhere (the text "
        "recognizer then on ONNX Runtime when runtime is 'auto'): CPUs with only AVX-512 BF16 "
        "computed bfloat16 slower than float32 (298 against 197 ms a 1080p frame); 'bf16' "
        "bfloat16 wherever the CPU computes it at all, the recognizer on OpenVINO too; 'mixed' "
        "bfloat16 for the detectors while the text recognizer keeps float32 (on ONNX Runtime "
        "when runtime is 'auto'), the default before 2026-12; 'f32' float32 everywhere",
    )


def load_engine_config(path: str | Path | None) -> EngineConfig:
    """The engine settings in a YAML file, or the defaults when ``path`` is ``None``."""
    if path is None:
        return EngineConfig()
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return EngineConfig.model_validate(data)
