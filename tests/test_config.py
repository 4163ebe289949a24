"""params.yaml is read strictly: a misspelt key, a wrong type or an out-of-range value is one
`error:` line naming the key and exit status 2, before a stage does any work."""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.config import (ConfigError, ContentConfig, Params, StyleCnnConfig, deep_merge, load_params, parse,
                             to_dict)

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = yaml.safe_load((ROOT / "params.yaml").read_text())


def test_the_default_params_load_and_round_trip():
    params = load_params(ROOT / "params.yaml")
    assert isinstance(params, Params)
    assert params.content.model.conv_kernels == ((21, 11), (11, 11))  # lists become tuples
    assert params.subset.genres["hip-hop"] == ("hip hop", "rap")
    assert parse(Params, to_dict(params), "") == params


@pytest.mark.parametrize("override, message", [
    ({"content": {"model": {"rnn_hiden": 512}}}, "content.model.rnn_hiden: unknown key"),
    ({"content": {"train": {"epochs": "four"}}}, "content.train.epochs: must be an integer, got 'four'"),
    ({"content": {"train": {"epochs": 0}}}, "content.train.epochs: must be >= 1, got 0"),
    ({"content": {"train": {"sortagrad": 1}}}, "content.train.sortagrad: must be true or false, got 1"),
    ({"content": {"model": {"rnn_type": "rnn"}}}, "content.model.rnn_type: must be one of lstm, gru, got 'rnn'"),
    ({"content": {"model": {"conv_kernels": [[41, 11]]}}}, "content.model: conv_channels, conv_kernels and"),
    ({"style": {"encoder": {"blocks": [{"kind": "res", "channels": 8, "pool": [2, 2]}]}}},
     "style.encoder: blocks[0]: a res block keeps"),
    ({"style": {"harmonic": {"initial_q": -1}}}, "style.harmonic.initial_q: must be > 0, got -1"),
    ({"style": {"encoder": {"blocks": [{"kind": "conv", "channels": 8, "pool": [2]}]}}},
     "style.encoder.blocks[0].pool: must be a list of 2"),
    ({"data": {"mtat": {"source": "local"}}}, "data.mtat: source is 'local' but root is not set"),
    ({"subset": {"priority": ["hip-hop"]}}, "subset: priority must list each genre"),
    ({"clips": {"hop_seconds": None}}, "clips.hop_seconds: must be a number, got None"),
    ({"generation": {}}, "generation: unknown key"),
    ({"generate": {"method": {"init": "silence"}}}, "generate.method.init: must be one of speech, noise, mix"),
    ({"generate": {"baseline": {"griffin_lim_momentum": 1.0}}}, "generate.baseline.griffin_lim_momentum: must be < 1"),
    ({"generate": {"overlap_seconds": 6}}, "generate: overlap_seconds must be below window_seconds / 2"),
])
def test_bad_values_name_their_key(override, message):
    with pytest.raises(ConfigError) as err:
        parse(Params, deep_merge(DEFAULTS, override), "")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_missing_key_is_named():
    content = copy.deepcopy(DEFAULTS["content"])
    del content["train"]["lr"]
    with pytest.raises(ConfigError, match=r"content\.train\.lr: missing"):
        parse(ContentConfig, content, "content")


def test_optional_sections_accept_null_and_a_mapping():
    train = {**DEFAULTS["content"]["train"], "spec_augment": {"freq_masks": 2, "freq_width": 15}}
    config = parse(ContentConfig, {**DEFAULTS["content"], "train": train}, "content")
    assert config.train.spec_augment.freq_masks == 2 and config.train.spec_augment.time_masks == 0
    with pytest.raises(ConfigError, match=r"spec_augment\.freq_mask: unknown key"):
        parse(ContentConfig, {**DEFAULTS["content"], "train": {**train, "spec_augment": {"freq_mask": 2}}}, "content")


def test_configs_are_frozen():
    cnn = parse(StyleCnnConfig, DEFAULTS["style"]["encoder"], "style.encoder")
    with pytest.raises(AttributeError):
        cnn.embedding_size = 3


@pytest.mark.parametrize("stage, args, override, key", [
    ("pretrain_content", ["--speech", "speech.csv", "--music", "clips.csv", "--model", "out/m.pt", "--metrics", "out/m.json", "--curves",
                          "out/c.csv"], {"content": {"model": {"rnn_hiden": 512}}}, "content.model.rnn_hiden"),
    ("train_style", ["--clips", "clips.csv", "--model", "out/s.pt", "--curves", "out/c.csv"],
     {"style": {"epochs": 2.5}}, "style.epochs"),
    ("cut_clips", ["--subset", "subset.csv", "--clips", "out/clips", "--manifest", "out/clips.csv"],
     {"clips": {"seconds": -10}}, "clips.seconds"),
])
def test_a_stage_with_bad_params_prints_one_line_and_exits_2(tmp_path, stage, args, override, key):
    """As `dvc exp run -S content.model.rnn_hiden=512` would run it: nothing starts, nothing is written."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(deep_merge(DEFAULTS, override)))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    done = subprocess.run([sys.executable, "-m", f"stages.{stage}", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: params.yaml: ") and key in lines[0], done.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "mlflow.db").exists()
