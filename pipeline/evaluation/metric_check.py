"""Compare a rebuilt pipeline's metrics with the committed ones, each within the tolerance that
`metrics/tolerances.yaml` declares for it (CI's reproducibility check, `python -m pipeline check-metrics`).

Metrics are named by flattened dotted keys: `<file stem>.<path>`, e.g. `content.test_cer`,
`judges.seconds.asr_train`, `generation.ci95.content_cer.high`. Lists are compared whole.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import json
import math
from pathlib import Path

import yaml

from pipeline.errors import UserError

KINDS = ("exact", "abs", "rel", "factor", "skip")


@dataclasses.dataclass(frozen=True)
class Rule:
    """One tolerance: `match` is a glob over dotted keys; `value` is the allowed |difference| (abs),
    the allowed |difference| / |committed| (rel), or the allowed ratio either way (factor)."""
    match: str
    kind: str
    value: float | None = None

    def describe(self) -> str:
        if self.kind in ("exact", "skip"):
            return "exact" if self.kind == "exact" else "not checked"
        return {"abs": f"±{self.value:g}", "rel": f"±{self.value:.0%}", "factor": f"×/÷{self.value:g}"}[self.kind]

    def holds(self, committed, reproduced) -> bool:
        if self.kind == "skip":
            return True
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (committed, reproduced))
        if self.kind == "exact" or not numeric:
            return committed == reproduced
        if self.kind == "abs":
            return abs(reproduced - committed) <= self.value + 1e-12
        if self.kind == "rel":
            return abs(reproduced - committed) <= self.value * abs(committed) + 1e-12
        if committed <= 0 or reproduced <= 0:  # factor: a ratio needs two positive figures
            return committed == reproduced
        return max(reproduced / committed, committed / reproduced) <= self.value + 1e-12


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the table. `status` is ok, BREACH, missing (a breach), new (reported only) or
    no rule (a breach: every committed metric needs a declared tolerance)."""
    metric: str
    committed: object
    reproduced: object
    tolerance: str
    status: str

    @property
    def breach(self) -> bool:
        return self.status in ("BREACH", "missing", "no rule")


def read_rules(path: str | Path) -> list[Rule]:
    """The ordered rules of a tolerances file (`rules: [{match, kind, value}]`); the first match wins."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no tolerances file {path}")
    try:
        entries = (yaml.safe_load(path.read_text()) or {}).get("rules")
    except (yaml.YAMLError, AttributeError) as err:
        raise UserError(f"{path}: not a mapping with a `rules` list ({err})") from None
    if not isinstance(entries, list) or not entries:
        raise UserError(f"{path}: needs a non-empty `rules` list")
    rules = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) - {"match", "kind", "value"} or "match" not in entry:
            raise UserError(f"{path}: rule {i} must be a mapping of match, kind and (for abs/rel/factor) value")
        kind, value = entry.get("kind"), entry.get("value")
        if kind not in KINDS:
            raise UserError(f"{path}: rule {i} ({entry['match']}): kind must be one of {', '.join(KINDS)}")
        needs_value = kind in ("abs", "rel", "factor")
        if needs_value != isinstance(value, (int, float)) or (needs_value and (value < 0 or (kind == "factor"
                                                                                             and value < 1))):
            raise UserError(f"{path}: rule {i} ({entry['match']}): {kind} "
                            + ("needs a number value (factor >= 1, others >= 0)" if needs_value else "takes no value"))
        rules.append(Rule(str(entry["match"]), kind, float(value) if needs_value else None))
    return rules


def flatten(data, prefix: str) -> dict[str, object]:
    """Nested mappings -> {dotted key: leaf}."""
    if not isinstance(data, dict):
        return {prefix: data}
    flat = {}
    for key, value in data.items():
        flat.update(flatten(value, f"{prefix}.{key}"))
    return flat


def read_metrics(folder: str | Path, names: list[str] | None = None) -> dict[str, object]:
    """Every `*.json` in `folder` (or the given file names), flattened under its file stem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"no metrics folder {folder}")
    paths = [folder / n for n in names] if names is not None else sorted(folder.glob("*.json"))
    if not paths:
        raise UserError(f"no metrics files (*.json) in {folder}")
    flat = {}
    for path in paths:
        if not path.is_file():
            raise UserError(f"{path} is missing: the run did not write it")
        try:
            flat.update(flatten(json.loads(path.read_text()), path.stem))
        except json.JSONDecodeError as err:
            raise UserError(f"{path} is not JSON ({err})") from None
    return flat


def compare(committed: dict[str, object], reproduced: dict[str, object], rules: list[Rule]) -> list[Row]:
    """One row per metric in either set, in key order."""
    rows = []
    for key in sorted(set(committed) | set(reproduced)):
        rule = next((r for r in rules if fnmatch.fnmatchcase(key, r.match)), None)
        tolerance = rule.describe() if rule else "-"
        old, new = committed.get(key), reproduced.get(key)
        if key not in committed:
            status = "new"
        elif key not in reproduced:
            status = "missing"
        elif rule is None:
            status = "no rule"
        else:
            status = "ok" if rule.holds(old, new) else "BREACH"
        rows.append(Row(key, old, new, tolerance, status))
    return rows


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.6g}"
    return json.dumps(value) if not isinstance(value, str) else value


def table(rows: list[Row]) -> str:
    """A plain-text table: metric, committed, reproduced, tolerance, status."""
    lines = [("metric", "committed", "reproduced", "tolerance", "ok")]
    lines += [(r.metric, _cell(r.committed), _cell(r.reproduced), r.tolerance, r.status) for r in rows]
    widths = [min(60, max(len(line[i]) for line in lines)) for i in range(5)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)


def check_metrics(committed_dir: str | Path, reproduced_dir: str | Path, tolerances: str | Path) -> list[Row]:
    """Rows for every metric of the committed folder's JSON files against the same files in the
    reproduced folder. Raises UserError for a missing folder, file or bad tolerances file."""
    rules = read_rules(tolerances)
    committed = read_metrics(committed_dir)
    names = {p.name for p in Path(committed_dir).glob("*.json")}
    read_metrics(reproduced_dir, sorted(names))  # each committed file must be there: else a bad-input error
    reproduced = read_metrics(reproduced_dir)  # files the committed set lacks show as new metrics
    return compare(committed, reproduced, rules)
