"""Which report format a file name asks for: the extension decides (.png, .svg, .pdf, .html), so
`--out report.pdf` is a PDF and never a PNG under a PDF's name."""

from __future__ import annotations

import os
from pathlib import PurePath

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf", ".html": "html"}


def format_of(path: str | os.PathLike[str]) -> str | None:
    """The format of a report written to `path`; None for an extension no format has."""
    return FORMATS.get(PurePath(path).suffix.lower())


def unknown_format(path: str | os.PathLike[str]) -> str:
    """Why `path` is refused, naming what would work."""
    suffix = PurePath(path).suffix
    return f"cannot tell the report format from {suffix or 'a name without extension'!r}: use {', '.join(FORMATS)}"
