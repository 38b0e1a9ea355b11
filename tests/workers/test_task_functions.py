"""The background computations as plain task functions: run here with a fake task state, no thread."""
import numpy as np
import pytest
import torch

from tests.core.helpers import toy_data
from vae_studio.core.config import ModelConfig
from vae_studio.core.latent import encode_dataset
from vae_studio.core.models import build_model
from vae_studio.workers.decoding import GRID_PADDING, cell_at, decode_grid, decode_latents, grid_image
from vae_studio.workers.encoding import encode_split, kl_per_dim
from vae_studio.workers.metrics import compute_metrics


class FakeState:
    """Records progress; reports cancelled after ``cancel_after`` checks (never when None)."""

    def __init__(self, cancel_after=None):
        self.cancel_after, self.checks, self.progress, self.statuses = cancel_after, 0, [], []

    def is_cancelled(self):
        self.checks += 1
        return self.cancel_after is not None and self.checks > self.cancel_after

    def set_progress(self, fraction):
        self.progress.append(fraction)

    def set_status(self, text):
        self.statuses.append(text)


@pytest.fixture(scope="module")
def data():
    return toy_data(n=250, size=12, classes=3)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(ModelConfig(latent_dim=3, hidden=[16], image_size=12)).eval()


def test_encode_split_matches_encode_dataset_and_reports_progress(data, model):
    state = FakeState()
    out = encode_split(state, model, data.train_x, data.train_y, chunk=100, threads=1)
    ref = encode_dataset(model, data.train_x, data.train_y)
    np.testing.assert_allclose(out.mu, ref.mu, atol=1e-6)
    np.testing.assert_allclose(out.logvar, ref.logvar, atol=1e-6)
    np.testing.assert_array_equal(out.labels, data.train_y.numpy())
    np.testing.assert_allclose(out.kl, kl_per_dim(ref.mu, ref.logvar))
    assert state.progress == pytest.approx([100 / 225, 200 / 225, 1.0])


def test_encode_split_stops_when_cancelled_and_handles_an_empty_split(data, model):
    state = FakeState(cancel_after=1)
    assert encode_split(state, model, data.train_x, None, chunk=100, threads=1) is None
    assert len(state.progress) == 1  # one chunk encoded, then it gave up
    empty = encode_split(FakeState(), model, data.test_x[:0], None)
    assert empty.mu.shape == (0, 3) and empty.labels is None and np.all(empty.kl == 0)


def test_encoding_chunks_on_several_threads_gives_the_same_split(data, model):
    """The scatter is the same whichever number of threads encoded it (the app uses the cores torch leaves)."""
    one = encode_split(FakeState(), model, data.train_x, data.train_y, chunk=30, threads=1)
    state = FakeState()
    three = encode_split(state, model, data.train_x, data.train_y, chunk=30, threads=3)
    for a, b in ((one.mu, three.mu), (one.logvar, three.logvar), (one.labels, three.labels), (one.kl, three.kl)):
        np.testing.assert_array_equal(a, b)
    assert sorted(state.progress) == state.progress and state.progress[-1] == 1.0
    assert encode_split(FakeState(cancel_after=2), model, data.train_x, None, chunk=30, threads=3) is None


def test_decode_grid_decodes_in_chunks_and_lays_out_the_grid(model):
    z = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    state = FakeState()
    out = decode_grid(state, model, z, None, nrow=5, chunk=4)
    ref = decode_latents(model, z)
    np.testing.assert_allclose(out.images, ref.numpy(), atol=1e-6)
    np.testing.assert_array_equal(out.grid, grid_image(ref, 5))
    assert state.progress == pytest.approx([0.4, 0.8, 1.0])
    assert cell_at(GRID_PADDING, GRID_PADDING, 10, 5, (12, 12)) == 0  # the top-left pixel of the first image


def test_decode_grid_gives_up_when_cancelled(model):
    z = np.zeros((10, 3), np.float32)
    state = FakeState(cancel_after=2)
    assert decode_grid(state, model, z, None, nrow=5, chunk=4) is None
    assert len(state.progress) == 2  # two chunks decoded, then it stopped


def test_compute_metrics_returns_the_metrics_or_none_when_cancelled(data, model):
    res = compute_metrics(FakeState(), model, data, "bce", 1.0, 1.0, 3, 0)
    assert res["iwae_k"] == 3 and res["active_units"] <= 3 and np.isfinite(res["neg_elbo"])
    state = FakeState(cancel_after=0)  # cancelled from the start: stops at its first check
    assert compute_metrics(state, model, data, "bce", 1.0, 1.0, 3, 0) is None and state.checks >= 1
