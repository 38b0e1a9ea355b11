"""File dialogs for exports and images; they open in the folder the user last used (kept in QSettings)."""
from __future__ import annotations

import os

from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtWidgets import QFileDialog, QWidget

LAST_FOLDER_KEY = "exports/lastFolder"


def image_filter() -> str:
    """The open-image dialog's filter; imported when asked (core.image_input imports torch, which the window
    must not wait for at start-up)."""
    from ...core.image_input import IMAGE_SUFFIXES

    return "Images (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ");;All files (*)"


def _settings() -> QSettings:
    if QCoreApplication.organizationName() or QCoreApplication.applicationName():
        return QSettings()
    return QSettings("VAE Studio", "VAE Studio")


def last_folder() -> str:
    folder = _settings().value(LAST_FOLDER_KEY, "", type=str)
    return folder if folder and os.path.isdir(folder) else os.path.expanduser("~")


def remember_folder(path: str) -> None:
    """Remember the folder of ``path`` (or ``path`` itself when it is a folder) for the next dialog."""
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    _settings().setValue(LAST_FOLDER_KEY, folder)


def ask_open_image(parent: QWidget) -> str | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Open an image", last_folder(), image_filter())
    if path:
        remember_folder(path)
    return path or None


def ask_save_path(parent: QWidget, title: str, file_name: str, file_filter: str, suffix: str) -> str | None:
    """A path to save to, with ``suffix`` (".png") added when the user typed none."""
    path, _ = QFileDialog.getSaveFileName(parent, title, os.path.join(last_folder(), file_name), file_filter)
    if not path:
        return None
    if not os.path.splitext(path)[1]:
        path += suffix
    remember_folder(path)
    return path


def ask_folder(parent: QWidget, title: str) -> str | None:
    path = QFileDialog.getExistingDirectory(parent, title, last_folder())
    if path:
        remember_folder(path)
    return path or None
