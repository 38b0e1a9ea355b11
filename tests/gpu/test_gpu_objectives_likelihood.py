"""InfoVAE and IWAE on the CUDA-graph path train like the eager path (their draws come from the run's
generator, registered with the graph); capacity-vae, whose target follows a host-side step count, trains
eagerly on CUDA with its C right at every step. Skipped on machines without a GPU (CI)."""
import numpy as np
import pytest
import torch

from tests.core.helpers import toy_data
from tests.core.test_training import small_config
from vae_studio.core.objectives.capacity import capacity_at
from vae_studio.core.training import Trainer

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def trained(kind, settings, **kw) -> Trainer:
    c = small_config(device="cuda", epochs=2)
    c.model.kind, c.model.settings = kind, dict(settings)
    t = Trainer(c, toy_data(), log_every=5, **kw)  # 540 images: 16 full batches of 32 and a partial one
    t.train()
    assert t.history.status == "finished", t.history.message
    return t


@pytest.mark.parametrize("kind,settings", [("iwae", {"iw_samples": 5}), ("infovae", {"kernel": "rbf"})])
def test_the_cuda_graph_path_trains_the_variant_as_the_eager_path_does(kind, settings):
    runs = {graph: trained(kind, settings, cuda_graph=graph) for graph in (False, True)}
    assert runs[True].graphed and not runs[False].graphed
    a, b = np.asarray(runs[False].history.steps), np.asarray(runs[True].history.steps)
    assert a.shape == b.shape == (2 * 17, 5)
    np.testing.assert_allclose(b, a, rtol=2e-3, atol=2e-3)


def test_capacity_vae_trains_eagerly_on_cuda_with_its_target_at_every_step():
    t = trained("capacity-vae", {"capacity_max": 8.0, "capacity_epochs": 1.0})
    assert not t.graphed and "capacity-vae" in t.graph_note
    for row in t.history.steps:
        assert row[4] == pytest.approx(capacity_at(row[0] - 1, 8.0, 17))
