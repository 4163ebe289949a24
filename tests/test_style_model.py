"""Harmonic filters and the style encoder: the paper's filterbank, gradients to Q, save / load."""
import librosa
import numpy as np
import pytest
import torch

from pipeline.audio import FrontEnd
from pipeline.errors import UserError
from pipeline.models.harmonic_filters import HarmonicFilters, harmonic_centres
from pipeline.models.style_encoder import (Block, StyleEncoder, StyleEncoderConfig, load_style_encoder,
                                           save_style_encoder)

TINY_BLOCKS = (Block("conv", 4, (4, 2)), Block("res", 4, (2, 2)), Block("conv", 8, (4, 4)))


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_encoder(**overrides) -> StyleEncoder:
    torch.manual_seed(0)
    return StyleEncoder(StyleEncoderConfig(blocks=TINY_BLOCKS, embedding_size=16, **overrides), FrontEnd())


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
    style = {"harmonic": {"n_harmonic": 6, "semitone_scale": 2, "initial_q": 1.0, "learn_q": True,
                          "min_amplitude": 1e-4, "time_pool": 1},
             "encoder": {"embedding_size": 256, "activation": "sigmoid", "global_pool": "max", "blocks":
                         [{"kind": "conv", "channels": 128, "pool": [2, 2]}]
                         + [{"kind": "res", "channels": 128, "pool": [2, 2]}] * 3
                         + [{"kind": "conv", "channels": 256, "pool": [2, 2]}]
                         + [{"kind": "res", "channels": 256, "pool": [2, 3]}] * 2}}
    model = StyleEncoder(StyleEncoderConfig.from_params(style), FrontEnd()).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 161, 200))
    assert out.shape == (1, 256) and float(out.min()) >= 0 and float(out.max()) <= 1


def test_bad_blocks_are_user_errors():
    with pytest.raises(UserError, match="res block"):
        StyleEncoder(StyleEncoderConfig(blocks=(Block("conv", 4, (2, 2)), Block("res", 8, (2, 2)))), FrontEnd())
    with pytest.raises(UserError, match="conv or res"):
        StyleEncoder(StyleEncoderConfig(blocks=(Block("lstm", 4, (2, 2)),)), FrontEnd())
    with pytest.raises(UserError, match="activation"):
        StyleEncoder(StyleEncoderConfig(blocks=TINY_BLOCKS, activation="tanh"), FrontEnd())


def test_save_load_round_trip(tmp_path):
    model = tiny_encoder(time_pool=2, initial_q=0.8).eval()
    with torch.no_grad():
        model.harmonic.q.fill_(0.7)
    spec = torch.rand(2, 161, 50)
    save_style_encoder(model, tmp_path / "a.pt")
    save_style_encoder(model, tmp_path / "b.pt")
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    loaded = load_style_encoder(tmp_path / "a.pt")
    assert loaded.config == model.config and loaded.front_end == model.front_end
    assert loaded.q == pytest.approx(0.7)
    torch.testing.assert_close(loaded(spec), model(spec))


def test_load_errors(tmp_path):
    with pytest.raises(UserError, match="no style encoder"):
        load_style_encoder(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="not a style encoder"):
        load_style_encoder(tmp_path / "junk.pt")
