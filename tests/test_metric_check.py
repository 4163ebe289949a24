"""`python -m pipeline check-metrics`: every committed metric within its declared tolerance."""
import json
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.evaluation.metric_check import check_metrics, read_metrics, read_rules

ROOT = Path(__file__).resolve().parents[1]
RULES = """rules:
  - {match: "*utterances", kind: exact}
  - {match: "*seconds*", kind: factor, value: 3}
  - {match: "*cer", kind: abs, value: 0.04}
  - {match: "*distance", kind: rel, value: 0.3}
  - {match: "*best_epoch", kind: skip}
"""
COMMITTED = {"test_cer": 0.10, "test_utterances": 200, "style_distance": 50.0, "seconds": {"train": 100.0},
             "best_epoch": 3}


def write(folder: Path, name: str, data: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(data))
    return folder


@pytest.fixture()
def dirs(tmp_path):
    (tmp_path / "tolerances.yaml").write_text(RULES)
    return write(tmp_path / "committed", "content.json", COMMITTED), tmp_path / "reproduced", tmp_path / "tolerances.yaml"


def statuses(committed, reproduced, tolerances) -> dict[str, str]:
    return {row.metric: row.status for row in check_metrics(committed, reproduced, tolerances)}


def test_within_tolerance_passes_and_the_cli_prints_the_table(dirs, capsys):
    committed, reproduced, tolerances = dirs
    write(reproduced, "content.json", {**COMMITTED, "test_cer": 0.139, "style_distance": 64.0,
                                       "seconds": {"train": 290.0}, "best_epoch": 1})
    assert set(statuses(committed, reproduced, tolerances).values()) == {"ok"}
    assert main(["check-metrics", "--committed", str(committed), "--reproduced", str(reproduced),
                 "--tolerances", str(tolerances)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["metric", "committed", "reproduced", "tolerance", "ok"]
    assert "content.test_cer" in out and "±0.04" in out and "5 metrics: 0 outside tolerance" in out


@pytest.mark.parametrize("change", [{"test_cer": 0.141}, {"style_distance": 65.1}, {"seconds": {"train": 301.0}},
                                    {"test_utterances": 199}])
def test_a_breach_fails_with_exit_1(dirs, change, capsys):
    committed, reproduced, tolerances = dirs
    write(reproduced, "content.json", {**COMMITTED, **change})
    breached = {k for k, v in statuses(committed, reproduced, tolerances).items() if v != "ok"}
    assert breached == {f"content.{next(iter(change))}" + (".train" if "seconds" in change else "")}
    assert main(["check-metrics", "--committed", str(committed), "--reproduced", str(reproduced),
                 "--tolerances", str(tolerances)]) == 1
    assert "BREACH" in capsys.readouterr().out


def test_a_missing_metric_is_a_breach_a_new_one_is_reported(dirs):
    committed, reproduced, tolerances = dirs
    write(reproduced, "content.json", {**{k: v for k, v in COMMITTED.items() if k != "test_cer"}, "dev_cer": 0.2})
    write(reproduced, "extra.json", {"n": 1})
    found = statuses(committed, reproduced, tolerances)
    assert found["content.test_cer"] == "missing" and found["content.dev_cer"] == "new" and found["extra.n"] == "new"
    rows = {r.metric: r for r in check_metrics(committed, reproduced, tolerances)}
    assert rows["content.test_cer"].breach and not rows["content.dev_cer"].breach


def test_a_committed_metric_without_a_rule_is_a_breach(dirs):
    committed, reproduced, tolerances = dirs
    write(committed, "judges.json", {"roc_auc": 0.9})
    write(reproduced, "content.json", COMMITTED)
    write(reproduced, "judges.json", {"roc_auc": 0.9})
    assert statuses(committed, reproduced, tolerances)["judges.roc_auc"] == "no rule"


@pytest.mark.parametrize("problem", ["no reproduced file", "no committed folder", "bad rule"])
def test_bad_input_is_one_line_and_exit_2(dirs, problem, capsys):
    committed, reproduced, tolerances = dirs
    write(reproduced, "other.json", {})
    if problem == "no committed folder":
        committed = committed.parent / "nowhere"
    if problem == "bad rule":
        tolerances.write_text("rules:\n  - {match: '*', kind: abs}\n")
    assert main(["check-metrics", "--committed", str(committed), "--reproduced", str(reproduced),
                 "--tolerances", str(tolerances)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_the_project_tolerances_cover_every_committed_metric():
    """Every key of the committed metrics/*.json matches a declared rule, and the committed set
    passes against itself."""
    rules = read_rules(ROOT / "metrics/tolerances.yaml")
    rows = check_metrics(ROOT / "metrics", ROOT / "metrics", ROOT / "metrics/tolerances.yaml")
    assert len(rows) == len(read_metrics(ROOT / "metrics")) > 100 and all(r.status == "ok" for r in rows)
    assert {r.kind for r in rules} >= {"exact", "abs", "rel", "skip"}
