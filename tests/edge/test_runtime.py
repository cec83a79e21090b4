"""Choosing the runtime and ONNX Runtime's execution providers; OpenVINO behind the session
calls the engine makes."""

from __future__ import annotations

import locale
import os
import threading
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge.config import EngineConfig
from edge.engine import factory
from edge.engine.factory import backend_of
from edge.engine.openvino_session import (
    SHAPE_REPEATS,
    OpenVinoSession,
    _core,
    bf16_is_native,
    cpu_flags,
    cpu_summary,
    native_bf16,
)
from edge.engine.runtime import Backend, choose_providers, choose_runtime, open_session, runs_on
from edge.manifest import alpr_home


def _names(chosen: list[tuple[str, dict[str, object]]]) -> list[str]:
    return [name for name, _ in chosen]


def test_tensorrt_then_cuda_then_cpu_when_all_are_there() -> None:
    available = ["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"]
    chosen = choose_providers(available)
    assert _names(chosen) == [
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    assert chosen[0][1]["trt_fp16_enable"] is True
    assert chosen[0][1]["trt_engine_cache_path"].endswith("tensorrt")
    assert chosen[1][1] == {}


def test_cpu_only_machines_and_gpu_disabled_get_the_cpu() -> None:
    assert _names(choose_providers(["AzureExecutionProvider", "CPUExecutionProvider"])) == [
        "CPUExecutionProvider"
    ]
    available = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert _names(choose_providers(available, allow_gpu=False)) == ["CPUExecutionProvider"]
    assert _names(choose_providers([])) == ["CPUExecutionProvider"]


CPU = ["CPUExecutionProvider"]
GPU = ["CUDAExecutionProvider", "CPUExecutionProvider"]


@pytest.mark.parametrize(
    ("backend", "providers", "openvino", "expected"),
    [
        (Backend(), GPU, True, "onnxruntime"),  # a GPU to use: ONNX Runtime
        (Backend(allow_gpu=False), GPU, True, "openvino"),
        (Backend(), CPU, True, "openvino"),
        (Backend(), CPU, False, "onnxruntime"),  # OpenVINO not installed
        (Backend(runtime="onnxruntime"), CPU, True, "onnxruntime"),
        (Backend(runtime="openvino"), GPU, True, "openvino"),
    ],
)
def test_auto_takes_a_gpu_first_then_openvino_then_onnxruntime(
    backend: Backend, providers: list[str], openvino: bool, expected: str
) -> None:
    assert choose_runtime(backend, providers, openvino) == expected


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"runtime": "tvm"}, "runtime must be one of"), ({"precision": "fp8"}, "precision must")],
)
def test_a_backend_names_its_bad_field(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Backend(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("bf16_cpu", [True, False])
def test_precision_auto_runs_the_recognizer_in_bf16_only_where_the_cpu_computes_it(
    bf16_cpu: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(factory, "native_bf16", lambda: bf16_cpu)
    config = EngineConfig()
    assert backend_of(config) == Backend()
    # Without native bfloat16 the recognizer takes ONNX Runtime's faster float32.
    recognizer = Backend() if bf16_cpu else Backend(0, True, "onnxruntime", "f32")
    assert backend_of(config, recognizer=True) == recognizer
    bf16 = EngineConfig(precision="bf16")
    assert backend_of(bf16) == backend_of(bf16, recognizer=True) == Backend(0, True, "auto", "bf16")
    mixed = EngineConfig(precision="mixed")
    assert backend_of(mixed) == Backend(0, True, "auto", "bf16")
    assert backend_of(mixed, recognizer=True) == Backend(0, True, "onnxruntime", "f32")
    f32 = EngineConfig(precision="f32", runtime="openvino", threads=1)
    assert (
        backend_of(f32) == backend_of(f32, recognizer=True) == Backend(1, True, "openvino", "f32")
    )


@pytest.mark.parametrize(
    ("capabilities", "flags", "native"),
    [
        (["FP32", "BF16"], {"avx512_bf16", "amx_bf16"}, True),
        # AVX-512 BF16 alone (OpenVINO still says BF16) computed bfloat16 slower than float32.
        (["FP32", "BF16"], {"avx512_bf16"}, False),
        (["FP32"], {"amx_bf16"}, False),
        (["FP32", "BF16"], None, True),  # flags unknown (not Linux): OpenVINO decides
        (["FP32"], None, False),
    ],
)
def test_bfloat16_is_native_only_with_openvinos_bf16_and_amx_tiles(
    capabilities: list[str], flags: set[str] | None, native: bool
) -> None:
    assert bf16_is_native(capabilities, flags) is native


def test_native_bf16_asks_this_machines_openvino_and_cpu() -> None:
    capabilities = _core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    assert native_bf16() is bf16_is_native(capabilities, cpu_flags())


def test_cpu_flags_are_the_first_processors_flags_line(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Intel(R) Xeon(R)\nflags\t\t: fpu avx512_bf16 amx_bf16\n\n"
        "processor\t: 1\nflags\t\t: fpu\n",
        encoding="ascii",
    )
    assert cpu_flags(cpuinfo) == {"fpu", "avx512_bf16", "amx_bf16"}
    cpuinfo.write_text("processor\t: 0\n", encoding="ascii")
    assert cpu_flags(cpuinfo) is None
    assert cpu_flags(tmp_path / "missing") is None


def test_the_cpu_summary_names_the_model_its_cores_and_its_bfloat16_units(
    tmp_path: Path,
) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Xeon X\nflags\t\t: fpu avx512_bf16\n", encoding="ascii"
    )
    assert cpu_summary(cpuinfo) == f"Xeon X, {os.cpu_count()} CPUs, AMX no, AVX-512 BF16 yes"
    assert cpu_summary(tmp_path / "missing") == f"unknown CPU, {os.cpu_count()} CPUs, flags unknown"


def test_a_session_says_what_computes_it(tmp_path: Path) -> None:
    path = _small_model(tmp_path / "small.onnx")
    assert runs_on(open_session(path, Backend(runtime="onnxruntime"))) == "ONNX Runtime CPU"
    assert runs_on(open_session(path, Backend(runtime="openvino", precision="f32"))) == (
        "OpenVINO f32"
    )


def test_precision_auto_computes_in_float32_on_a_cpu_without_amx(tmp_path: Path) -> None:
    path = _small_model(tmp_path / "small.onnx")
    auto = OpenVinoSession(path, name="small")
    assert auto.inference_precision == ("bf16" if native_bf16() else "f32")
    assert OpenVinoSession(path, precision="f32").inference_precision == "f32"
    capabilities = _core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    bf16 = OpenVinoSession(path, precision="bf16")
    assert bf16.inference_precision == ("bf16" if "BF16" in capabilities else "f32")


def _small_model(path: Path) -> Path:
    """A 3x3 convolution then a softmax over channels, any batch and size, with metadata."""
    rng = np.random.default_rng(3)
    weight = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["conv"], pads=[1, 1, 1, 1]),
            helper.make_node("Softmax", ["conv"], ["probs"], axis=1),
        ],
        "small",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, "h", "w"])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 4, "h", "w"])],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {"character": "A\nB"})
    onnx.save(model, str(path))
    return path


def test_openvino_gives_onnxruntimes_outputs_inputs_and_metadata(tmp_path: Path) -> None:
    path = _small_model(tmp_path / "small.onnx")
    reference = ort.InferenceSession(str(path), providers=CPU)
    session = open_session(path, Backend(runtime="openvino", precision="f32"))
    assert isinstance(session, OpenVinoSession)
    assert session.inference_precision == "f32"
    assert [(i.name, i.shape) for i in session.get_inputs()] == [("x", [None, 3, None, None])]
    assert session.get_modelmeta().custom_metadata_map == {"character": "A\nB"}
    for shape in ((1, 3, 8, 8), (2, 3, 16, 24)):
        x = np.random.default_rng(1).random(shape, dtype=np.float32)
        (got,) = session.run(None, {"x": x})
        (expected,) = reference.run(None, {"x": x})
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    native = OpenVinoSession(path.read_bytes(), name="small", precision="bf16")
    (got,) = native.run(None, {"x": x})
    np.testing.assert_allclose(got, expected, atol=0.02)
    with pytest.raises(ValueError, match="output_names=None"):
        session.run(["probs"], {"x": x})


def test_a_compiled_model_is_kept_and_a_second_session_gives_the_same_outputs(
    tmp_path: Path,
) -> None:
    path = _small_model(tmp_path / "small.onnx")
    cache_dir = Path(_core().get_property("CACHE_DIR"))
    assert cache_dir == alpr_home() / "openvino-cache"
    x = np.random.default_rng(2).random((1, 3, 8, 8), dtype=np.float32)
    first = OpenVinoSession(path, precision="f32")
    before = set(cache_dir.iterdir())
    assert before, "the compiled model was not kept"
    second = OpenVinoSession(path, precision="f32")  # loaded from the cache
    assert set(cache_dir.iterdir()) == before
    np.testing.assert_array_equal(first.run(None, {"x": x})[0], second.run(None, {"x": x})[0])


def test_camera_threads_sharing_an_openvino_model_each_get_their_own_results(
    tmp_path: Path,
) -> None:
    session = OpenVinoSession(_small_model(tmp_path / "small.onnx"), precision="f32")
    reference = ort.InferenceSession(str(tmp_path / "small.onnx"), providers=CPU)
    inputs = [np.full((1, 3, 12, 12), value, np.float32) for value in (0.1, 0.5, 0.9, 2.0)]
    expected = [reference.run(None, {"x": x})[0] for x in inputs]
    wrong: list[int] = []

    def camera(index: int) -> None:
        for _ in range(25):
            (got,) = session.run(None, {"x": inputs[index]})
            if not np.allclose(got, expected[index], atol=1e-5):
                wrong.append(index)

    threads = [threading.Thread(target=camera, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_a_per_shape_session_compiles_a_shape_it_meets_again_and_again(
    tmp_path: Path,
) -> None:
    path = _small_model(tmp_path / "small.onnx")
    reference = ort.InferenceSession(str(path), providers=CPU)
    session = OpenVinoSession(path, precision="f32", per_shape=True)
    rng = np.random.default_rng(3)
    # A shape met once (a photo) and one met over and over (a camera's frames).
    calls = [(2, 3, 16, 24)] + [(1, 3, 8, 8)] * (SHAPE_REPEATS + 2)
    for number, shape in enumerate(calls):
        x = rng.random(shape, dtype=np.float32)
        (got,) = session.run(None, {"x": x})
        (expected,) = reference.run(None, {"x": x})
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        if number == SHAPE_REPEATS:
            session.wait_for_shapes()
    # Only the repeated shape got a model of its own, with its input fixed to that shape.
    assert list(session._by_shape) == [((1, 3, 8, 8),)]
    compiled = session._by_shape[((1, 3, 8, 8),)]
    assert [list(port.get_shape()) for port in compiled.inputs] == [[1, 3, 8, 8]]
    # The inputs it reports stay the graph's own (free sizes).
    assert [(i.name, i.shape) for i in session.get_inputs()] == [("x", [None, 3, None, None])]


def test_camera_threads_sharing_a_per_shape_session_each_get_their_own_results(
    tmp_path: Path,
) -> None:
    ctype, encoding = locale.setlocale(locale.LC_CTYPE), locale.getpreferredencoding(False)
    session = OpenVinoSession(
        _small_model(tmp_path / "small.onnx"), precision="f32", per_shape=True
    )
    reference = ort.InferenceSession(str(tmp_path / "small.onnx"), providers=CPU)
    inputs = [np.full((1, 3, 8 + 4 * i, 12), 0.2 * i, np.float32) for i in range(4)]
    expected = [reference.run(None, {"x": x})[0] for x in inputs]
    wrong: list[int] = []

    def camera(index: int) -> None:
        for step in range(20):
            which = (index + step) % len(inputs)
            (got,) = session.run(None, {"x": inputs[which]})
            if not np.allclose(got, expected[which], atol=1e-5):
                wrong.append(which)

    threads = [threading.Thread(target=camera, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    session.wait_for_shapes()
    assert wrong == []
    # OpenVINO sets the C locale aside while it compiles: four compilations at once must not
    # leave the process's text encoding at ASCII (openvino_session serialises them).
    assert locale.setlocale(locale.LC_CTYPE) == ctype
    assert locale.getpreferredencoding(False) == encoding
    # Every shape was met 20 times: each got its own model, compiled once.
    assert len(session._by_shape) == len(inputs)
    assert len(session._compiling) == len(inputs)
    for x, want in zip(inputs, expected, strict=True):
        np.testing.assert_allclose(session.run(None, {"x": x})[0], want, atol=1e-5)


def test_a_per_shape_session_compiles_no_more_than_max_shapes(tmp_path: Path) -> None:
    path = _small_model(tmp_path / "small.onnx")
    reference = ort.InferenceSession(str(path), providers=CPU)
    session = OpenVinoSession(path, precision="f32", per_shape=True, max_shapes=2)
    shapes = [(1, 3, 8, 8 + 4 * i) for i in range(4)]
    for shape in shapes:
        x = np.full(shape, 0.3, np.float32)
        for _ in range(SHAPE_REPEATS + 1):
            (got,) = session.run(None, {"x": x})
        session.wait_for_shapes()
        np.testing.assert_allclose(got, reference.run(None, {"x": x})[0], atol=1e-5)
    # The first two shapes to repeat got their own models; the others run shape-agnostic.
    assert list(session._by_shape) == [((1, 3, 8, 8),), ((1, 3, 8, 12),)]


def test_importing_openvino_reports_no_usage() -> None:
    """`import openvino` sets up Intel's usage reporting, which counts as consent unless the
    user opted out; the project's install (make install) opts out, so the engine's process
    holds no consent to send anything."""
    import subprocess
    import sys

    probe = (
        "import openvino, openvino_telemetry as t; "
        "print(t.Telemetry().consent)"  # the singleton that `import openvino` set up
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "False", (
        "OpenVINO would report usage: run `.venv/bin/opt_in_out --opt_out` (make install does)"
    )
