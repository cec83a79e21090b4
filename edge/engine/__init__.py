"""The recognition engine: vehicle detection, plate localisation, OCR and plate formats.

Its modules need the ``edge`` extra (numpy, OpenCV, ONNX Runtime, RapidOCR): callers check
:func:`edge.requirements.missing_edge_packages` first and tell the user what to install.
"""
