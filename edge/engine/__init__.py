"""The recognition engine: vehicle detection, plate localisation, OCR and plate formats.

Its modules need the ``edge`` extra (numpy, OpenCV, ONNX Runtime, RapidOCR). Faust's
autodiscovery walks every package under ``edge/`` at each ``alpr`` start, even on machines
without that extra; there the engine is hidden from the walk instead of logging an import
error per module. Callers check :func:`edge.requirements.missing_edge_packages` first and
tell the user what to install.
"""

from importlib.util import find_spec

if find_spec("numpy") is None or find_spec("onnxruntime") is None:
    __path__.clear()
