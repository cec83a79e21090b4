"""Export a YOLOv8 ``.pt`` checkpoint to ONNX; runs inside the export environment only.

``python plate_export.py SOURCE.pt TARGET.onnx``: the export environment (a venv in the
cache with ultralytics and CPU torch, see ``edge/export-requirements.txt``) runs this file,
so the runtime environment needs neither. Imports stay inside ``main``, so importing this
module needs neither.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: Metadata ultralytics writes that changes from run to run (a time stamp).
VOLATILE_METADATA = ("date",)


def main(argv: list[str]) -> int:
    """Export ``argv[0]`` to ``argv[1]`` at 640x640, opset 17, static shapes, simplified."""
    import onnx
    from ultralytics import YOLO

    source, target = Path(argv[0]), Path(argv[1])
    exported = Path(YOLO(str(source)).export(format="onnx", imgsz=640, opset=17, simplify=True))
    model = onnx.load(str(exported))
    kept = [p for p in model.metadata_props if p.key not in VOLATILE_METADATA]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    onnx.save(model, str(target))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
