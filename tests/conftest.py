"""Shared fixtures."""
import pytest
import torch

from tiny_repo import build_tiny_repo


@pytest.fixture()
def one_torch_thread():
    """Tiny tensors: one thread is faster, and immune to spinning against a busy machine.
    Modules opt in with `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                                              reason="no CUDA device"))])
def device(request) -> str:
    """Each torch device a test should hold on: the CPU always, CUDA when present."""
    return request.param


# --- tiny generation models: what `python -m pipeline generate` loads, built in seconds ---------
TINY_CONTENT = {"conv_channels": [4, 4], "conv_kernels": [[41, 11], [21, 11]], "conv_strides": [[2, 2], [2, 2]],
                "head_stride": 1, "rnn_type": "gru", "rnn_hidden": 8, "rnn_layers": 1, "content_layers": [2]}
TINY_STYLE_BLOCKS = [{"kind": "conv", "channels": 4, "pool": [4, 4]}, {"kind": "conv", "channels": 8, "pool": [4, 4]}]


def click_track(seconds: float, bpm: float = 90.0, rate: int = 16000, seed: int = 0):
    """A toy beat: decaying noise bursts on every beat over a low hum."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    phase = (t * bpm / 60) % 1
    return (0.3 * rng.standard_normal(len(t)) * np.exp(-phase * 20) + 0.1 * np.sin(2 * np.pi * 55 * t)).astype("float32")


def tiny_generation_models():
    """(content encoder, style encoder, style targets) of random tiny weights, frozen, on the default
    front end; the style encoder has 2 blocks."""
    from pipeline.audio import FrontEnd
    from pipeline.config import ContentModelConfig, HarmonicConfig, StyleCnnConfig, parse
    from pipeline.generation.generator import freeze_style
    from pipeline.generation.targets import Beat, reference_statistics
    from pipeline.models.content_encoder import ContentEncoder, freeze
    from pipeline.models.style_encoder import StyleEncoder

    front_end = FrontEnd()
    torch.manual_seed(0)
    content = ContentEncoder(front_end, parse(ContentModelConfig, TINY_CONTENT, "content.model"))
    style = StyleEncoder(HarmonicConfig(time_pool=4), parse(StyleCnnConfig, {"blocks": TINY_STYLE_BLOCKS,
                                                                             "embedding_size": 16}, "encoder"), front_end)
    freeze(content)
    freeze_style(style)
    spectrogram = front_end.spectrogram()
    references = [spectrogram(torch.from_numpy(click_track(3.0, bpm, seed=i))) for i, bpm in enumerate((85.0, 95.0))]
    targets = reference_statistics(style, references)
    targets.beats = [Beat(click_track(2.0, 90.0, seed=5), "toy-beat", 90.0)]
    return content, style, targets


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory):
    """A `models/` folder as `make repro` leaves it for generation: both encoders and the style targets."""
    from pipeline.fileio import md5_of
    from pipeline.generation.targets import save_style_targets
    from pipeline.models.content_encoder import save_content_encoder
    from pipeline.models.style_encoder import save_style_encoder

    folder = tmp_path_factory.mktemp("models")
    content, style, targets = tiny_generation_models()
    save_content_encoder(content, folder / "content_encoder.pt")
    save_style_encoder(style, folder / "style_encoder.pt")
    save_style_targets(folder / "style_targets.pt", targets, style.front_end, md5_of(folder / "style_encoder.pt"))
    return folder


@pytest.fixture(scope="session")
def tiny_repo(tmp_path_factory):
    """(repo, env): the project in a git repo, tiny profile, after one `dvc repro` (1-3 min): shared
    by every end-to-end DVC test. Tests that change its workspace work on a `tiny_repo.copy_repo`."""
    return build_tiny_repo(tmp_path_factory.mktemp("repo"))
