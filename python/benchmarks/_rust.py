"""The Rust side of the benchmarks here: runs one of the core's examples
(``core/examples/<name>.rs``) with cargo from the repository root and returns the JSON
object it prints on its last line. Needs ``cargo`` on PATH and a checkout."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_example(name: str, *args: object) -> dict[str, Any]:
    out = subprocess.run(
        ["cargo", "run", "-q", "--release", "-p", "cidb", "--example", name, "--", *map(str, args)],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result
