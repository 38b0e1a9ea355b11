"""The layering rule: core (and the headless CLI) never load Qt or pyqtgraph; workers never load widgets."""
import subprocess
import sys

import pytest

CHECK = """
import sys, importlib, pkgutil
import vae_studio.core as core
for m in pkgutil.iter_modules(core.__path__):
    importlib.import_module("vae_studio.core." + m.name)
{extra}
bad = sorted(m for m in sys.modules if m.split(".")[0] in {forbidden})
print(",".join(bad))
"""


def _loaded(extra: str, forbidden: set[str]) -> str:
    code = CHECK.format(extra=extra, forbidden=repr(forbidden))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_core_and_headless_cli_load_no_qt():
    extra = "from vae_studio import cli; cli.build_parser().parse_args(['train', '--out', 'x'])"
    assert _loaded(extra, {"PySide6", "shiboken6", "pyqtgraph"}) == ""


def test_app_and_workers_load_no_widgets():
    extra = "import vae_studio.workers, vae_studio.app, pkgutil\n" \
            "for pkg in (vae_studio.workers, vae_studio.app):\n" \
            "    for m in pkgutil.iter_modules(pkg.__path__):\n" \
            "        importlib.import_module(pkg.__name__ + '.' + m.name)\n" \
            "bad_widgets = [m for m in sys.modules if m in ('PySide6.QtWidgets', 'PySide6.QtGui')]\n" \
            "assert not bad_widgets, bad_widgets"
    assert _loaded(extra, {"pyqtgraph"}) == ""


def test_import_contracts_hold():
    """The contracts in pyproject.toml's [tool.importlinter]: layers, Qt-free core, independent panels."""
    from pathlib import Path

    from importlinter import cli

    root = Path(__file__).resolve().parents[1]
    assert cli.lint_imports(config_filename=str(root / "pyproject.toml"), no_cache=True) == cli.EXIT_STATUS_SUCCESS
