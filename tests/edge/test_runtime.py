"""Choosing ONNX Runtime execution providers."""

from __future__ import annotations

from edge.engine.runtime import choose_providers


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
