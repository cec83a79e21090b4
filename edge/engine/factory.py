"""Builds the engine's stages from the configuration and the model cache."""

from __future__ import annotations

import logging

from edge.config import EngineConfig, NoVehicles, SlotOcr, TextPlates, YoloPlates
from edge.engine.ocr import PlateReader, PpOcrReader
from edge.engine.openvino_session import native_bf16
from edge.engine.pipeline import Engine
from edge.engine.plates import PlateLocator, TextPlateLocator, YoloPlateLocator
from edge.engine.runtime import Backend
from edge.engine.slot_reader import SlotReader
from edge.engine.trained import ppocr_model, recognizer_model
from edge.engine.vehicles import NoVehicleDetector, VehicleDetector, YoloVehicleDetector
from edge.formats import PlateFormats
from edge.manifest import ModelStore

logger = logging.getLogger(__name__)


def build_engine(config: EngineConfig | None = None, store: ModelStore | None = None) -> Engine:
    """An engine with the configured backends, loading checksum-verified models."""
    config = config or EngineConfig()
    store = store or ModelStore()
    plates = _plates(config, store)
    return Engine(
        vehicles=_vehicles(config, store),
        plates=plates,
        reader=_reader(config, store),
        formats=PlateFormats(config.formats),
        search=plates.search,
        vehicle_searches=plates.vehicle_searches,
    )


def backend_of(config: EngineConfig, recognizer: bool = False) -> Backend:
    """How the configured engine's models run. Precision 'auto' computes in bfloat16 only
    where the CPU has AMX (``native_bf16``), 'bf16' and 'mixed' wherever OpenVINO can.
    The text recognizer keeps float32 with 'mixed', and with 'auto' on a CPU without AMX;
    with runtime 'auto' it then runs on ONNX Runtime, whose float32 is faster than
    OpenVINO's with the recognizer's changing input widths."""
    if recognizer and (
        config.precision == "mixed" or (config.precision == "auto" and not native_bf16())
    ):
        runtime = "onnxruntime" if config.runtime == "auto" else config.runtime
        return Backend(config.threads, config.allow_gpu, runtime, "f32")
    # 'mixed' is bfloat16 for the detectors, as 'bf16' is for every model.
    precision = "bf16" if config.precision == "mixed" else config.precision
    return Backend(config.threads, config.allow_gpu, config.runtime, precision)


def _reader(config: EngineConfig, store: ModelStore) -> PlateReader:
    ocr = config.ocr
    if isinstance(ocr, SlotOcr):
        model = recognizer_model(ocr)
        return SlotReader(model, ocr, backend_of(config, recognizer=True))
    return PpOcrReader(ppocr_model(ocr, store), ocr, backend_of(config, recognizer=True))


def _vehicles(config: EngineConfig, store: ModelStore) -> VehicleDetector:
    if isinstance(config.vehicles, NoVehicles):
        return NoVehicleDetector()
    model = store.verified(config.vehicles.model)
    return YoloVehicleDetector(model, config.vehicles, backend_of(config))


def _plates(config: EngineConfig, store: ModelStore) -> PlateLocator:
    """The configured plate locator; its ``search`` tells the engine where to look."""
    plates = config.plates
    if isinstance(plates, YoloPlates):
        if store.available(plates.model) or not plates.fallback_to_text:
            model = store.verified(plates.model)
            return YoloPlateLocator(model, plates, backend_of(config))
        logger.warning(
            "plate model %r is not in the cache (%s); falling back to text detection, which "
            "is slower and misses more plates: run `alpr models fetch` to export it",
            plates.model,
            store.root,
        )
        plates = TextPlates()
    return TextPlateLocator(store.verified(plates.model), plates, config.threads)
