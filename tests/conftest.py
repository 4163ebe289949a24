"""Shared fixtures."""
import pytest
import torch


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
