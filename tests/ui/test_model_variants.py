"""The model variants in the GUI, built from their declarations: the Model list and each variant's settings,
the Conditional box, beta for variants that do not use it, the own-terms plot, and the variant's name in the
runs list, the metrics panel and the status bar. The test variants of ``tests/toy_variants.py`` stand for
those merged later; every registered variant is also trained once through the Model list."""
import pytest
from PySide6.QtCore import Qt

from vae_studio.core.checkpoint import save_run
from vae_studio.core.training import BASE_COLUMNS
from vae_studio.core.variants import VARIANTS

from .helpers import open_folder, small_data, training_panel

TIMEOUT = 30000
pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")  # the offscreen platform's note when a window is shown


@pytest.fixture
def panel(qtbot, toy_variants):
    # built after the test variants are registered: they are in the Model list
    with training_panel(qtbot, latent=3, hidden="16", batch=64, epochs=1) as p:
        yield p


def choose(panel, name):
    panel.kind.setCurrentIndex(panel.kind.findData(name))
    assert panel.kind.currentData() == name


def train(qtbot, panel, button=None):
    button = button or panel.start_button
    assert button.isEnabled(), panel.validation.text()
    with qtbot.waitSignal(panel.runFinished, timeout=TIMEOUT) as blocker:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.controller.threads_running == 0, timeout=TIMEOUT)
    run = blocker.args[0]
    assert run.history.status == "finished", run.history.message
    return run


def shown_settings(panel) -> dict:
    """What the variant's settings group shows: label text -> (value, tooltip)."""
    form = panel.variant_settings.form
    out = {}
    for r in range(form.rowCount()):
        label = form.itemAt(r, form.ItemRole.LabelRole).widget()
        box = form.itemAt(r, form.ItemRole.FieldRole).widget()
        value = box.currentData() if hasattr(box, "currentData") else box.value()
        out[label.text()] = (value, label.toolTip())
    return out


def test_the_model_list_shows_each_variant_with_its_description_and_its_settings(panel, toy_variants):
    titles = [panel.kind.itemText(i) for i in range(panel.kind.count())]
    assert titles == [v.title for v in VARIANTS.values()] and "Scaled KL (test)" in titles
    i = panel.kind.findData("scaled-kl")
    assert "reporting its KL scaled and counted" in panel.kind.itemData(i, Qt.ItemDataRole.ToolTipRole)
    assert not panel.variant_settings.isVisibleTo(panel)  # the plain VAE has no settings of its own
    choose(panel, "scaled-kl")
    assert panel.model_note.text() == "The VAE, reporting its KL scaled and counted"
    assert "nobody 2026" in panel.model_note.toolTip()
    assert panel.variant_settings.isVisibleTo(panel) and panel.variant_settings.title() == "Scaled KL (test) settings"
    assert shown_settings(panel) == {
        "Kl scale (λ)": (0.5, "scale of the reported KL (λ in the paper); default 0.5"),
        "Repeats (R)": (2, "how often the KL is counted (R in the paper); default 2"),
        "Mode": ("plain", "how the KL is reported; default plain"),
    }
    box = panel.variant_settings.boxes["kl_scale"]
    assert (box.minimum(), box.maximum()) == (0.0, 10.0)
    choose(panel, "free-kl")
    assert list(shown_settings(panel)) == ["Kl weight (α)", "Repeats (N)"]
    # what the user set for a variant is still there when they come back to it
    panel.variant_settings.boxes["kl_weight"].setValue(1.5)
    choose(panel, "scaled-kl")
    choose(panel, "free-kl")
    assert panel.current_config().model.settings == {"kl_weight": 1.5, "repeats": 3}


def test_a_typed_setting_out_of_range_is_clamped_and_said_so(qtbot, panel):
    choose(panel, "scaled-kl")
    box = panel.variant_settings.boxes["kl_scale"]
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), "50")
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)
    assert box.value() == 10.0
    assert "Kl scale (λ) 50 is above the largest allowed value" in panel.message.text()


def test_a_changed_setting_trains_a_run_with_it_and_its_own_terms_are_plotted(qtbot, panel):
    choose(panel, "scaled-kl")
    panel.variant_settings.boxes["kl_scale"].setValue(2.0)
    mode = panel.variant_settings.boxes["mode"]
    mode.setCurrentIndex(mode.findData("squared"))
    assert not panel.plot.own.picker.isVisibleTo(panel)  # no run with own terms shown yet
    run = train(qtbot, panel)
    m = run.config.model
    assert (m.kind, m.settings) == ("scaled-kl", {"kl_scale": 2.0, "repeats": 2, "mode": "squared"})
    assert run.history.columns == [*BASE_COLUMNS, "scaled_kl", "counted_kl"]
    # the own-terms plot: its picker offers the variant's terms by their titles, the curve is the logged term
    picker = panel.plot.own.picker
    assert picker.isVisibleTo(panel)
    assert [picker.itemText(i) for i in range(picker.count())] == ["Scaled KL", "Counted KL"]
    steps = len(run.history.steps)
    curves = panel.plot.curves[run.id]

    def drawn():  # every step and the epoch's test point (they may reach the plot in different redraws)
        return panel.plot.drawn_points(run, "scaled_kl") == steps and curves.own_items[2].getOriginalDataset()[1] \
            is not None and len(curves.own_items[2].getOriginalDataset()[1]) == 1

    qtbot.waitUntil(drawn, timeout=TIMEOUT)
    x, y = curves.own_items[0].getOriginalDataset()
    assert list(y) == pytest.approx([row[4] for row in run.history.steps])
    marks = curves.own_items[2].getOriginalDataset()[1]
    assert list(marks) == pytest.approx([run.history.last["test_scaled_kl"]])  # one test point per epoch
    assert "Scaled KL" in panel.plot.own.plot.titleLabel.text
    panel.plot.set_own_term("counted_kl")
    qtbot.waitUntil(lambda: panel.plot.drawn_points(run, "counted_kl") == steps, timeout=TIMEOUT)
    assert panel.plot.drawn_points(run, "scaled_kl") == 0 and "Counted KL" in panel.plot.own.plot.titleLabel.text


def test_retrain_with_another_variant_puts_the_runs_side_by_side(qtbot, make_window, toy_variants):
    w = make_window()
    panel, metrics = w.training, w.metrics_panel
    choose(panel, "scaled-kl")
    first = train(qtbot, panel)
    choose(panel, "free-kl")
    panel.beta.setValue(4.0)
    second = train(qtbot, panel, panel.retrain_button)
    assert w.workspace.runs == [first, second]
    assert (second.config.model.kind, second.config.model.settings) == ("free-kl", {"kl_weight": 0.25, "repeats": 3})
    # runs list and metrics panel: one row each, named by the variant's title
    rows = [panel.runs.tree.topLevelItem(i).text(2) for i in range(2)]
    assert rows == ["Scaled KL (test)", "Free KL (test)"]
    w.docks["metrics"].raise_()  # its tab, behind the latent explorer's, is filled when chosen
    qtbot.waitUntil(lambda: metrics.when_shown.on_screen, timeout=TIMEOUT)
    assert [metrics.compare_table.item(r, 1).text() for r in range(2)] == rows
    # beta does not weight free-kl's loss: no beta is shown for it
    assert [panel.runs.tree.topLevelItem(i).text(5) for i in range(2)] == ["1", "\u2014"]
    assert [metrics.compare_table.item(r, 2).text() for r in range(2)] == ["1", "\u2014"]
    assert "Free KL (test)" in metrics.run_label.text()
    assert "Free KL (test)" in w.status_labels["model"].text()
    # both overlaid: the picker offers the terms of both; each run draws the terms it has
    panel.runs.select_runs([first, second])
    assert [label.text for _sample, label in panel.plot.legend.items] == ["run 1: scaled-kl β 1", "run 2: free-kl"]
    picker = panel.plot.own.picker
    assert [picker.itemData(i) for i in range(picker.count())] == ["scaled_kl", "counted_kl", "weighted_kl"]
    panel.plot.set_own_term("weighted_kl")
    qtbot.waitUntil(lambda: panel.plot.drawn_points(second, "weighted_kl") == len(second.history.steps),
                    timeout=TIMEOUT)
    assert panel.plot.drawn_points(first, "weighted_kl") == 0
    assert panel.plot.drawn_points(first, "total") == len(first.history.steps)
    # a run without own terms alone: no own-terms plot
    choose(panel, "vae")
    third = train(qtbot, panel, panel.retrain_button)
    panel.runs.select_runs([third])
    assert not picker.isVisibleTo(panel) and panel.plot.own_term is None


def test_an_opened_run_restores_its_variant_and_settings(qtbot, make_window, toy_variants, tmp_path, messages):
    w = make_window()
    panel = w.training
    choose(panel, "scaled-kl")
    panel.variant_settings.boxes["repeats"].setValue(5)
    panel.conditional.setChecked(True)
    run = train(qtbot, panel)
    save_run(run.run, tmp_path / "r")
    panel.reset_settings()
    assert panel.kind.currentData() == "vae" and not panel.conditional.isChecked()
    choose(panel, "scaled-kl")
    assert panel.variant_settings.values()["repeats"] == 2  # New run forgot the edit
    choose(panel, "vae")
    open_folder(qtbot, w, tmp_path / "r")
    assert not messages
    assert panel.kind.currentData() == "scaled-kl" and panel.conditional.isChecked()
    assert panel.variant_settings.values() == {"kl_scale": 0.5, "repeats": 5, "mode": "plain"}
    assert panel.current_config().model.settings == run.config.model.settings


def test_the_conditional_box_follows_the_variant_and_the_labels(qtbot, panel):
    assert panel.conditional.isVisibleTo(panel) and panel.conditional.isEnabled()
    panel.conditional.setChecked(True)
    assert panel.current_config().validate().model.is_conditional
    for name in ("cvae", "free-kl"):  # always conditional; never conditional: no box
        choose(panel, name)
        assert not panel.conditional.isVisibleTo(panel)
    assert not panel.current_config().model.conditional
    choose(panel, "scaled-kl")
    assert panel.current_config().model.conditional  # the box kept its tick
    panel.workspace.set_data(small_data(labelled=False))
    assert "class labels" in panel.validation.text() and not panel.start_button.isEnabled()
    assert panel.conditional.isEnabled()  # ticked: it can still be unticked
    panel.conditional.setChecked(False)
    assert not panel.conditional.isEnabled() and "no class labels" in panel.conditional.toolTip()
    assert panel.start_button.isEnabled()
    panel.workspace.set_data(small_data())
    assert panel.conditional.isEnabled()


def test_beta_is_disabled_with_a_reason_for_a_variant_that_does_not_use_it(panel):
    choose(panel, "free-kl")
    for w in (panel.beta, panel.beta_slider, panel.warmup):
        assert not w.isEnabled() and "does not use β" in w.toolTip()
    choose(panel, "scaled-kl")
    assert panel.beta.isEnabled() and "weight on the KL" in panel.beta.toolTip()


def test_the_hierarchical_vae_starts_with_its_kl_warm_up_and_a_chosen_one_is_kept(panel):
    """Its top level collapses without a warm-up: choosing it sets its own; the user's own choice stays."""
    assert panel.warmup.value() == 0
    choose(panel, "hvae")
    assert panel.warmup.value() == VARIANTS["hvae"].kl_warmup_epochs == 2
    assert panel.current_config().train.kl_warmup_epochs == 2
    choose(panel, "vae")
    assert panel.warmup.value() == 0
    panel.warmup.setValue(5)
    choose(panel, "hvae")
    assert panel.warmup.value() == 5


@pytest.mark.parametrize("name", list(VARIANTS))  # every variant registered when the tests are collected
def test_every_variant_trains_once_through_the_model_list(qtbot, make_window, name):
    """A variant merged later is trained here with no edit: its defaults, the first architecture it takes,
    one epoch of 270 images; its own terms reach the own-terms plot (the latent explorer and sampling panels
    follow the new run as a user would see them)."""
    w = make_window()
    panel = w.training
    choose(panel, name)
    variant = VARIANTS[name]
    assert panel.current_config().model.settings == {s.name: s.default for s in variant.settings_specs()}
    for arch in ("mlp", "conv"):  # the first architecture the variant takes (Start says why not otherwise)
        panel.arch.setCurrentIndex(panel.arch.findData(arch))
        if not panel.problem():
            break
    run = train(qtbot, panel)
    assert run.config.model.kind == name and len(run.history.epochs) == 1
    assert run.history.columns == [*BASE_COLUMNS, *variant.terms]
    assert panel.runs.tree.topLevelItem(0).text(2) == variant.title
    for term in variant.terms:
        panel.plot.set_own_term(term)
        qtbot.waitUntil(lambda t=term: panel.plot.drawn_points(run, t) == len(run.history.steps), timeout=TIMEOUT)
