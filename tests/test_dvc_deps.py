"""What DVC knows must be what the code uses: each stage's `deps` cover every project module its
script imports (directly or through other project modules, function-level imports included), and
every path its `cmd` names is one of its deps or outs."""
from __future__ import annotations

import ast
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
PACKAGES = ("pipeline", "stages")


def module_file(name: str) -> Path | None:
    """`pipeline.data.mtat` -> pipeline/data/mtat.py (or its package's __init__.py); None outside the project."""
    if name.split(".")[0] not in PACKAGES:
        return None
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    """Every module named by an import anywhere in the file; `from a import b` names a.b too
    (b may be a submodule)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def with_parents(name: str) -> list[str]:
    """Importing a.b.c runs a/__init__.py and a/b/__init__.py first."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def has_code(path: Path) -> bool:
    """False for a file that is only a docstring (an empty package __init__ changes nothing)."""
    body = ast.parse(path.read_text()).body
    return any(not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) for node in body)


def import_closure(script: Path) -> set[str]:
    """Project files (relative posix paths) that running `script` can execute."""
    seen, todo = set(), [script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_modules(path):
            for parent in with_parents(name):
                found = module_file(parent)
                if found and found not in seen:
                    todo.append(found)
    return {p.relative_to(ROOT).as_posix() for p in seen if has_code(p)}


def covered(path: str, deps: list[str]) -> bool:
    return any(path == dep or path.startswith(dep.rstrip("/") + "/") for dep in deps)


def declared(entries) -> list[str]:
    """dvc.yaml lists entries as strings or {path: options}."""
    return [next(iter(e)) if isinstance(e, dict) else e for e in entries or []]


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_deps_cover_every_imported_project_module(stage):
    spec = STAGES[stage]
    module = shlex.split(spec["cmd"])[2]  # python -m stages.<name> ...
    closure = import_closure(module_file(module))
    missing = sorted(p for p in closure if not covered(p, declared(spec.get("deps"))))
    assert not missing, f"{stage}: dvc.yaml deps lack {missing}"


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_deps_list_no_project_module_the_stage_does_not_run(stage):
    """A stale dep reruns the stage for edits that cannot change its outputs."""
    spec = STAGES[stage]
    closure = import_closure(module_file(shlex.split(spec["cmd"])[2]))
    code = [d for d in declared(spec.get("deps")) if d.startswith(PACKAGES)]
    stale = [d for d in code if not any(covered(path, [d]) for path in closure)]
    assert not stale, f"{stage}: dvc.yaml deps list {stale}, which its script never imports"


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_path_in_cmd_is_a_dep_or_an_out(stage):
    spec = STAGES[stage]
    words = shlex.split(spec["cmd"])
    paths = [words[i + 1] for i, word in enumerate(words[:-1]) if word.startswith("--")]
    listed = declared(spec.get("deps")) + declared(spec.get("outs")) + declared(spec.get("metrics")) \
        + declared(spec.get("plots"))
    assert paths and all(p in listed for p in paths), f"{stage}: {[p for p in paths if p not in listed]} not declared"


def test_the_closure_follows_imports_through_modules_and_functions(tmp_path, monkeypatch):
    """The checker itself: a stage importing a module that imports another inside a function."""
    closure = import_closure(ROOT / "stages" / "evaluate_style.py")
    assert {"stages/evaluate_style.py", "pipeline/evaluation/style.py", "pipeline/data/triplets.py",
            "pipeline/config.py", "pipeline/audio.py"} <= closure
    assert not any(p.startswith((".venv", "tests")) for p in closure)
