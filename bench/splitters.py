"""MB/s of the bulk upload splitters (issue 10): one long line (up to the per-line limit, and past it) and many
short lines, as NDJSON and as a JSON array, fed in 64 KiB chunks as the API receives them.

    .venv/bin/python bench/splitters.py [--mb 64]
"""

from __future__ import annotations

import argparse
import json
import time

from infra.jobs import JsonArraySplitter, NdjsonSplitter

CHUNK = 64 << 10
LINE = json.dumps({"kind": "sins", "location": "junctional", "pain": "mechanical", "lesion": "lytic",
                   "alignment": "normal", "collapse": "none", "posterolateral": "none"}).encode()


CASE = json.dumps({"kind": "evaluation", "evaluation_date": "2026-11-28", "patient": {"age": 64, "karnofsky": 70},
                   "lesions": [{"id": "L1", "kind": "spine", "spine": {"level": "T8", "pain": "mechanical"}},
                               {"id": "L2", "kind": "long_bone", "long_bone": {"site": "peritrochanteric"}}]}).encode()


def rate(splitter, body: bytes) -> tuple[float, int]:
    started = time.perf_counter()
    count = 0
    for start in range(0, len(body), CHUNK):
        count += sum(1 for _ in splitter.feed(body[start:start + CHUNK]))
    count += sum(1 for _ in splitter.close())
    return len(body) / (1 << 20) / (time.perf_counter() - started), count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=64)
    size = parser.parse_args().mb << 20
    short = (LINE + b"\n") * (size // (len(LINE) + 1))
    nested = (CASE + b"\n") * (size // (len(CASE) + 1))
    long_line = b'{"kind":"sins","pad":"' + b"x" * (size - 30) + b'"}\n'
    cases = {
        "NDJSON, many short lines": (NdjsonSplitter(), short),
        "NDJSON, one line past the 1 MiB limit": (NdjsonSplitter(1 << 20), long_line),
        "NDJSON, one long line under a raised limit": (NdjsonSplitter(size * 2), long_line),
        "JSON array, many short lines": (JsonArraySplitter(), b"[" + short.replace(b"\n", b",")[:-1] + b"]"),
        "NDJSON, whole cases (nested objects)": (NdjsonSplitter(), nested),
        "JSON array, whole cases (nested objects)": (JsonArraySplitter(),
                                                     b"[" + nested.replace(b"\n", b",")[:-1] + b"]"),
        "JSON array, one element past the limit": (JsonArraySplitter(1 << 20), b"[" + long_line.strip() + b"]"),
    }
    for name, (splitter, body) in cases.items():
        mb_s, lines = rate(splitter, body)
        print(f"{name:45s} {len(body) / (1 << 20):7.1f} MB  {mb_s:9.1f} MB/s  {lines:>9,} records")


if __name__ == "__main__":
    main()
