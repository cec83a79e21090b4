"""An ONNX model run by OpenVINO on the CPU, behind the calls the engine makes of an ONNX
Runtime session (``run``, ``get_inputs``, ``get_modelmeta``).

OpenVINO computes in bfloat16 on CPUs that do so natively (AMX, AVX-512 BF16): two to
three times ONNX Runtime's float32 speed for the engine's convolutional models, without
the calibration data an int8 model would need. ``precision="f32"`` keeps float32.
Elsewhere it runs float32. The engine measures both (``bench.read --baseline``).

One shared model may be called from several camera threads: each thread gets its own
inference request (OpenVINO's requests are not thread-safe; the compiled model is).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from edge.engine.runtime import PRECISIONS
from edge.manifest import alpr_home

logger = logging.getLogger(__name__)


@cache
def _core() -> Any:
    """OpenVINO's runtime, keeping compiled models in ``$ALPR_HOME/openvino-cache``: a later
    start loads them instead of compiling again (about a third of the engine's start-up CPU
    on this machine). A model that changed gets a new entry (the cache is keyed by content)."""
    import openvino

    core = openvino.Core()
    folder = alpr_home() / "openvino-cache"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        logger.warning("OpenVINO compiles every start: cannot create %s (%s)", folder, exc)
    else:
        core.set_property({"CACHE_DIR": str(folder)})
    return core


def available() -> bool:
    """Whether the OpenVINO runtime is installed."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


@cache
def native_bf16() -> bool:
    """Whether OpenVINO is installed and this CPU computes bfloat16 natively (AMX, AVX-512
    BF16), where OpenVINO's bfloat16 is two to three times its float32 speed."""
    if not available():
        return False
    return "BF16" in _core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


@dataclass
class OpenVinoSession:
    """A compiled model with ONNX Runtime's session calls."""

    model: Path | bytes
    threads: int = 0
    precision: str = "auto"
    name: str = ""
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        core = _core()
        graph = core.read_model(self.model if isinstance(self.model, bytes) else str(self.model))
        settings: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if self.threads:
            settings["INFERENCE_NUM_THREADS"] = self.threads
        if self.precision == "f32":
            settings["INFERENCE_PRECISION_HINT"] = "f32"
        self.compiled = core.compile_model(graph, "CPU", settings)
        self._inputs = [
            SimpleNamespace(
                name=port.get_any_name(),
                shape=[d.get_length() if d.is_static else None for d in port.get_partial_shape()],
            )
            for port in self.compiled.inputs
        ]
        self._metadata = _onnx_metadata(graph)

    @property
    def inference_precision(self) -> str:
        """The precision OpenVINO computes in on this CPU (``bf16``, ``f32`` ...)."""
        hint = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        return str(hint.get_type_name() if hasattr(hint, "get_type_name") else hint)

    def get_inputs(self) -> list[SimpleNamespace]:
        return self._inputs

    def get_modelmeta(self) -> SimpleNamespace:
        return SimpleNamespace(custom_metadata_map=self._metadata)

    def run(self, output_names: list[str] | None, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The model's outputs (all of them, in order; ``output_names`` must be ``None``)."""
        if output_names is not None:
            raise ValueError("only every output, in order, is supported (output_names=None)")
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        results = request.infer(feed)
        return [np.array(results[port], copy=True) for port in self.compiled.outputs]


def _onnx_metadata(graph: Any) -> dict[str, str]:
    """The ONNX file's metadata (e.g. a recognizer's character list), which OpenVINO's
    reader keeps under the model's ``framework`` run-time info."""
    if not graph.has_rt_info(["framework"]):
        return {}
    entries = graph.get_rt_info(["framework"]).astype(dict)
    return {str(key): value.astype(str) for key, value in entries.items()}
