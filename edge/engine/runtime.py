"""Model sessions with the fastest runtime this machine has: ONNX Runtime with TensorRT or
CUDA where a GPU is, else OpenVINO on the CPU when it is installed (bfloat16 where the CPU
has AMX, see ``openvino_session``), else ONNX Runtime on the CPU."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.manifest import alpr_home

if TYPE_CHECKING:
    import onnxruntime

    from edge.engine.openvino_session import OpenVinoSession

logger = logging.getLogger(__name__)

#: Which runtime runs the models ('auto': see the module's docstring).
RUNTIMES = ("auto", "onnxruntime", "openvino")
#: 'auto': OpenVINO computes in bfloat16 where the CPU has AMX, else float32; 'bf16' where
#: the CPU computes bfloat16 at all; 'f32' keeps float32 (see ``openvino_session``).
PRECISIONS = ("auto", "bf16", "f32")
#: ONNX Runtime's GPU providers.
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


@dataclass(frozen=True)
class Backend:
    """How the engine's models run: threads per model (0: the runtime's choice), whether a
    GPU may be used, the runtime and its precision."""

    threads: int = 0
    allow_gpu: bool = True
    runtime: str = "auto"
    precision: str = "auto"

    def __post_init__(self) -> None:
        if self.runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {RUNTIMES}, got {self.runtime!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.threads < 0:
            raise ValueError(f"threads must be >= 0, got {self.threads}")


def choose_runtime(backend: Backend, gpu_providers: list[str], openvino: bool) -> str:
    """The runtime ``backend`` asks for, 'auto' resolved: ONNX Runtime when it may use a GPU
    it has, else OpenVINO when installed, else ONNX Runtime."""
    if backend.runtime != "auto":
        return backend.runtime
    if backend.allow_gpu and any(p in GPU_PROVIDERS for p in gpu_providers):
        return "onnxruntime"
    return "openvino" if openvino else "onnxruntime"


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
    model: Path | bytes, backend: Backend | None = None, name: str = "", per_shape: bool = False
) -> onnxruntime.InferenceSession | OpenVinoSession:
    """Load ``model`` (a file, or a serialized graph called ``name`` in messages) with the
    runtime ``backend`` chooses (see :func:`choose_runtime`). ``per_shape``: on OpenVINO, a
    graph with free input sizes is compiled for each input shape it meets (see
    ``openvino_session``); ONNX Runtime takes any shape as it comes."""
    import onnxruntime as ort

    from edge.engine import openvino_session

    backend = backend or Backend()
    name = name or (model.name if isinstance(model, Path) else "model")
    runtime = choose_runtime(backend, ort.get_available_providers(), openvino_session.available())
    if runtime == "openvino":
        if not openvino_session.available():
            raise RuntimeError(
                "runtime 'openvino' is set but OpenVINO is not installed: install the edge "
                "extra (pip install -e '.[edge]') or set runtime: onnxruntime"
            )
        session = openvino_session.OpenVinoSession(
            model, backend.threads, backend.precision, name, per_shape
        )
        logger.info("%s runs on OpenVINO (%s)", name, session.inference_precision)
        return session
    return _onnxruntime_session(model, backend.threads, backend.allow_gpu, name)


def _onnxruntime_session(
    model: Path | bytes, threads: int, allow_gpu: bool, name: str
) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session with the best providers, falling back to the CPU if a GPU
    provider fails. ``threads`` is the intra-op thread count; 0 lets ONNX Runtime choose."""
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
    try:
        return ort.InferenceSession(source, options, providers=providers)
    except Exception as exc:
        if [name for name, _ in providers] == ["CPUExecutionProvider"]:
            raise
        logger.warning("GPU providers failed for %s (%s); using the CPU", name, exc)
        return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def runs_on(session: object) -> str:
    """How a session from :func:`open_session` computes, for reports next to timings:
    ``OpenVINO bf16``, ``OpenVINO f32``, ``ONNX Runtime CPU`` ..."""
    precision = getattr(session, "inference_precision", None)
    if precision is not None:
        return f"OpenVINO {precision}"
    providers: list[str] = getattr(session, "get_providers", list)()
    first = providers[0].removesuffix("ExecutionProvider") if providers else "?"
    return f"ONNX Runtime {first}"
