"""Video: sources, motion gating, tracking, per-track consensus, best shot and clips.

Its modules need the ``edge`` extra (PyAV, numpy, OpenCV, norfair, ONNX Runtime): commands
check :func:`edge.requirements.require_edge` before importing it.
"""
