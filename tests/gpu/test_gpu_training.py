"""Training on CUDA: the CUDA-graph path trains like the eager path, the same seed gives the same run while
other threads use the GPU's and the CPU's global generators, and CUDA runs save and reopen like CPU runs.
Core only (runs on a box without the GUI stack); skipped on machines without a GPU (CI)."""
import threading

import numpy as np
import pytest
import torch

from tests.core.helpers import toy_data
from tests.core.test_training import small_config
from vae_studio.core.checkpoint import Run, load_run, save_run
from vae_studio.core.training import Trainer

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def trained(config, data, **kw) -> Trainer:
    t = Trainer(config, data, log_every=5, **kw)
    t.train()
    assert t.history.status == "finished", t.history.message
    return t


def test_cuda_training_learns_and_saves_like_cpu(tmp_path):
    data = toy_data()
    results = {dev: trained(small_config(device=dev, epochs=3), data) for dev in ("cpu", "cuda")}
    assert results["cuda"].graphed  # the default CUDA path replays a graph
    cpu, gpu = (results[d].history.epochs[-1]["test_neg_elbo"] for d in ("cpu", "cuda"))
    assert gpu == pytest.approx(cpu, rel=0.1)  # same model and data; only float rounding and noise differ
    t = results["cuda"]
    folder = save_run(Run(config=t.config, model=t.model, history=t.history), tmp_path / "gpu-run")
    loaded = load_run(folder)  # saved from the GPU, loaded on the CPU
    x = data.test_x[:4].float() / 255
    mu_gpu = t.model.encode(x.cuda())[0].cpu()
    assert torch.allclose(loaded.model.encode(x)[0], mu_gpu, atol=1e-4)


@pytest.mark.parametrize("arch,kind,extra", [
    ("mlp", "vae", {}),
    ("mlp", "cvae", {"kl_warmup_epochs": 2, "grad_clip": 1.0, "binarize": True}),
    ("conv", "vae", {}),
])
def test_the_cuda_graph_path_gives_the_losses_of_the_eager_path(arch, kind, extra):
    extra = dict(extra)
    data = toy_data()  # 540 training images: 16 full batches of 32 (replayed) and a partial one (eager)
    data.binarize = extra.pop("binarize", False)
    runs = {}
    for graph in (False, True):
        c = small_config(device="cuda", epochs=2, **extra)
        c.model.arch, c.model.kind = arch, kind
        runs[graph] = trained(c, data, cuda_graph=graph)
    assert runs[True].graphed and not runs[False].graphed
    a, b = np.asarray(runs[False].history.steps), np.asarray(runs[True].history.steps)
    assert a.shape == b.shape == (2 * 17, 4)
    np.testing.assert_allclose(b, a, rtol=2e-3, atol=2e-3)
    ea, eb = runs[False].history.epochs[-1], runs[True].history.epochs[-1]
    assert eb["test_neg_elbo"] == pytest.approx(ea["test_neg_elbo"], rel=2e-3)
    assert eb["train_total"] == pytest.approx(ea["train_total"], rel=2e-3)


def test_the_same_seed_gives_the_same_cuda_run_while_other_threads_use_the_gpu():
    stop = threading.Event()
    errors = []

    def hammer():  # a decode or metrics thread meanwhile: GPU work, its own CUDA generator, the CPU's global one
        g = torch.Generator(device="cuda").manual_seed(0)
        w = torch.randn(256, 256, device="cuda", generator=g)
        try:
            while not stop.is_set():
                (torch.randn(64, 256, device="cuda", generator=g) @ w).sum().item()
                torch.randn(64)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    thread = threading.Thread(target=hammer, daemon=True)
    thread.start()
    try:
        data = toy_data()
        data.binarize = True
        a, b = (trained(small_config(device="cuda", epochs=2, seed=4), data) for _ in range(2))
    finally:
        stop.set()
        thread.join(10)
    assert errors == []  # the captures did not disturb the other thread
    assert a.graphed and b.graphed
    assert a.history.steps == b.history.steps
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k


def test_a_nan_on_the_cuda_graph_path_rolls_back_to_finite_weights():
    data = toy_data()
    t = Trainer(small_config(device="cuda", epochs=3, lr=1e30), data, log_every=4)  # blows up at once
    events = list(t.iter_train())
    assert t.graphed
    assert t.history.status == "diverged", t.history.message
    assert "weights of step" in t.history.message
    assert all(torch.isfinite(v).all() for v in t.model.state_dict().values())
    assert all(np.isfinite(row).all() for row in t.history.steps)
    assert events


def test_bf16_autocast_trains_on_the_cuda_graph_path():
    data = toy_data()
    f32 = trained(small_config(device="cuda", epochs=3), data)
    b16 = trained(small_config(device="cuda", epochs=3), data, bf16=True)
    assert b16.graphed
    assert np.isfinite(np.asarray(b16.history.steps)).all()
    assert b16.history.epochs[-1]["test_neg_elbo"] == pytest.approx(f32.history.epochs[-1]["test_neg_elbo"],
                                                                    rel=0.03)


@pytest.mark.parametrize("warmup", [0, 2])
def test_a_live_change_reaches_the_captured_step_as_it_does_the_eager_one(warmup):
    """Beta and the learning rate are device tensors that every replay reads: a change needs no re-capture."""
    data = toy_data()
    runs = {}
    for graph in (False, True):
        c = small_config(device="cuda", epochs=2, kl_warmup_epochs=warmup)
        t = Trainer(c, data, log_every=5, cuda_graph=graph)
        runs[graph] = t
        control = t.control
        for ev in t.iter_train():
            if hasattr(ev, "steps") and int(ev.steps[-1]) == 10:
                control.set_hyperparameters(beta=6.0, lr=4e-3)
        assert t.history.changes == [{"step": 10, "epoch": 1, "beta": 6.0, "lr": 4e-3}]
    assert runs[True].graphed
    a, b = np.asarray(runs[False].history.steps), np.asarray(runs[True].history.steps)
    np.testing.assert_allclose(b, a, rtol=2e-3, atol=2e-3)
    # and the change mattered: a run without it trains differently after step 10
    plain = trained(small_config(device="cuda", epochs=2, kl_warmup_epochs=warmup), data, cuda_graph=True)
    p = np.asarray(plain.history.steps)
    np.testing.assert_allclose(p[:10], b[:10], rtol=2e-3, atol=2e-3)
    assert np.abs(p[12:, 3] - b[12:, 3]).max() > 0.05 * np.abs(p[12:, 3]).max()
