"""Which optional packages the engine needs, checked without importing them."""

from __future__ import annotations

from importlib.util import find_spec

#: Import name -> distribution name, for the packages of the ``edge`` extra the engine uses.
EDGE_PACKAGES = {
    "numpy": "numpy",
    "cv2": "opencv-python-headless",
    "onnxruntime": "onnxruntime",
    "rapidocr": "rapidocr",
    "numba": "numba",
}


def missing_edge_packages() -> list[str]:
    """Distribution names of the engine's packages that are not installed."""
    return [dist for module, dist in EDGE_PACKAGES.items() if find_spec(module) is None]


def require_edge() -> None:
    """Raise ``RuntimeError`` naming the missing packages when the ``edge`` extra is absent."""
    missing = missing_edge_packages()
    if missing:
        raise RuntimeError(
            "the recognition engine needs the edge extra; missing: "
            + ", ".join(missing)
            + " (install with: pip install 'alpr[edge]')"
        )
