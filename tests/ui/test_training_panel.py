"""The training panel: settings -> RunConfig, Start/Pause/Resume/Stop/Retrain, live curves, runs list."""
import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from vae_studio.core import training
from vae_studio.core.checkpoint import load_run
from vae_studio.app.workspace import Workspace
from vae_studio.ui.training.loss_plot import LossPlot
from vae_studio.ui.training.panel import TrainingPanel
from vae_studio.ui.training.settings_form import BETA_SLIDER, beta_to_slider, slider_to_beta

from .helpers import small_data, trained_run, training_panel

TIMEOUT = 20000


@pytest.fixture
def panel(qtbot):
    with training_panel(qtbot, latent=4, hidden="32", batch=32, epochs=2) as p:
        yield p


def click(qtbot, button):
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def train_to_end(qtbot, panel, button=None):
    with qtbot.waitSignal(panel.runFinished, timeout=TIMEOUT) as blocker:
        click(qtbot, button or panel.start_button)
    qtbot.waitUntil(lambda: panel.controller.threads_running == 0, timeout=TIMEOUT)
    return blocker.args[0]


def test_a_short_run_draws_its_curves(qtbot, panel):
    assert panel.start_button.isEnabled() and panel.validation.text() == ""
    run = train_to_end(qtbot, panel)
    s = panel.workspace
    assert s.runs == [run] and s.selected is run
    assert run.history.status == "finished" and len(run.history.epochs) == 2
    # the curves hold exactly the points the trainer recorded
    np.testing.assert_allclose(panel.plot.points(run), np.asarray(run.history.steps))
    qtbot.waitUntil(lambda: panel.plot.drawn_points(run, "total") == len(run.history.steps), timeout=TIMEOUT)
    for metric in ("recon", "kl"):
        assert panel.plot.drawn_points(run, metric) == len(run.history.steps)
    assert len(panel.plot.curves[run.id].epochs) == 2  # one test point per epoch
    assert len(panel.plot.bars.opts["height"]) == 4  # KL of each of the 4 latent dimensions
    assert "of 4 active" in panel.plot.bars_plot.titleLabel.text
    # the runs list shows the settings and the final test loss
    item = panel.runs.tree.topLevelItem(0)
    assert item.text(1) == "finished" and item.text(4) == "4" and item.text(8) == "2/2"
    assert item.text(9) == f"{run.history.last['test_total']:.2f}"
    # the workspace got the trained weights: decoding uses them
    decoded = s.decode_model(run)
    for k, v in run.model.state_dict().items():
        assert torch.equal(decoded.state_dict()[k].cpu(), v.cpu())
    assert panel.start_button.isEnabled() and panel.state == "idle"


def test_pause_stops_the_step_count_and_resume_continues(qtbot, panel):
    panel.epochs.setValue(10000)
    with qtbot.waitSignal(panel.stepsReceived, timeout=TIMEOUT):
        click(qtbot, panel.start_button)
    run = panel.workspace.runs[0]
    click(qtbot, panel.pause_button)
    qtbot.waitUntil(lambda: panel.state == "paused", timeout=TIMEOUT)
    assert panel.pause_button.text() == "Resume"
    n = len(panel.plot.points(run))
    with qtbot.assertNotEmitted(panel.stepsReceived, wait=300):
        pass
    assert len(panel.plot.points(run)) == n
    with qtbot.waitSignal(panel.stepsReceived, timeout=TIMEOUT):
        click(qtbot, panel.pause_button)
    assert len(panel.plot.points(run)) > n
    assert panel.pause_button.text() == "Pause"
    with qtbot.waitSignal(panel.runFinished, timeout=TIMEOUT) as blocker:
        click(qtbot, panel.stop_button)
    assert blocker.args == [run, "stopped"]
    qtbot.waitUntil(lambda: panel.controller.threads_running == 0, timeout=TIMEOUT)
    assert panel.state == "stopped" and panel.start_button.isEnabled()
    assert run in panel.workspace.runs  # a stopped run stays, with its weights
    steps = np.asarray(run.history.steps)
    np.testing.assert_array_equal(steps[:, 0], np.arange(1, len(steps) + 1))


def test_retrain_with_another_beta_adds_a_run_and_overlays_both(qtbot, panel):
    panel.epochs.setValue(1)
    first = train_to_end(qtbot, panel)
    panel.beta.setValue(4.0)
    second = train_to_end(qtbot, panel, panel.retrain_button)
    s = panel.workspace
    assert s.runs == [first, second] and s.selected is second
    assert [r.config.train.beta for r in s.runs] == [1.0, 4.0]
    assert panel.runs.shown_runs() == [first, second]
    for run in (first, second):
        qtbot.waitUntil(lambda r=run: panel.plot.drawn_points(r) == len(r.history.steps) > 0, timeout=TIMEOUT)
    labels = [label.text for _sample, label in panel.plot.legend.items]
    assert labels == ["run 1: β 1", "run 2: β 4"]
    colours = {first.colour, second.colour}
    assert len(colours) == 2
    # selecting one row shows only that run
    panel.runs.select_runs([first])
    assert panel.plot.drawn_points(second) == 0 and panel.plot.shown == [first.id]


def test_retrain_while_training_keeps_the_first_run(qtbot, panel):
    panel.epochs.setValue(10000)
    with qtbot.waitSignal(panel.stepsReceived, timeout=TIMEOUT):
        click(qtbot, panel.start_button)
    first = panel.workspace.runs[0]
    qtbot.waitUntil(lambda: len(first.history.epochs) > 0, timeout=TIMEOUT)  # (one stopped sooner is replaced)
    panel.epochs.setValue(1)
    with qtbot.waitSignal(panel.runFinished, timeout=TIMEOUT, check_params_cb=lambda r, s: r is not first):
        click(qtbot, panel.retrain_button)
    qtbot.waitUntil(lambda: panel.controller.threads_running == 0, timeout=TIMEOUT)
    assert len(panel.workspace.runs) == 2
    assert first.history.status == "stopped" and panel.workspace.runs[1].history.status == "finished"


def test_invalid_settings_disable_start_and_say_why(qtbot, panel):
    panel.kind.setCurrentIndex(panel.kind.findData("cvae"))
    assert panel.start_button.isEnabled()  # the small data set has labels
    panel.workspace.set_data(small_data(labelled=False))
    assert not panel.start_button.isEnabled()
    assert "class labels" in panel.validation.text()
    panel.kind.setCurrentIndex(panel.kind.findData("vae"))
    assert panel.start_button.isEnabled()
    panel.workspace.set_data(small_data(size=18))
    panel.arch.setCurrentIndex(panel.arch.findData("conv"))
    assert not panel.start_button.isEnabled() and "divisible by 4" in panel.validation.text()
    panel.arch.setCurrentIndex(panel.arch.findData("mlp"))
    panel.hidden.setText("64,x")
    assert not panel.start_button.isEnabled() and "hidden sizes" in panel.validation.text().lower()
    panel.hidden.setText("64,32")
    assert panel.start_button.isEnabled() and not panel.validation.isVisibleTo(panel)
    assert panel.current_config().model.hidden == [64, 32]


def test_settings_become_the_run_config(qtbot, panel):
    panel.kind.setCurrentIndex(panel.kind.findData("cvae"))
    panel.arch.setCurrentIndex(panel.arch.findData("conv"))
    panel.beta.setValue(4.0)
    panel.gamma.setValue(2.0)
    panel.recon.setCurrentIndex(panel.recon.findData("mse"))
    panel.warmup.setValue(3)
    panel.lr.setValue(0.0005)
    panel.seed.setValue(7)
    panel.grad_clip.setValue(5.0)
    c = panel.current_config().validate()
    assert (c.model.kind, c.model.arch, c.model.latent_dim, c.model.hidden) == ("cvae", "conv", 4, [32])
    assert (c.model.image_size, c.model.channels, c.model.num_classes) == (16, 1, 3)
    t = c.train
    assert (t.beta, t.gamma, t.recon, t.kl_warmup_epochs, t.lr, t.batch_size, t.epochs, t.seed, t.device,
            t.grad_clip) == (4.0, 2.0, "mse", 3, 0.0005, 32, 2, 7, "cpu", 5.0)
    assert c.data.dataset == "small"


def test_beta_spin_box_and_log_slider_stay_in_sync(qtbot, panel):
    panel.beta_slider.setValue(BETA_SLIDER)
    assert panel.beta.value() == 100.0
    panel.beta_slider.setValue(0)
    assert panel.beta.value() == 0.0
    panel.beta.setValue(4.0)
    assert panel.beta_slider.value() == beta_to_slider(4.0)
    assert slider_to_beta(panel.beta_slider.value()) == pytest.approx(4.0, rel=0.01)
    panel.beta.setValue(0.01)
    assert 0 < panel.beta_slider.value() < beta_to_slider(1.0) < beta_to_slider(4.0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_an_absent_device_is_disabled_with_its_reason(qtbot, panel):
    combo = panel.device
    i = combo.findData("cuda")
    assert i >= 0
    assert not combo.model().item(i).isEnabled()
    assert "no CUDA" in combo.itemData(i, Qt.ItemDataRole.ToolTipRole)
    assert combo.currentData() == "cpu"


def test_a_diverging_run_stops_with_a_message(qtbot, panel, monkeypatch):
    original = training.Trainer._train_step

    def step(self, x, y, beta):
        terms = original(self, x, y, beta)
        if self.step >= 5:
            terms.total = terms.total * float("inf")
        return terms

    monkeypatch.setattr(training.Trainer, "_train_step", step)
    run = train_to_end(qtbot, panel)
    assert run.history.status == "diverged"
    assert "diverged" in panel.message.text() and "inf" in panel.message.text()
    assert panel.state == "diverged"
    state = panel.workspace.decode_model(run).state_dict()
    assert all(torch.isfinite(v).all() for v in state.values())


def test_a_failure_is_shown_not_raised(qtbot, panel, monkeypatch):
    def oom(*_a, **_k):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(training.Trainer, "_train_step", oom)
    run = train_to_end(qtbot, panel)
    assert "out of GPU memory" in panel.message.text()
    assert run.history.status == "failed" and panel.state == "failed"
    assert panel.start_button.isEnabled()


def test_save_a_run_from_the_list(qtbot, panel, tmp_path, monkeypatch):
    panel.epochs.setValue(1)
    run = train_to_end(qtbot, panel)
    seen = {}

    def ask(parent, caption, start, *a, **k):
        seen["start"] = start
        return str(tmp_path / "my-run"), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", ask)
    with qtbot.waitSignal(panel.runSaved, timeout=TIMEOUT):
        click(qtbot, panel.runs.save_button)
    assert seen["start"].endswith("small-vae-mlp-z4-beta1-bce")  # suggested from the settings
    loaded = load_run(tmp_path / "my-run")
    assert loaded.history.steps == run.history.steps
    assert run.folder == tmp_path / "my-run"


def test_runs_list_follows_the_workspace(qtbot, panel):
    panel.epochs.setValue(1)
    first = train_to_end(qtbot, panel)
    second = train_to_end(qtbot, panel, panel.retrain_button)
    panel.workspace.select_run(first)
    assert panel.runs.current_run() is first
    assert panel.plot.current == first.id
    panel.runs.tree.setCurrentItem(panel.runs.tree.topLevelItem(1))  # the user clicks the second row
    assert panel.workspace.selected is second
    panel.workspace.remove_run(first)
    assert panel.runs.tree.topLevelItemCount() == 1 and first.id not in panel.plot.curves


def test_long_data_set_names_are_shortened_but_readable(qtbot):
    p = TrainingPanel(Workspace())
    qtbot.addWidget(p)
    i = p.dataset.findData("sprites")
    p.dataset.setCurrentIndex(i)
    full = p.dataset.itemText(i)
    assert full.startswith("Sprites (built-in")
    # the combo may shrink well below its text; the settings column stays narrow enough for the plots
    assert p.dataset.minimumSizeHint().width() < p.dataset.fontMetrics().horizontalAdvance(full)
    assert p._settings_scroll.minimumWidth() <= 360
    assert full in p.dataset.toolTip() and "data set to train on" in p.dataset.toolTip()
    assert p.dataset.itemData(i, Qt.ItemDataRole.ToolTipRole) == full


def test_the_beta_slider_lands_on_round_values_such_as_4(panel):
    values = {slider_to_beta(p) for p in range(BETA_SLIDER + 1)}
    assert {0.001, 0.01, 0.1, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 100.0} <= values
    panel.beta_slider.setValue(beta_to_slider(4.0))
    assert panel.beta.value() == 4.0
    assert "next run" in panel.next_run_note.text()  # a changed beta applies to the next run


@pytest.mark.parametrize("box, typed, used, words", [
    ("latent", "9999", 512, "Latent size 9999 is above the largest allowed value, 512"),
    ("beta", "1e6", 100.0, "above the largest allowed value, 100"),
    ("lr", "1e-9", 1e-6, "below the smallest"),
])
def test_typed_values_out_of_range_are_clamped_and_said_so(qtbot, panel, box, typed, used, words):
    spin = getattr(panel, box)
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, typed)
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert spin.value() == pytest.approx(used)
    assert words in panel.message.text()


def test_scientific_notation_is_accepted_as_typed(qtbot, panel):
    panel.lr.selectAll()
    qtbot.keyClicks(panel.lr, "3e-4")
    qtbot.keyClick(panel.lr, Qt.Key.Key_Return)
    assert panel.lr.value() == pytest.approx(3e-4) and panel.message.text() == ""


def test_a_new_run_is_overlaid_with_the_current_one_only(qtbot, panel):
    panel.epochs.setValue(1)
    runs = [train_to_end(qtbot, panel, panel.retrain_button if i else None) for i in range(3)]
    assert panel.runs.shown_runs() == runs[1:]  # the legend never grows with every run
    assert [label.text for _sample, label in panel.plot.legend.items] == ["run 2: β 1", "run 3: β 1"]


def test_log_axis_labels_are_few_and_plain():
    from vae_studio.ui.training.loss_axes import LossAxis

    axis = LossAxis("left")
    axis.setLogMode(False, True)
    exps = np.log10([60, 70, 80, 90, 100, 200, 300, 400, 500, 600, 700, 800, 900])
    labels = axis.tickStrings(list(exps), 1.0, 0.1)
    assert [lab for lab in labels if lab] == ["100", "200", "500"]
    assert [lab for lab in axis.tickStrings(list(np.log10([230, 260, 290])), 1.0, 0.05) if lab] == ["230", "260", "290"]



def test_the_legend_shortens_long_run_names_to_fit_its_narrow_plot():
    from types import SimpleNamespace

    from vae_studio.core.config import RunConfig
    from vae_studio.ui.training.loss_plot import run_label

    cfg = RunConfig()
    cfg.train.beta = 4.0
    assert run_label(SimpleNamespace(name="demo: sprites, beta 4", config=cfg)) == "demo: sprit…: β 4"
    assert run_label(SimpleNamespace(name="run 2", config=cfg), with_variant=True) == "run 2: vae β 4"


def test_step_axis_labels_are_short():
    from vae_studio.ui.training.loss_axes import step_label

    assert [step_label(v) for v in (0, 500, 1000, 1500, 12000, 1_200_000)] == ["0", "500", "1k", "1.5k", "12k", "1.2M"]
    # the empty plots' range 0..1: its ticks stay apart (they read "0 0 1 1")
    assert [step_label(v) for v in (0, 0.25, 0.5, 0.75, 1)] == ["0", "0.25", "0.5", "0.75", "1"]


@pytest.mark.qt_log_ignore("propagateSizeHints")  # the offscreen platform's note on a shown minimum size
def test_the_settings_keep_their_width_through_a_run_and_a_retrain(qtbot, panel):
    """The KL bar chart's title changes at each epoch's end and for each new run; the plots must not ask for
    more room then, or the settings column would shift sideways under the user's pointer."""
    panel.resize(panel.minimumSizeHint().width(), 700)
    panel.show()
    qtbot.waitExposed(panel)
    qtbot.wait(50)
    sizes = panel.splitter.sizes()
    assert "after the first epoch" in panel.plot.bars_plot.titleLabel.text
    seen = []  # (bar chart title, splitter sizes) after each redraw of the plots
    panel.plot.redrawn.connect(lambda: seen.append((panel.plot.bars_plot.titleLabel.text, panel.splitter.sizes())))
    train_to_end(qtbot, panel)
    train_to_end(qtbot, panel, panel.retrain_button)
    qtbot.wait(50)
    assert any("of 4 active" in title for title, _ in seen)
    assert all(s == sizes for _, s in seen) and panel.splitter.sizes() == sizes


@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_the_loss_plots_keep_their_places_when_the_bar_chart_title_changes(qtbot):
    """The KL bar chart's title says how many dimensions are active after which epoch; a longer text must not
    push the plots around (each push was a relayout and a repaint of every loss plot)."""
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(420, 560)
    plot.show()
    qtbot.waitExposed(plot)
    qtbot.wait(50)
    items = [*plot.plots.values(), plot.bars_plot]
    places = [p.geometry() for p in items]
    run = trained_run(small_data())
    run.id = 1
    plot.add_run(run, "#1f77b4")
    plot.set_shown_runs([run])
    with qtbot.waitSignal(plot.redrawn, timeout=TIMEOUT):
        plot.set_current(run)
    qtbot.wait(50)
    assert "of 4 active · epoch 1" in plot.bars_plot.titleLabel.text
    assert [p.geometry() for p in items] == places


def _smooth_one_by_one(last, values, weight):
    out, m = [], last
    for v in values:
        m = v.copy() if m is None or not np.isfinite(m).all() else m + weight * (v - m)
        out.append(m)
    return np.array(out)


@pytest.mark.parametrize("n", [1, 63, 64, 65, 300])
def test_the_smoothed_curve_is_the_moving_average_of_the_steps_with_restarts_after_bad_steps(n):
    from vae_studio.ui.training.own_terms import smooth_rows

    rng = np.random.default_rng(n)
    values = rng.normal(100, 10, (n, 3))
    if n > 100:
        values[70, 1] = np.nan  # a diverged step: the average restarts after it
        values[71, 0] = np.inf
    for last in (None, np.array([90.0, 80.0, 70.0]), np.array([np.nan, 1.0, 2.0])):
        out = np.empty_like(values)
        smooth_rows(last, values, 0.1, out)
        np.testing.assert_allclose(out, _smooth_one_by_one(last, values, 0.1), rtol=1e-12, atol=0)
