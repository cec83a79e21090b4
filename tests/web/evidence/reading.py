"""Reading evidence reports back with pypdf (BSD), for the unit and integration tests."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from pypdf import PdfReader


def text_of(pdf: bytes) -> str:
    """The PDF's text, each run of white space as one space (lines wrap where they fit)."""
    pages = PdfReader(BytesIO(pdf)).pages
    return " ".join(" ".join(page.extract_text() for page in pages).split())


def embedded_images(pdf: bytes) -> list[bytes]:
    """The images drawn in the PDF as embedded (a JPEG: its file's bytes), in page order."""
    found = []
    for page in PdfReader(BytesIO(pdf)).pages:
        resources: Any = page["/Resources"].get_object()
        objects: Any = resources.get("/XObject")
        for ref in (objects.get_object() if objects else {}).values():
            stream = ref.get_object()
            if stream.get("/Subtype") == "/Image":
                found.append(stream.get_data())
    return found
