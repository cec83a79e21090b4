"""The engine settings tests compare with recorded figures: the defaults with the manifest's
PP-OCRv6 recognizer pinned. The default engine reads the model registry's current
plate-ocr-ppocr where a machine has one promoted, so expectations recorded on PP-OCRv6 hold on
every machine (a fresh CI runner and a developer's with a promoted fine-tuned model) only with
it pinned."""

from __future__ import annotations

from pathlib import Path

from edge.config import EngineConfig, PpOcr

BASELINE = EngineConfig(ocr=PpOcr(registry=None))
#: BASELINE as a settings file, for the commands tests run (``alpr read --config``, bench).
BASELINE_FILE = Path(__file__).resolve().parents[1] / "data" / "engine-baseline.yaml"
