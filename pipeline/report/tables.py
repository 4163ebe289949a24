"""Metrics as HTML tables: any stage's JSON generically (nested keys -> one row each, so new keys
show without code changes), and generation's scores beside the baseline, the floor (the input
speech) and the ceiling (the corpus's hip-hop reference), each with its 95% interval. Every
string from data is HTML-escaped here."""
from __future__ import annotations

from html import escape

import pandas as pd

from pipeline.tracking import flatten

MISSING = "&ndash;"
FLOOR_NAMES = {"content_cer": "input_cer"}  # the generate stage's name for the input speech's CER


def floor_name(score: str) -> str:
    return FLOOR_NAMES.get(score, f"input_{score}")


def number(value) -> str:
    """A cell: floats to 4 significant digits, everything else as text, escaped."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return escape(", ".join(str(v) for v in value))
    return escape(str(value))


def table(header: list[str], rows: list[list[str]], caption: str | None = None) -> str:
    """`header` is escaped; `rows` hold cells already rendered (escaped) as HTML."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    caption = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f'<div class="scroll"><table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def metrics_table(metrics: dict) -> str:
    """{"a": {"b": 1}} -> one row "a.b | 1" per leaf, keys sorted."""
    rows = [[f"<code>{escape(k)}</code>", number(v)] for k, v in sorted(flatten(metrics).items())]
    return table(["metric", "value"], rows)


def with_interval(value, interval: dict | None) -> str:
    if value is None:
        return MISSING
    if not interval:
        return number(value)
    return f'{number(value)} <span class="ci">[{number(interval["low"])}, {number(interval["high"])}]</span>'


def generation_rows(generation: dict) -> tuple[list[list[str]], dict]:
    """Rows of the comparison table: every score that both our method and the baseline have
    (new ones such as `flow` or `beat_alignment` appear by themselves), with the floor from
    `input_<name>` (`input_cer` for `content_cer`) and the ceiling from `reference_<name>` when the stage measured them.
    Returns the rows and the remaining facts (counts, durations)."""
    baseline = generation.get("baseline", {})
    ci, baseline_ci = generation.get("ci95", {}), baseline.get("ci95", {})
    scores = sorted(k for k, v in generation.items()
                    if k in baseline and isinstance(v, (int, float)) and not isinstance(v, bool))
    rows = [[f"<code>{escape(k)}</code>", with_interval(generation[k], ci.get(k)),
             with_interval(baseline[k], baseline_ci.get(k)),
             with_interval(generation.get(floor_name(k)), ci.get(floor_name(k))),
             with_interval(generation.get(f"reference_{k}"), ci.get(f"reference_{k}"))] for k in scores]
    shown = set(scores) | {floor_name(k) for k in scores} | {f"reference_{k}" for k in scores} | {"baseline", "ci95"}
    facts = {k: v for k, v in generation.items() if k not in shown}
    return rows, facts


def generation_table(generation: dict) -> str:
    rows, facts = generation_rows(generation)
    header = ["score", "ours", "baseline (original's settings)", "floor (input speech)", "ceiling (hip-hop reference)"]
    caption = "Generation scored by the judges; [95% interval over clips]"
    return table(header, rows, caption) + metrics_table(facts)


def frame_table(frame: pd.DataFrame) -> str:
    """A small CSV (the trade-off sweep) as it is."""
    return table([str(c) for c in frame.columns], [[number(v) for v in row] for row in frame.itertuples(index=False)])
