"""Video: sources, motion gating, tracking, per-track consensus, best shot and clips.

Its modules need the ``edge`` extra (PyAV, numpy, OpenCV, norfair, ONNX Runtime). Faust's
autodiscovery walks every package under ``edge/`` at each ``alpr`` start, also where that
extra is missing; there this package hides from the walk (as ``edge.engine`` does), and
commands check :func:`edge.requirements.require_edge` before importing it.
"""

from importlib.util import find_spec

if any(find_spec(name) is None for name in ("av", "numpy", "cv2", "norfair", "onnxruntime")):
    __path__.clear()
