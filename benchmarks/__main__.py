"""`make bench`: run every `benchmarks/bench_*.py` and print one table.

Each module exposes `run() -> list[dict]`, one row per figure, with keys
`benchmark`, `value`, `unit`, `target` (text, may be empty) and `ok` (True/False/None).
`python -m benchmarks data content` runs only the named modules.
"""
from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import torch

from pipeline.seeding import seed_everything


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem[len("bench_"):] for p in Path(__file__).parent.glob("bench_*.py"))
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", os.cpu_count() or 1)))
    rows = []
    for name in names:
        seed_everything(0)
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"running {name}...", file=sys.stderr, flush=True)
        rows.extend(module.run())
    header = ("benchmark", "value", "unit", "target", "ok")
    table = [header] + [
        (r["benchmark"], f"{r['value']:.4g}" if isinstance(r["value"], float) else str(r["value"]),
         r.get("unit", ""), r.get("target", ""), {True: "yes", False: "NO", None: "-"}[r.get("ok")])
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for i, row in enumerate(table):
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    return 0 if all(r.get("ok") is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
