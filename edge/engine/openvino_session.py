"""An ONNX model run by OpenVINO on the CPU, behind the calls the engine makes of an ONNX
Runtime session (``run``, ``get_inputs``, ``get_modelmeta``).

With ``precision="auto"`` OpenVINO computes in bfloat16 on CPUs with AMX (see
:func:`native_bf16`): two to three times ONNX Runtime's float32 speed for the engine's
convolutional models, without the calibration data an int8 model would need; elsewhere in
float32. ``"bf16"`` takes bfloat16 wherever the CPU computes it at all (AVX-512 BF16 too),
``"f32"`` keeps float32. The engine measures them (``bench.read --baseline``).

One shared model may be called from several camera threads: each thread gets its own
inference request (OpenVINO's requests are not thread-safe; the compiled model is).

With ``per_shape``, a graph whose input sizes are free (a detector that letterboxes each
image to its own aspect, see ``yolo_shapes``) is also compiled for each input shape it
meets again and again, with that shape fixed: OpenVINO's kernels for a known shape run
5-10% faster than the shape-agnostic ones (the plate detector's 640x384 frame and 640x640
mosaic), and a camera meets the same few shapes all day. A shape is compiled in the
background on its ``SHAPE_REPEATS``-th call (about 0.2-0.3 s of one core here); until it
is ready, and for shapes seen less often (a folder of photos of many sizes), the
shape-agnostic model runs. Each compiled shape holds its own copy of the weights and
buffers (about 30 MB for the plate detector or the recognizer here), so a session
compiles at most ``max_shapes`` of them: the first shapes to reach ``SHAPE_REPEATS``
calls, which in a camera's stream are its common ones.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from edge.engine.runtime import PRECISIONS
from edge.manifest import alpr_home

logger = logging.getLogger(__name__)

#: Calls with one input shape after which a per-shape session compiles that shape.
SHAPE_REPEATS = 3
#: OpenVINO sets the process's C locale aside while it reads or compiles a model and puts it
#: back after: two at once in different threads can leave it at "C", and every text decoded
#: later by default then is ASCII (seen: 4 camera threads' per-shape compilations turned
#: ``locale.getpreferredencoding()`` from UTF-8 to ANSI_X3.4-1968 for the whole process).
#: So one read or compilation at a time, in every session of the process.
_OPENVINO_SETS_LOCALE = threading.Lock()


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


#: The CPU flag (``/proc/cpuinfo``) of AMX's bfloat16 tiles.
AMX_BF16 = "amx_bf16"
#: Where Linux lists the CPU's model and flags.
CPUINFO = Path("/proc/cpuinfo")


@cache
def native_bf16() -> bool:
    """Whether OpenVINO is installed and this CPU has AMX tiles for bfloat16, where
    OpenVINO's bfloat16 is two to three times its float32 speed (see :func:`bf16_is_native`)."""
    if not available():
        return False
    capabilities = _core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return bf16_is_native(capabilities, cpu_flags())


def bf16_is_native(capabilities: Sequence[str], flags: set[str] | None) -> bool:
    """Whether a CPU with OpenVINO's ``capabilities`` and these ``flags`` (``None``: not
    known) computes bfloat16 fast: it needs AMX.

    OpenVINO's own ``BF16`` capability also covers CPUs with only AVX-512 BF16 (Cooper
    Lake, Zen 4, and Sapphire Rapids in virtual machines that do not expose AMX), and it
    then computes in bfloat16 by default; on one such CPU (a 2-vCPU Sapphire Rapids guest
    without AMX) its bfloat16 was slower than its float32: the 1080p bench frame took 298
    against 197 ms. Where the CPU's flags cannot be read (not Linux), OpenVINO's capability
    decides."""
    return "BF16" in capabilities and (flags is None or AMX_BF16 in flags)


def cpu_summary(cpuinfo: Path = CPUINFO) -> str:
    """The CPU's model name, core count and whether it has AMX (a line for benchmark
    reports: timings depend on it, see :func:`native_bf16`)."""
    import os

    fields = _first_processor(cpuinfo)
    name = fields.get("model name", "unknown CPU") if fields is not None else "unknown CPU"
    flags = _flags(fields)
    if flags is None:
        features = "flags unknown"
    else:
        features = f"AMX {'yes' if AMX_BF16 in flags else 'no'}, "
        features += f"AVX-512 BF16 {'yes' if 'avx512_bf16' in flags else 'no'}"
    return f"{name}, {os.cpu_count()} CPUs, {features}"


def cpu_flags(cpuinfo: Path = CPUINFO) -> set[str] | None:
    """The CPU's feature flags as Linux lists them (its first processor's ``flags`` line),
    or ``None`` where that file or line is not to be read."""
    return _flags(_first_processor(cpuinfo))


def _first_processor(cpuinfo: Path) -> dict[str, str] | None:
    """The ``name: value`` fields of the first processor in ``cpuinfo``; ``None`` where the
    file cannot be read."""
    try:
        text = cpuinfo.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break  # the first processor's block ends at a blank line
        name, _, value = line.partition(":")
        fields.setdefault(name.strip(), value.strip())
    return fields


def _flags(fields: dict[str, str] | None) -> set[str] | None:
    if fields is None or "flags" not in fields:
        return None
    return set(fields["flags"].split())


@dataclass
class OpenVinoSession:
    """A compiled model with ONNX Runtime's session calls."""

    model: Path | bytes
    threads: int = 0
    precision: str = "auto"
    name: str = ""
    per_shape: bool = False
    max_shapes: int = 4
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        settings: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if self.threads:
            settings["INFERENCE_NUM_THREADS"] = self.threads
        # 'bf16' leaves OpenVINO its default: bfloat16 wherever the CPU computes it at all.
        if self.precision == "f32" or (self.precision == "auto" and not native_bf16()):
            settings["INFERENCE_PRECISION_HINT"] = "f32"
        core = _core()
        with _OPENVINO_SETS_LOCALE:
            graph = core.read_model(
                self.model if isinstance(self.model, bytes) else str(self.model)
            )
            self.compiled = core.compile_model(graph, "CPU", settings)
        self._settings = settings
        # Per fixed input shape: its calls so far, and its compiled model once ready (see
        # per_shape); both guarded by _lock.
        self._graph: Any = graph if self.per_shape and graph.is_dynamic() else None
        self._calls: dict[tuple[tuple[int, ...], ...], int] = {}
        self._by_shape: dict[tuple[tuple[int, ...], ...], Any] = {}
        self._compiling: list[threading.Thread] = []
        self._lock = threading.Lock()
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
        compiled = self.compiled if self._graph is None else self._for_shape(feed)
        requests: dict[int, Any] = self._local.__dict__.setdefault("requests", {})
        request = requests.get(id(compiled))
        if request is None:
            request = requests[id(compiled)] = compiled.create_infer_request()
        results = request.infer(feed)
        return [np.array(results[port], copy=True) for port in compiled.outputs]

    def _for_shape(self, feed: dict[str, np.ndarray]) -> Any:
        """The model compiled for the input shapes of ``feed`` when it is ready, else the
        shape-agnostic one; the ``SHAPE_REPEATS``-th call with a shape starts its
        compilation in the background."""
        key = tuple(tuple(feed[port.name].shape) for port in self._inputs)
        compiled = self._by_shape.get(key)
        if compiled is not None:
            return compiled
        with self._lock:
            if len(self._compiling) >= self.max_shapes:
                return self.compiled
            calls = self._calls[key] = self._calls.get(key, 0) + 1
            if calls == SHAPE_REPEATS:
                thread = threading.Thread(
                    target=self._compile_shape,
                    args=(key,),
                    name=f"compile {self.name}",
                    # Not a daemon: a compilation cut off at interpreter exit crashes it.
                    daemon=False,
                )
                self._compiling.append(thread)
                thread.start()
        return self.compiled

    def _compile_shape(self, key: tuple[tuple[int, ...], ...]) -> None:
        import openvino

        try:
            with _OPENVINO_SETS_LOCALE:
                graph = self._graph.clone()
                graph.reshape(
                    {
                        port.name: openvino.PartialShape(list(shape))
                        for port, shape in zip(self._inputs, key, strict=True)
                    }
                )
                compiled = _core().compile_model(graph, "CPU", self._settings)
        except RuntimeError as exc:  # the shape-agnostic model goes on serving this shape
            logger.warning("%s: compiling for input shapes %s failed: %s", self.name, key, exc)
            return
        self._by_shape[key] = compiled
        logger.debug("%s compiled for input shapes %s", self.name, key)

    def wait_for_shapes(self, timeout: float = 30.0) -> None:
        """Block until the per-shape compilations under way have finished (for tests and
        benchmarks that want the steady state)."""
        deadline = time.monotonic() + timeout
        for thread in list(self._compiling):
            thread.join(max(0.0, deadline - time.monotonic()))


def _onnx_metadata(graph: Any) -> dict[str, str]:
    """The ONNX file's metadata (e.g. a recognizer's character list), which OpenVINO's
    reader keeps under the model's ``framework`` run-time info."""
    if not graph.has_rt_info(["framework"]):
        return {}
    entries = graph.get_rt_info(["framework"]).astype(dict)
    return {str(key): value.astype(str) for key, value in entries.items()}
