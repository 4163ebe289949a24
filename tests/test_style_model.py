"""Harmonic filters and the style encoder: the paper's filterbank, gradients to Q, the encoder
config, save / load and the checkpoint format."""
import dataclasses

import librosa
import numpy as np
import pytest
import torch

from pipeline.audio import FrontEnd
from pipeline.config import BlockConfig, ConfigError, HarmonicConfig, StyleCnnConfig, load_params, parse
from pipeline.models.harmonic_filters import HarmonicFilters, harmonic_centres
from pipeline.models.style_encoder import CHECKPOINT, StyleEncoder, embed, load_style_encoder, save_style_encoder

TINY_BLOCKS = (BlockConfig(kind="conv", channels=4, pool=(4, 2)), BlockConfig(kind="res", channels=4, pool=(2, 2)),
               BlockConfig(kind="conv", channels=8, pool=(4, 4)))
TINY_CNN = StyleCnnConfig(blocks=TINY_BLOCKS, embedding_size=16)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_encoder(**harmonic) -> StyleEncoder:
    """The tiny CNN over harmonic filters with `harmonic` overriding HarmonicConfig's defaults."""
    torch.manual_seed(0)
    return StyleEncoder(HarmonicConfig(**harmonic), TINY_CNN, FrontEnd())


def test_centres_match_the_paper_definition():
    # Won et al.: MIDI grid from C1 to the note at sr / (2 * n_harmonic), semitone_scale steps per
    # semitone, the last grid point dropped, stacked for harmonics 1..n_harmonic.
    centres, level = harmonic_centres(16000, n_harmonic=6, semitone_scale=2)
    low, high = librosa.note_to_midi("C1"), librosa.note_to_midi(librosa.hz_to_note(16000 / 12))
    assert (low, high) == (24, 88)  # C1 .. E6
    assert level == 128
    expected = librosa.midi_to_hz(np.linspace(low, high, level + 1)[:-1])
    assert centres.shape == (6 * 128,)
    for h in range(6):
        np.testing.assert_allclose(centres[h * level:(h + 1) * level], expected * (h + 1), rtol=1e-9)
    assert centres.max() < 8000  # every harmonic stays below Nyquist


def test_filterbank_shape_and_triangles():
    filters = HarmonicFilters(16000, n_freq=161)
    fb = filters.filterbank().detach()
    assert fb.shape == (161, 768)
    assert float(fb.min()) >= 0 and float(fb.max()) <= 1
    # A wide filter (the 6th harmonic of the top note) peaks within half a bin of its centre.
    top = int(fb[:, -1].argmax())
    assert abs(top * 50 - float(filters.centres_hz[-1])) <= 25
    # Bandwidth (0.1079 f + 24.7) / Q: halving Q doubles each triangle's support.
    wide = HarmonicFilters(16000, n_freq=161, initial_q=0.5).filterbank()
    assert int((wide[:, -1] > 0).sum()) > int((fb[:, -1] > 0).sum())


def test_harmonic_tensor_shape_and_db():
    filters = HarmonicFilters(16000, n_freq=161, time_pool=4, min_amplitude=1e-4)
    out = filters(torch.zeros(2, 161, 101))
    assert out.shape == (2, 6, 128, 26)  # ceil(101 / 4) frames
    assert torch.allclose(out, torch.full_like(out, -80.0))  # silence sits at the dB floor


def test_gradients_reach_q():
    model = tiny_encoder()
    spec = torch.log1p(torch.rand(3, 161, 64) * 10)
    model(spec).pow(2).sum().backward()
    grad = model.harmonic.q.grad
    assert grad is not None and float(grad.abs()) > 0


def test_q_is_fixed_when_not_learned():
    model = tiny_encoder(learn_q=False)
    assert "harmonic.q" not in dict(model.named_parameters())
    assert model.q == 1.0


def test_encoder_shapes_any_length():
    model = tiny_encoder().eval()
    for frames in (7, 64, 1001):
        assert model(torch.rand(2, 161, frames)).shape == (2, 16)
    assert model.embed_waveform(torch.zeros(1, 16000)).shape == (1, 16)


def test_original_size_is_reachable_from_params():
    harmonic = {"n_harmonic": 6, "semitone_scale": 2, "initial_q": 1.0, "learn_q": True, "min_amplitude": 1e-4,
                "time_pool": 1}
    encoder = {"embedding_size": 256, "activation": "sigmoid", "global_pool": "max", "blocks":
               [{"kind": "conv", "channels": 128, "pool": [2, 2]}]
               + [{"kind": "res", "channels": 128, "pool": [2, 2]}] * 3
               + [{"kind": "conv", "channels": 256, "pool": [2, 2]}]
               + [{"kind": "res", "channels": 256, "pool": [2, 3]}] * 2}
    style = dataclasses.replace(load_params().style, harmonic=parse(HarmonicConfig, harmonic, "style.harmonic"),
                                encoder=parse(StyleCnnConfig, encoder, "style.encoder"))
    assert style.encoder.blocks[-1] == BlockConfig(kind="res", channels=256, pool=(2, 3))
    model = StyleEncoder.from_params(style, FrontEnd()).eval()
    assert [type(block).__name__ for block in model.cnn] == ["ConvBlock"] + ["ResidualBlock"] * 3 + ["ConvBlock"] \
        + ["ResidualBlock"] * 2
    with torch.no_grad():
        out = model(torch.rand(1, 161, 200))
    assert out.shape == (1, 256) and float(out.min()) >= 0 and float(out.max()) <= 1


def test_bad_blocks_are_config_errors_naming_the_key():
    def cnn(blocks, **rest):
        return parse(StyleCnnConfig, {"blocks": blocks, **rest}, "style.encoder")

    conv4 = {"kind": "conv", "channels": 4, "pool": [2, 2]}
    with pytest.raises(ConfigError, match=r"^style\.encoder: blocks\[1\]: a res block keeps its input's 4 channels"):
        cnn([conv4, {"kind": "res", "channels": 8, "pool": [2, 2]}])
    with pytest.raises(ConfigError, match=r"^style\.encoder: blocks\[0\]: a res block"):
        cnn([{"kind": "res", "channels": 4, "pool": [2, 2]}])  # a res block needs a block before it
    with pytest.raises(ConfigError, match=r"^style\.encoder\.blocks\[0\]\.kind: must be one of conv, res"):
        cnn([{"kind": "lstm", "channels": 4, "pool": [2, 2]}])
    with pytest.raises(ConfigError, match=r"^style\.encoder\.activation: must be one of none, sigmoid"):
        cnn([conv4], activation="tanh")
    with pytest.raises(ConfigError, match=r"^style\.encoder\.global_pool: must be one of"):
        cnn([conv4], global_pool="mean")
    with pytest.raises(ConfigError, match=r"^style\.encoder\.blocks\[0\]\.pool: must be >= 1"):
        cnn([{**conv4, "pool": [0, 2]}])
    with pytest.raises(ConfigError, match=r"^style\.encoder\.blocks\[0\]\.pool: must be a list of 2"):
        cnn([{**conv4, "pool": [2]}])
    with pytest.raises(ConfigError, match=r"^style\.encoder\.blocks\[0\]\.chanels: unknown key"):
        cnn([{"kind": "conv", "chanels": 4, "pool": [2, 2]}])
    with pytest.raises(ConfigError, match=r"^style\.encoder: blocks must list at least one block"):
        cnn([])
    with pytest.raises(TypeError, match="StyleCnnConfig"):
        StyleEncoder(HarmonicConfig(), {"blocks": [conv4]}, FrontEnd())  # a plain dict is not a checked config


def test_bad_harmonic_filters_are_value_errors():
    with pytest.raises(ValueError, match="n_harmonic and semitone_scale"):
        harmonic_centres(16000, n_harmonic=0, semitone_scale=2)
    with pytest.raises(ValueError, match="no band above C1"):
        harmonic_centres(16000, n_harmonic=400, semitone_scale=2)
    for bad in ({"initial_q": 0.0}, {"min_amplitude": 0.0}, {"time_pool": 0}):
        with pytest.raises(ValueError, match="initial_q and min_amplitude must be positive"):
            HarmonicFilters(16000, n_freq=161, **bad)
    with pytest.raises(ConfigError, match=r"^style\.harmonic\.initial_q: must be > 0"):
        parse(HarmonicConfig, {"initial_q": 0}, "style.harmonic")


def test_save_load_round_trip(tmp_path):
    model = tiny_encoder(time_pool=2, initial_q=0.8).eval()
    with torch.no_grad():
        model.harmonic.q.fill_(0.7)
    spec = torch.rand(2, 161, 50)
    save_style_encoder(model, tmp_path / "a.pt")
    save_style_encoder(model, tmp_path / "b.pt")
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    loaded = load_style_encoder(tmp_path / "a.pt")
    assert loaded.config == model.config and loaded.harmonic_config == model.harmonic_config
    assert loaded.front_end == model.front_end and not loaded.training
    assert loaded.q == pytest.approx(0.7)
    torch.testing.assert_close(loaded(spec), model(spec))


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no style.encoder at .*missing.pt.*dvc repro train_style"):
        load_style_encoder(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a style.encoder"):
        load_style_encoder(tmp_path / "junk.pt")


def test_checkpoint_of_another_version_or_format_is_a_one_line_error(tmp_path):
    path = tmp_path / "style_encoder.pt"
    save_style_encoder(tiny_encoder(), path)
    payload = torch.load(path, weights_only=True)
    assert (payload["format"], payload["version"]) == CHECKPOINT
    torch.save({**payload, "version": CHECKPOINT[1] + 1}, path)
    newer, current = CHECKPOINT[1] + 1, CHECKPOINT[1]
    with pytest.raises(ValueError, match=f"version {newer}, this code reads version {current}") as err:
        load_style_encoder(path)
    assert "\n" not in str(err.value) and "dvc repro train_style" in str(err.value)
    torch.save({**payload, "format": "content_encoder"}, path)
    with pytest.raises(ValueError, match="not a style.encoder checkpoint"):
        load_style_encoder(path)
    torch.save({key: value for key, value in payload.items() if key != "version"}, path)
    with pytest.raises(ValueError, match="version None"):
        load_style_encoder(path)


def test_embed_batches_in_eval_mode_and_restores_the_mode():
    model = tiny_encoder().train()
    specs = torch.rand(5, 161, 40)
    out = embed(model, specs, batch_size=2)
    assert out.shape == (5, 16) and model.training
    with torch.no_grad():
        torch.testing.assert_close(out, model.eval()(specs), rtol=1e-5, atol=1e-6)
