"""Where the files of the top-level ``resources/`` folder are at run time (no Qt needed).

In a source checkout (plain or editable install) that folder sits next to the ``vae_studio`` package; in an
installed wheel it is the package ``vae_studio.resources`` (see ``[tool.setuptools]`` in pyproject.toml),
found with :mod:`importlib.resources`. The checkout wins, so a checkout never reads another copy's files.
"""
from __future__ import annotations

import functools
from importlib import resources as _importlib_resources
from pathlib import Path

ICON_SIZES = (16, 32, 48, 64, 128, 256)  # the PNG renders of the SVG icon (scripts/render_icons.py)
DESKTOP_ENTRY = "vae-studio.desktop"


@functools.lru_cache(maxsize=1)
def resources_dir() -> Path:
    checkout = Path(__file__).resolve().parent.parent / "resources"
    if (checkout / DESKTOP_ENTRY).is_file():
        return checkout
    installed = Path(str(_importlib_resources.files("vae_studio.resources")))
    if not installed.is_dir():  # e.g. imported from a zip file
        raise FileNotFoundError(f"VAE Studio's resources are not a folder on disk: {installed}")
    return installed


def icon_path(size: int | None = None) -> Path:
    """The application icon as a PNG of ``size`` pixels (one of :data:`ICON_SIZES`; None: the largest)."""
    size = ICON_SIZES[-1] if size is None else size
    if size not in ICON_SIZES:
        raise ValueError(f"no {size} px icon; sizes: {', '.join(map(str, ICON_SIZES))}")
    return resources_dir() / "icons" / f"vae-studio-{size}.png"


def icon_paths() -> list[Path]:
    """Every PNG size of the icon, smallest first (for a QIcon that picks the best size itself)."""
    return [icon_path(s) for s in ICON_SIZES]


def svg_icon_path() -> Path:
    return resources_dir() / "vae-studio.svg"


def desktop_entry_path() -> Path:
    return resources_dir() / DESKTOP_ENTRY


def help_page_path() -> Path:
    """The one-page Help, HTML (shown by ``vae_studio.ui.help_page``)."""
    return resources_dir() / "help.html"


def demo_run_path() -> Path:
    """The demo run folder (a model trained on the built-in sprites by scripts/make_demo_run.py)."""
    return resources_dir() / "demo-run"
