"""The one-page Help (Help > VAE Studio Help): resources/help.html in a browser, with the runs folder filled in."""
from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from ..resource_paths import help_page_path

RUNS_DIR_TOKEN = "%RUNS_DIR%"


def help_html(runs_dir: str | Path) -> str:
    """The page's HTML with ``runs_dir`` (where new runs are saved by default) written in."""
    try:
        page = help_page_path().read_text(encoding="utf-8")
    except OSError as e:
        return f"<p>The help page could not be read: {html.escape(str(e))}</p>"
    return page.replace(RUNS_DIR_TOKEN, html.escape(str(runs_dir)))


class HelpDialog(QDialog):
    """What each panel shows, the objective, where runs are kept, the keyboard shortcuts."""

    def __init__(self, runs_dir: str | Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("VAE Studio Help")
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setHtml(help_html(runs_dir))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(760, 680)  # fits a 1366x768 screen
