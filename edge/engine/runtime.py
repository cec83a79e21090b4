"""ONNX Runtime sessions with the fastest execution provider this machine has."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.manifest import alpr_home

if TYPE_CHECKING:
    import onnxruntime

logger = logging.getLogger(__name__)

#: Tried in this order; the CPU provider is always last and always present.
PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def provider_options(name: str) -> dict[str, Any]:
    """Options of one provider: TensorRT builds FP16 engines, cached beside the models."""
    if name != "TensorrtExecutionProvider":
        return {}
    return {
        "trt_fp16_enable": True,
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": str(alpr_home() / "tensorrt"),
    }


def choose_providers(
    available: list[str], allow_gpu: bool = True
) -> list[tuple[str, dict[str, Any]]]:
    """The preferred providers that ``available`` offers, CPU always included and last."""
    chosen = [
        (name, provider_options(name))
        for name in PREFERRED_PROVIDERS
        if name in available and (allow_gpu or name == "CPUExecutionProvider")
    ]
    if not any(name == "CPUExecutionProvider" for name, _ in chosen):
        chosen.append(("CPUExecutionProvider", {}))
    return chosen


def open_session(
    model: Path | bytes, threads: int = 0, allow_gpu: bool = True, name: str = ""
) -> onnxruntime.InferenceSession:
    """Load ``model`` (a file, or a serialized graph called ``name`` in messages) with the
    best providers, falling back to CPU if a GPU provider fails.

    ``threads`` is the intra-op thread count; 0 lets ONNX Runtime choose.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle threads sleep rather than spin: cameras, decoders and other processes share the
    # cores, and spinning threads burn the time they need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    providers = choose_providers(ort.get_available_providers(), allow_gpu)
    source = model if isinstance(model, bytes) else str(model)
    name = name or (model.name if isinstance(model, Path) else "model")
    try:
        return ort.InferenceSession(source, options, providers=providers)
    except Exception as exc:
        if [name for name, _ in providers] == ["CPUExecutionProvider"]:
            raise
        logger.warning("GPU providers failed for %s (%s); using the CPU", name, exc)
        return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
