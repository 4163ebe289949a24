"""Read `params.yaml`: the single home of every knob."""
from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.errors import UserError


def load_params(path: str | Path = "params.yaml") -> dict:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} not found: run from the project root")
    try:
        params = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise UserError(f"{path} is not valid YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(params, dict):
        raise UserError(f"{path} must be a mapping of sections")
    return params


def section(params: dict, dotted: str):
    """`section(p, "data.mtat")` -> p["data"]["mtat"], with a clear error when it is missing."""
    node = params
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise UserError(f"params.yaml has no `{dotted}`")
        node = node[key]
    return node


def deep_merge(base: dict, override: dict) -> dict:
    """Return `base` with `override` merged in recursively (lists are replaced, not merged)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
