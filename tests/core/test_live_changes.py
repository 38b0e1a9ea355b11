"""Changing beta and the learning rate of a running run: applied between steps, recorded in the history and in
the config's schedule, saved in the run folder, and replayed by a run trained from that config."""
import json

import numpy as np
import pytest
import torch

from tests.core.helpers import toy_data
from tests.core.test_training import small_config
from vae_studio.core.checkpoint import CheckpointError, Run, load_run, save_run
from vae_studio.core.config import ConfigError, RunConfig
from vae_studio.core.training import HyperparametersChanged, StepChunk, TrainControl, Trainer


def train_with_live_change(config, data, at_step, **values) -> Trainer:
    """Train, asking for ``values`` once the chunk ending at ``at_step`` has been yielded (log_every divides
    it, so the loop takes the request before step at_step + 1)."""
    control = TrainControl()
    t = Trainer(config, data, control=control, log_every=5)
    asked = False
    for ev in t.iter_train():
        if isinstance(ev, StepChunk) and int(ev.steps[-1]) == at_step:
            control.set_hyperparameters(**values)
            asked = True
    assert t.history.status == "finished" and asked, "no chunk ended at that step"
    return t


def test_a_live_change_is_used_by_later_steps_and_recorded():
    data = toy_data()
    config = small_config(epochs=2, beta=1.0, lr=1e-3)
    control = TrainControl()
    t = Trainer(config, data, control=control, log_every=5)
    betas, changes = {}, []
    for ev in t.iter_train():
        if isinstance(ev, StepChunk):
            betas[int(ev.steps[-1])] = ev.beta
            if int(ev.steps[-1]) == 10:
                control.set_hyperparameters(beta=4.0, lr=5e-4)
        elif isinstance(ev, HyperparametersChanged):
            changes.append(ev.change)
    assert betas[10] == 1.0 and betas[15] == 4.0
    assert changes == t.history.changes == [{"step": 10, "epoch": 1, "beta": 4.0, "lr": 5e-4}]
    assert all(g["lr"] == 5e-4 for g in t.optimizer.param_groups)
    assert t.history.epochs[-1]["beta"] == 4.0 and t.history.epochs[-1]["lr"] == 5e-4
    # the config keeps the starting values and gains the schedule that replays the change
    assert (config.train.beta, config.train.lr) == (1.0, 1e-3)
    assert config.train.schedule == [[10, 4.0, 5e-4]]


def test_only_beta_changes_when_only_beta_is_asked_for():
    t = train_with_live_change(small_config(epochs=1, lr=2e-3), toy_data(), 5, beta=0.5)
    assert t.history.changes == [{"step": 5, "epoch": 1, "beta": 0.5, "lr": 2e-3}]


def test_a_live_beta_replaces_the_target_of_the_kl_warm_up():
    data = toy_data()  # 540 training images, batches of 32: 17 steps an epoch
    control = TrainControl()
    t = Trainer(small_config(epochs=2, beta=1.0, kl_warmup_epochs=2), data, control=control, log_every=1)
    betas = {}
    for ev in t.iter_train():
        if isinstance(ev, StepChunk):
            betas[int(ev.steps[-1])] = ev.beta
            if int(ev.steps[-1]) == 8:
                control.set_hyperparameters(beta=4.0)
    assert betas[8] == pytest.approx(1.0 * 8 / 34)
    assert betas[9] == pytest.approx(4.0 * 9 / 34)  # the ramp goes on, towards the new beta
    assert betas[34] == pytest.approx(4.0)


def test_a_run_replaying_a_saved_schedule_trains_the_same_weights(tmp_path):
    data = toy_data()
    live = train_with_live_change(small_config(epochs=2, beta=1.0), data, 15, beta=3.0, lr=3e-3)
    folder = save_run(Run(config=live.config, model=live.model, history=live.history), tmp_path / "live")
    saved = json.loads((folder / "config.json").read_text())["config"]["train"]
    assert saved["beta"] == 1.0 and saved["schedule"] == [[15, 3.0, 3e-3]]
    loaded = load_run(folder)
    assert loaded.history.changes == live.history.changes

    replay = Trainer(RunConfig.from_dict(loaded.config.to_dict()), data)
    replay.train()
    assert replay.history.changes == live.history.changes
    assert np.array_equal(np.asarray(replay.history.steps), np.asarray(live.history.steps))
    a, b = live.model.state_dict(), replay.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # without the schedule the same seed trains another run: the change mattered
    plain = Trainer(small_config(epochs=2, beta=1.0), data)
    plain.train()
    assert plain.history.steps[:15] == live.history.steps[:15]
    assert plain.history.steps[15:] != live.history.steps[15:]


def test_a_live_change_at_a_step_of_the_schedule_wins():
    config = small_config(epochs=1)
    config.train.schedule = [[5, 2.0, 1e-3], [10, 3.0, 1e-3]]
    t = train_with_live_change(config, toy_data(), 5, beta=7.0)
    assert [c["beta"] for c in t.history.changes] == [7.0, 3.0]
    assert config.train.schedule == [[5, 7.0, 1e-3], [10, 3.0, 1e-3]]


@pytest.mark.parametrize("schedule,words", [
    ([[5, -1.0, 1e-3]], "beta"),
    ([[5, float("nan"), 1e-3]], "beta"),
    ([[5, 1.0, 0.0]], "learning rate"),
    ([[5, 1.0, float("inf")]], "learning rate"),
    ([[5, 1.0, 1e-3], [5, 2.0, 1e-3]], "increase"),
    ([[7, 1.0, 1e-3], [5, 2.0, 1e-3]], "increase"),
    ([[2.5, 1.0, 1e-3]], "whole number"),
    ([[-1, 1.0, 1e-3]], "whole number"),
    ([[5, 1.0]], "3 numbers"),
    ([5], "rows of numbers"),
    ([["5", 1.0, 1e-3]], "rows of numbers"),
])
def test_a_bad_schedule_is_refused_with_one_line(schedule, words):
    config = small_config()
    config.train.schedule = schedule
    with pytest.raises(ConfigError, match=words) as e:
        config.validate()
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("values", [{"beta": -1.0}, {"beta": float("inf")}, {"lr": 0.0}, {"lr": float("nan")}])
def test_a_bad_live_value_is_refused(values):
    control = TrainControl()
    with pytest.raises(ConfigError):
        control.set_hyperparameters(**values)
    assert control.take_hyperparameters() == {}


def test_history_changes_are_type_checked_and_old_folders_still_open(tmp_path):
    live = train_with_live_change(small_config(epochs=1), toy_data(), 5, beta=2.0)
    folder = save_run(Run(config=live.config, model=live.model, history=live.history), tmp_path / "run")
    h = json.loads((folder / "history.json").read_text())

    def with_history(name, history):
        other = tmp_path / name
        run = load_run(folder)
        run.history.changes = history
        return save_run(run, other)

    del h["changes"]  # a folder saved before live changes existed
    old = save_run(Run(config=live.config, model=live.model, history=type(live.history).from_dict(h)),
                   tmp_path / "old")
    assert load_run(old).history.changes == []
    for i, bad in enumerate([[{"step": 5, "epoch": 1, "beta": "2", "lr": 1e-3}],
                             [{"step": 5, "epoch": 1, "beta": 2.0}],
                             [{"step": 5, "epoch": 1, "beta": -2.0, "lr": 1e-3}],
                             [{"step": 5, "epoch": 1, "beta": 2.0, "lr": 1e-3}] * 2]):
        with pytest.raises(CheckpointError, match="changes"):
            load_run(with_history(f"bad{i}", bad))
