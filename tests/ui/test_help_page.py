"""The one-page Help: what a user reads there (panels, the objective, the runs folder, the shortcuts)."""
import pytest
from PySide6.QtWidgets import QDialogButtonBox

from vae_studio.ui.help_page import HelpDialog

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")  # offscreen only


def _shown(qtbot, runs_dir):
    dialog = HelpDialog(runs_dir)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog, dialog.browser.toPlainText()


def test_help_names_the_panels_and_states_the_objective(qtbot, tmp_path):
    dialog, text = _shown(qtbot, tmp_path / "runs")
    assert dialog.isVisible() and dialog.windowTitle() == "VAE Studio Help"
    for panel in ("Training", "Latent explorer", "Sampling and interpolation", "Metrics"):
        assert panel in text
    for shown in ("KL per dimension", "probe", "traversal", "IWAE", "active units", "MIG", "FactorVAE"):
        assert shown in text
    assert "loss = \u03b3 \u00b7 recon + \u03b2 \u00b7 KL( q(z|x) \u2016 N(0, I) )" in text
    assert "\u03b2 = \u03b3 = 1" in text and "negative ELBO" in text
    assert dialog.height() <= 720  # fits a 1366x768 screen with its title bar


def test_help_says_where_runs_are_kept_and_lists_the_shortcuts(qtbot, tmp_path):
    runs_dir = tmp_path / "R&D <runs>"  # characters that mean something in HTML are shown as typed
    dialog, text = _shown(qtbot, runs_dir)
    assert str(runs_dir) in text
    assert all(name in text for name in ("config.json", "model.safetensors", "history.json"))
    for key in ("Ctrl+Return", "Ctrl+P", "Ctrl+.", "Ctrl+R", "Ctrl+Z", "Ctrl+Shift+Z", "Ctrl+O", "Ctrl+S", "F1"):
        assert key in text
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Close).click()
    assert not dialog.isVisible()
