"""Fixtures shared by the unit tests."""
import pytest
import torch

from utils.runtime import set_threads


@pytest.fixture(scope="module")
def one_thread():
    """Small models run fastest on one thread (the notebooks' setting); restored afterwards."""
    before = torch.get_num_threads()
    set_threads()
    yield
    torch.set_num_threads(before)
