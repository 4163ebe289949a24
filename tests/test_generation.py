"""Generation on tiny random encoders: each loss is zero for identical statistics and grows with
the difference; a few steps lower the total; windows cross-fade back to the input's length; the
output is loudness-normalised, never clipped, and the same seed gives the same bytes."""
import dataclasses
import io

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import click_track, tiny_generation_models
from pipeline.config import load_params
from pipeline.generation.generator import Generator, default_beat
from pipeline.generation.init import initial_spectrogram, loop_to_length
from pipeline.generation.losses import centroid_loss, content_loss, gram_loss, gram_matrix, total_variation
from pipeline.generation.optimise import Objective, optimise
from pipeline.generation.render import normalise_loudness
from pipeline.fileio import md5_of
from pipeline.generation.targets import load_style_targets, save_style_targets
from pipeline.generation.windows import crossfade_weights, join_windows, split_windows, window_starts

pytestmark = pytest.mark.usefixtures("one_torch_thread")
RATE = 16000
CONFIG = load_params().generate


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """A voiced, syllable-like signal: a harmonic tone with a 4 Hz on/off envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 8))
    return (0.2 * tone * (np.sin(2 * np.pi * 4 * t) > 0) + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def models():
    return tiny_generation_models()


def method(**changes):
    """The default method on the tiny style encoder's two blocks."""
    return dataclasses.replace(CONFIG.method, **{"style_blocks": (1, 2), **changes})


def spectrogram_of(samples: np.ndarray) -> torch.Tensor:
    return load_params().audio.spectrogram()(torch.from_numpy(samples))


def test_each_loss_is_zero_for_identical_inputs_and_grows_with_the_difference(models):
    content, style, targets = models
    speech = spectrogram_of(speech_like(1.0))[None]
    nearer, farther = speech + 0.05 * torch.rand_like(speech), speech + 0.5 * torch.rand_like(speech)
    with torch.no_grad():
        c = lambda x: float(content_loss(content.content_features(x), content.content_features(speech)))
        maps = lambda x: style.block_maps(x)
        reference_grams = [gram_matrix(m)[0] for m in maps(speech)]
        g = lambda x: float(gram_loss(maps(x), reference_grams))
        own = torch.nn.functional.normalize(style(speech)[0], dim=0)
        e = lambda x: float(centroid_loss(style(x), own))
    for loss in (c, g, e):
        assert loss(speech) == pytest.approx(0.0, abs=1e-6)
        assert 0 < loss(nearer) < loss(farther)
    flat = torch.ones(1, 161, 50)
    assert float(total_variation(flat)) == 0.0
    assert 0 < float(total_variation(flat + 0.1 * torch.rand_like(flat))) < float(total_variation(flat + torch.rand_like(flat)))


def test_style_block_maps_end_in_the_embedding(models):
    _, style, _ = models
    x = spectrogram_of(click_track(1.5))[None]
    maps = style.block_maps(x)
    assert len(maps) == len(style.cnn)
    assert torch.equal(style.embed_last_map(maps[-1]), style(x))


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_a_few_steps_lower_the_total_loss(models, optimizer):
    content, style, targets = models
    speech = spectrogram_of(speech_like(1.2))
    start = initial_spectrogram(speech_like(1.2), "mix", 1.0, load_params().audio, click_track(1.2))
    settings = method(optimizer=optimizer, lr=0.05 if optimizer == "adam" else 0.5, steps=6, style_weight=1.0,
                      centroid_weight=0.5, tv_weight=0.01, style_crop_frames=None)
    objective = Objective(content, style, speech[None], targets, settings)
    _, history = optimise(objective, start[None], settings, torch.Generator().manual_seed(0))
    assert len(history) == 6 and set(history[0]) == {"content", "style", "centroid", "tv", "total"}
    assert history[-1]["total"] < history[0]["total"]


def test_windows_cover_the_input_and_cross_fade_back_to_its_length():
    assert window_starts(80, 100, 10) == [0]
    starts = window_starts(250, 100, 10)
    assert starts[0] == 0 and starts[-1] == 150 and all(b - a <= 90 for a, b in zip(starts, starts[1:]))
    weights = crossfade_weights(starts, 100, 250)
    total = torch.zeros(250, dtype=torch.float64)
    for s, w in zip(starts, weights):
        total[s:s + 100] += w
    assert torch.allclose(total, torch.ones(250, dtype=torch.float64))
    spectrogram = torch.rand(161, 250) * 3
    joined = join_windows(split_windows(spectrogram, starts, 100), starts, 250)
    assert joined.shape == spectrogram.shape and torch.allclose(joined, spectrogram, atol=1e-5)


def test_a_long_input_is_windowed_and_keeps_its_duration(models):
    config = dataclasses.replace(CONFIG, window_seconds=1.0, overlap_seconds=0.2)
    generator = Generator(*models, config)
    speech = speech_like(2.63)
    result = generator.generate(speech, method(steps=2, style_crop_frames=32), seed=0, beat=default_beat(models[2], 0))
    assert generator.window_frames < result.input_spectrogram.shape[-1]  # several windows
    assert len(result.waveform) == len(speech)
    assert result.output_spectrogram.shape == result.input_spectrogram.shape


def wav_bytes(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.mark.parametrize("init", ["speech", "noise", "mix"])
def test_same_seed_gives_identical_bytes_and_never_clips(models, init):
    generator = Generator(*models, CONFIG)
    speech, beat = speech_like(1.0), click_track(3.0)
    settings = method(init=init, steps=3, random_phase=True)
    first, second = (generator.generate(speech, settings, seed=7, beat=beat) for _ in range(2))
    assert wav_bytes(first.waveform) == wav_bytes(second.waveform)
    assert np.abs(first.waveform).max() <= 10 ** (CONFIG.peak_dbfs / 20) + 1e-6
    assert 0 <= first.spectral_convergence < 1
    other = generator.generate(speech, settings, seed=8, beat=beat)
    if init != "speech" or settings.random_phase:
        assert wav_bytes(other.waveform) != wav_bytes(first.waveform)


def test_loudness_normalisation_meets_the_target_or_the_peak_ceiling():
    import torchaudio

    quiet = torch.from_numpy(speech_like(2.0)) * 0.01
    out = normalise_loudness(quiet, RATE, lufs=-20.0, peak_dbfs=-1.0)
    assert float(torchaudio.functional.loudness(torch.from_numpy(out)[None].double(), RATE)) == pytest.approx(-20, abs=0.1)
    spiky = torch.zeros(RATE)
    spiky[::4000] = 1.0
    out = normalise_loudness(spiky, RATE, lufs=-6.0, peak_dbfs=-1.0)
    assert np.abs(out).max() == pytest.approx(10 ** (-1 / 20), rel=1e-5)
    assert not normalise_loudness(torch.zeros(RATE), RATE, -16.0, -1.0).any()


def test_mix_init_adds_the_looped_beat_magnitude():
    speech, beat = speech_like(1.0), click_track(0.3)
    assert len(loop_to_length(beat, len(speech))) == len(speech)
    front_end = load_params().audio
    alone = initial_spectrogram(speech, "speech", 1.0, front_end)
    mixed = initial_spectrogram(speech, "mix", 1.0, front_end, beat)
    assert mixed.shape == alone.shape and bool((mixed >= alone - 1e-6).all()) and float((mixed - alone).mean()) > 0.01
    with pytest.raises(ValueError, match="needs a beat"):
        initial_spectrogram(speech, "mix", 1.0, front_end)


def test_style_targets_round_trip_and_refuse_another_encoder(models, tmp_path):
    _, style, targets = models
    torch.save({"weights": 1}, tmp_path / "encoder.pt")
    md5 = md5_of(tmp_path / "encoder.pt")
    save_style_targets(tmp_path / "targets.pt", targets, style.front_end, md5)
    loaded = load_style_targets(tmp_path / "targets.pt", style.front_end, md5)
    assert all(torch.equal(a, b) for a, b in zip(loaded.grams, targets.grams))
    assert np.array_equal(loaded.beats[0].samples, targets.beats[0].samples) and loaded.beats[0].bpm == 90.0
    with pytest.raises(ValueError, match="another style encoder"):
        load_style_targets(tmp_path / "targets.pt", style.front_end, "0" * 32)


def test_beat_flow_puts_the_words_on_the_beat_and_the_output_follows_their_length(models):
    from pipeline.generation.flow import beat_alignment

    generator = Generator(*models, CONFIG)
    speech, beat = speech_like(3.0, seed=4), click_track(8.0, bpm=96.0)
    plain = generator.generate(speech, method(steps=2, flow="none"), 0, beat=beat)
    timed = generator.generate(speech, method(steps=2, flow="beat"), 0, beat=beat)
    assert plain.grid is None and plain.speech is not None and len(plain.waveform) == len(speech)
    assert abs(timed.grid.bpm - 96) < 2 and len(timed.waveform) == len(timed.speech)
    # re-timed, the words run longer or shorter, never past the stretch limit
    assert abs(np.log(len(timed.speech) / len(speech))) <= np.log(CONFIG.flow.max_stretch)
    assert beat_alignment(timed.speech, RATE, timed.grid, CONFIG.flow) >= 0.8
    assert beat_alignment(timed.speech, RATE, timed.grid, CONFIG.flow) > beat_alignment(speech, RATE, timed.grid,
                                                                                        CONFIG.flow)
    again = generator.generate(speech, method(steps=2, flow="beat"), 0, beat=beat)
    assert again.waveform.tobytes() == timed.waveform.tobytes()
    # the beat's grid handed in (as the stages do, each beat analysed once) gives the same bytes
    given = generator.generate(speech, method(steps=2, flow="beat"), 0, beat=beat, grid=timed.grid)
    assert given.grid == timed.grid and given.waveform.tobytes() == timed.waveform.tobytes()
    assert generator.generate(speech, method(steps=2, flow="none"), 0, beat=beat, grid=timed.grid).grid is None


def test_frechet_distance_is_zero_for_one_set_grows_with_a_shift_and_takes_a_single_clip():
    from pipeline.evaluation.generation import frechet_distance

    rng = np.random.default_rng(0)
    a = rng.standard_normal((50, 4))
    assert abs(frechet_distance(a, a)) < 1e-4
    shift = np.array([3.0, 0, 0, 0])
    assert abs(frechet_distance(a + shift, a) - 9.0) < 1e-3
    one = frechet_distance(a[:1], a)  # a set of one: no spread, its distance is still defined
    assert np.isfinite(one) and one > frechet_distance(a[:25], a)
