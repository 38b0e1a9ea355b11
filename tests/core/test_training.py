import threading
import time

import numpy as np
import pytest
import torch

from tests.core.helpers import toy_data
from vae_studio.core.config import ConfigError, RunConfig
from vae_studio.core.devices import DeviceError, resolve_device
from vae_studio.core.steps import WARMUP_STEPS, GraphSteps
from vae_studio.core.training import Diverged, EpochEnd, StepChunk, TrainControl, Trainer


def small_config(**train) -> RunConfig:
    c = RunConfig()
    c.model.hidden = [32]
    c.model.latent_dim = 4
    c.train.batch_size = 32
    c.train.epochs = 1
    for k, v in train.items():
        setattr(c.train, k, v)
    return c


def test_loss_falls_over_a_few_steps():
    t = Trainer(small_config(epochs=3), toy_data())
    losses = np.concatenate([e.losses[:, 0] for e in t.iter_train() if isinstance(e, StepChunk)])
    assert losses[-10:].mean() < 0.8 * losses[:5].mean()
    assert t.history.status == "finished"
    assert len(t.history.epochs) == 3
    assert t.history.epochs[-1]["test_neg_elbo"] < t.history.epochs[0]["test_neg_elbo"]


def test_events_report_steps_epochs_and_per_dimension_kl():
    data = toy_data()
    t = Trainer(small_config(), data, log_every=7)
    events = list(t.iter_train())
    chunks = [e for e in events if isinstance(e, StepChunk)]
    steps = np.concatenate([c.steps for c in chunks])
    assert list(steps) == list(range(1, t.step + 1))  # every step reported exactly once, in order
    assert t.step == -(-len(data.train_x) // 32)
    (end,) = [e for e in events if isinstance(e, EpochEnd)]
    assert len(end.record["test_kl_per_dim"]) == 4
    assert sum(end.record["test_kl_per_dim"]) == pytest.approx(end.record["test_kl"], rel=1e-6)


def test_same_seed_gives_same_weights_and_other_seed_does_not():
    def weights(seed):
        t = Trainer(small_config(seed=seed), toy_data())
        t.train()
        return torch.cat([p.flatten() for p in t.model.parameters()])

    a, b, c = weights(3), weights(3), weights(4)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("arch,kind", [("conv", "vae"), ("mlp", "cvae"), ("conv", "cvae")])
def test_other_families_train(arch, kind):
    c = small_config(epochs=2)
    c.model.arch, c.model.kind = arch, kind
    t = Trainer(c, toy_data())
    t.train()
    e = t.history.epochs
    assert e[-1]["test_neg_elbo"] < e[0]["train_total"]  # learnt something in two epochs
    assert t.model.conditional == (kind == "cvae")


def test_kl_warmup_ramps_beta_from_zero():
    t = Trainer(small_config(beta=4.0, kl_warmup_epochs=2, epochs=2), toy_data(), log_every=2)
    chunks = [e for e in t.iter_train() if isinstance(e, StepChunk)]
    assert chunks[0].beta < 0.5
    assert chunks[-1].beta == pytest.approx(4.0, rel=0.1)
    assert t.history.epochs[0]["beta"] < t.history.epochs[1]["beta"] == pytest.approx(4.0)


def test_stop_takes_effect_within_one_step():
    ctl = TrainControl()
    t = Trainer(small_config(epochs=50), toy_data(), control=ctl, log_every=5)
    gen = t.iter_train()
    next(gen)
    at_stop = t.step
    ctl.stop()
    rest = list(gen)
    assert t.step <= at_stop + 1
    assert t.history.status == "stopped"
    assert not any(isinstance(e, EpochEnd) for e in rest)


def test_pause_holds_the_step_count_and_resume_continues():
    ctl = TrainControl()
    t = Trainer(small_config(epochs=200), toy_data(), control=ctl, log_every=2)
    thread = threading.Thread(target=t.train)
    thread.start()
    try:
        deadline = time.time() + 10
        while t.step < 4 and time.time() < deadline:
            time.sleep(0.005)
        ctl.pause()
        time.sleep(0.1)  # let the current step finish
        held = t.step
        time.sleep(0.3)
        assert t.step == held, "steps kept running while paused"
        ctl.resume()
        deadline = time.time() + 10
        while t.step == held and time.time() < deadline:
            time.sleep(0.005)
        assert t.step > held, "resume did not continue training"
    finally:
        ctl.stop()
        thread.join(10)
    assert not thread.is_alive()
    assert t.history.status == "stopped"


def test_nan_in_a_step_stops_the_run_and_keeps_the_last_good_weights():
    t = Trainer(small_config(epochs=5), toy_data(), log_every=10)
    real_step = t._train_step
    saved = {}

    def poisoned(x, y, beta):
        if t.step == 14:  # the 15th step sees a NaN input
            x = x.clone()
            x[0, 0, 0, 0] = float("nan")
        return real_step(x, y, beta)

    t._train_step = poisoned
    events = []
    for ev in t.iter_train():
        events.append(ev)
        if isinstance(ev, StepChunk) and ev.steps[-1] == 10:
            saved = {k: v.clone() for k, v in t.model.state_dict().items()}
    assert isinstance(events[-1], Diverged)
    assert events[-1].step == 15
    assert "step 15" in events[-1].message
    assert t.history.status == "diverged"
    for k, v in t.model.state_dict().items():
        assert torch.isfinite(v).all()
        assert torch.equal(v, saved[k]), k
    assert all(np.isfinite(row).all() for row in t.history.steps)


def test_binarized_data_trains_on_bernoulli_draws():
    data = toy_data()
    data.binarize = True
    t = Trainer(small_config(), data)
    t.train()
    assert t.history.status == "finished"


def test_absent_device_is_refused_with_a_message():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(DeviceError, match="no CUDA"):
        resolve_device("cuda")
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device("tpu7")
    with pytest.raises(DeviceError):
        Trainer(small_config(device="cuda:1"), toy_data())


def test_invalid_settings_are_refused():
    c = small_config()
    c.model.kind = "cvae"
    data = toy_data()
    data.train_y = data.test_y = None
    with pytest.raises(ConfigError, match="class labels"):
        Trainer(c, data)
    c = small_config(lr=-1)
    with pytest.raises(ConfigError, match="learning rate"):
        Trainer(c, toy_data())
    c = small_config()
    c.model.arch = "conv"
    with pytest.raises(ConfigError, match="divisible by 4"):
        Trainer(c, toy_data(size=18))


def test_the_fast_optimiser_gives_the_losses_of_plain_adam(monkeypatch):
    """The engine's Adam (fused where available) follows the same trajectory as torch's default Adam."""
    import vae_studio.core.training as training

    fast = Trainer(small_config(epochs=2), toy_data())
    fast.train()
    monkeypatch.setattr(training, "make_adam", lambda params, lr, **kw: torch.optim.Adam(params, lr=lr, **kw))
    plain = Trainer(small_config(epochs=2), toy_data())
    plain.train()
    a, b = np.asarray(fast.history.steps), np.asarray(plain.history.steps)
    assert a.shape == b.shape and len(a) > 10
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


class GlobalRngHammer:
    """Another thread that keeps drawing from torch's global generator, as decoding, sampling and metrics
    threads do while a run trains in the GUI."""

    def __init__(self):
        self._stop = threading.Event()
        self.draws = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            torch.randn(64)
            torch.rand(8).bernoulli_()
            self.draws += 1
            time.sleep(0.0002)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)


def _trained(config, data):
    t = Trainer(config, data, log_every=3)
    t.train()
    return t


@pytest.mark.parametrize("binarize", [False, True])
def test_same_seed_gives_a_bit_identical_run_while_other_threads_draw_random_numbers(binarize):
    data = toy_data()
    data.binarize = binarize  # dynamic binarisation draws too
    with GlobalRngHammer() as hammer:
        a = _trained(small_config(epochs=2, seed=5), data)
        torch.manual_seed(1234)  # someone else reseeding the global generator changes nothing either
        b = _trained(small_config(epochs=2, seed=5), data)
    assert hammer.draws > 10
    assert a.history.steps == b.history.steps  # every step's losses, exactly
    assert [e["test_total"] for e in a.history.epochs] == [e["test_total"] for e in b.history.epochs]
    sa, sb = a.model.state_dict(), b.model.state_dict()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_training_leaves_the_global_generator_alone():
    torch.manual_seed(7)
    before = torch.get_rng_state()
    _trained(small_config(epochs=1), toy_data())
    assert torch.equal(torch.get_rng_state(), before)


class EagerlyReplayedGraphSteps(GraphSteps):
    """The CUDA-graph executor with its capture and replays run eagerly, so that what the graph records (the
    batch gathered by a device-side counter, the in-graph KL warm-up, the logged terms, the warm-up undone,
    the partial last batch run eagerly) is checked on the CPU as well. A replay overwrites the gradients,
    as the captured backward does."""

    def _record(self):
        for _ in range(WARMUP_STEPS):
            self.t.optimizer.zero_grad(set_to_none=True)
            self._body()
        return "recorded"

    def _replay(self):
        self.t.optimizer.zero_grad(set_to_none=True)
        self._body()


@pytest.mark.parametrize("settings", [{}, {"kl_warmup_epochs": 2, "grad_clip": 0.5, "binarize": True}])
def test_the_step_a_cuda_graph_captures_trains_like_the_eager_step(settings):
    settings = dict(settings)
    data = toy_data()  # 540 training images: 16 full batches of 32 and a partial one of 28
    data.binarize = settings.pop("binarize", False)
    eager = _trained(small_config(epochs=2, **settings), data)
    graphed = Trainer(small_config(epochs=2, **settings), data, log_every=3)
    graphed._make_steps = lambda x, y, bs: EagerlyReplayedGraphSteps(graphed, x, y, bs)
    graphed.train()
    a, b = np.asarray(eager.history.steps), np.asarray(graphed.history.steps)
    assert a.shape == b.shape == (2 * 17, 4)
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
    for key in ("train_total", "test_total"):
        assert [e[key] for e in graphed.history.epochs] == pytest.approx([e[key] for e in eager.history.epochs],
                                                                         rel=1e-5)
    for k, v in eager.model.state_dict().items():
        torch.testing.assert_close(graphed.model.state_dict()[k], v, rtol=1e-5, atol=1e-6)


def test_bf16_autocast_trains_to_the_quality_of_float32():
    """The bfloat16 option (faster matrix products on CPUs with AVX512-BF16 and on GPUs) keeps the weights,
    the noise and the loss in float32 and reaches the same test -ELBO (within a few percent on this toy)."""
    data = toy_data()
    f32 = _trained(small_config(epochs=3), data)
    b16 = Trainer(small_config(epochs=3), data, log_every=3, bf16=True)
    b16.train()
    assert b16.history.status == "finished"
    assert all(p.dtype == torch.float32 for p in b16.model.parameters())
    assert np.isfinite(np.asarray(b16.history.steps)).all()
    assert b16.history.steps != f32.history.steps  # it did run in bfloat16
    assert b16.history.epochs[-1]["test_neg_elbo"] == pytest.approx(f32.history.epochs[-1]["test_neg_elbo"],
                                                                    rel=0.03)
