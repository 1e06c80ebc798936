"""pdftotext and pdftoppm (Debian poppler-utils, installed by .ci/run) to read reports as a person would."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import unavailable

ACCENT = (0x1F, 0x4E, 0x79)


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        unavailable("poppler-utils", f"{tool} not found (apt-get install poppler-utils)")
    return path


def text_of(pdf: bytes, tmp: Path, *, layout: bool = True) -> str:
    """The PDF's text: laid out as on the page, or (layout=False) in reading order, a column's lines together."""
    source = tmp / "report.pdf"
    source.write_bytes(pdf)
    return subprocess.run([_need("pdftotext"), *(["-layout"] if layout else []), str(source), "-"],
                          capture_output=True, text=True, check=True).stdout


def pages(pdf: bytes, tmp: Path, dpi: int = 50) -> list[tuple[int, int, bytes]]:
    """Every page as raw RGB: (width, height, pixels), read from pdftoppm's PPM output."""
    source = tmp / "render.pdf"
    source.write_bytes(pdf)
    subprocess.run([_need("pdftoppm"), "-r", str(dpi), str(source), str(tmp / "page")], check=True)
    result = []
    for ppm in sorted(tmp.glob("page-*.ppm")):
        data = ppm.read_bytes()
        magic, width, height, _maxval, pixels = data.split(maxsplit=4)
        assert magic == b"P6"
        result.append((int(width), int(height), pixels))
    return result


def filled_bars(page: tuple[int, int, bytes], colour: tuple[int, int, int], *, below: float = 0.0,
                min_rows: int = 4, min_run: int = 8) -> int:
    """How many filled rectangles of `colour`, at least `min_rows` tall, stand below `below` (a fraction of
    the height): rules and text strokes are thinner and do not count."""
    width, height, pixels = page

    def is_colour(i: int) -> bool:
        return all(abs(pixels[i + k] - colour[k]) <= 12 for k in range(3))

    def row_has_run(y: int) -> bool:
        run = 0
        for x in range(width):
            run = run + 1 if is_colour((y * width + x) * 3) else 0
            if run >= min_run:
                return True
        return False

    bars, tall = 0, 0
    for y in range(int(height * below), height):
        if row_has_run(y):
            tall += 1
        else:
            bars += tall >= min_rows
            tall = 0
    return bars + (tall >= min_rows)


def non_white_share(page: tuple[int, int, bytes]) -> float:
    _, _, pixels = page
    return sum(1 for b in pixels[::3] if b < 235) / (len(pixels) / 3)
