"""Changing β and the learning rate of the running run from the training panel: Apply to running run, the
change in the run's history with its step, a marker on the curves, saved with the run and replayed by a run
started from its settings."""
from PySide6.QtWidgets import QFileDialog

from vae_studio.core.checkpoint import load_run
from vae_studio.ui.training.settings_form import LIVE_NOTE, NEXT_RUN_NOTE

from .test_training_panel import TIMEOUT, click, panel, train_to_end  # noqa: F401 - the fixture

__all__ = ["panel"]


def apply_and_wait(qtbot, panel):
    with qtbot.waitSignal(panel.controller.hyperparametersChanged, timeout=TIMEOUT) as blocker:
        click(qtbot, panel.apply_live)
    return blocker.args[1]


def test_beta_and_lr_changed_while_training_are_recorded_drawn_saved_and_replayed(qtbot, panel, tmp_path,
                                                                                  monkeypatch):
    assert panel.apply_live.isHidden() and panel.next_run_note.text() == NEXT_RUN_NOTE
    panel.epochs.setValue(10000)
    with qtbot.waitSignal(panel.stepsReceived, timeout=TIMEOUT):
        click(qtbot, panel.start_button)
    run = panel.workspace.runs[0]
    assert panel.next_run_note.text() == LIVE_NOTE and not panel.apply_live.isHidden()
    assert not panel.apply_live.isEnabled()  # the controls show what the run trains with
    panel.beta.setValue(4.0)
    assert panel.apply_live.isEnabled()

    change = apply_and_wait(qtbot, panel)
    assert change["beta"] == 4.0 and change["lr"] == 1e-3 and change["step"] >= 1
    assert run.history.changes == [change]
    assert not panel.apply_live.isEnabled()  # applied: nothing differs any more
    qtbot.waitUntil(lambda: panel.plot.change_markers(run) == [(change["step"], "β 1→4")], timeout=TIMEOUT)
    assert run.config.train.beta == 1.0  # the run's settings keep the starting value...
    assert run.config.train.schedule == [[change["step"], 4.0, 1e-3]]  # ...and the change, to replay it
    # later steps train with the new beta (the progress reports it)
    with qtbot.waitSignal(panel.controller.progressed, timeout=TIMEOUT,
                          check_params_cb=lambda p: p.step > change["step"] + 1) as blocker:
        pass
    assert blocker.args[0].beta == 4.0

    panel.lr.setValue(5e-4)
    second = apply_and_wait(qtbot, panel)
    assert second["step"] > change["step"] and (second["beta"], second["lr"]) == (4.0, 5e-4)
    assert run.history.changes == [change, second]
    qtbot.waitUntil(lambda: [label for _s, label in panel.plot.change_markers(run, "kl")]
                    == ["β 1→4", "lr 0.001→0.0005"], timeout=TIMEOUT)

    with qtbot.waitSignal(panel.runFinished, timeout=TIMEOUT):
        click(qtbot, panel.stop_button)
    qtbot.waitUntil(lambda: panel.controller.threads_running == 0, timeout=TIMEOUT)
    assert panel.apply_live.isHidden() and panel.next_run_note.text() == NEXT_RUN_NOTE

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "live-run"), ""))
    with qtbot.waitSignal(panel.runSaved, timeout=TIMEOUT):
        click(qtbot, panel.runs.save_button)
    loaded = load_run(tmp_path / "live-run")
    assert loaded.history.changes == [change, second]
    assert loaded.config.train.schedule == [[change["step"], 4.0, 1e-3], [second["step"], 4.0, 5e-4]]

    # the run's settings (what opening its folder shows) make Retrain replay both changes at their steps
    panel.set_config(loaded.config)
    assert "2 changes" in panel.form.schedule_note.text()
    assert (panel.beta.value(), panel.lr.value()) == (1.0, 1e-3)
    panel.epochs.setValue(second["epoch"])
    replay = train_to_end(qtbot, panel, panel.retrain_button)
    assert replay is not run and replay.history.status == "finished"
    assert replay.history.changes == [change, second]
    qtbot.waitUntil(lambda: [label for _s, label in panel.plot.change_markers(replay)]
                    == ["β 1→4", "lr 0.001→0.0005"], timeout=TIMEOUT)
    # New run forgets the schedule
    panel.reset_settings()
    assert panel.form.train_config().schedule == [] and panel.form.schedule_note.isHidden()
