"""The top-level resources/ folder: shipped in the wheel, found at run time (wheel and editable installs),
and usable: icon sizes, a desktop entry that launches the installed command, a demo run that opens."""
import configparser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vae_studio import resource_paths
from vae_studio.core.checkpoint import load_run
from vae_studio.core.data import load_dataset

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "vae_studio/resources"


def _source_packages() -> set[str]:
    return {str(p.parent.relative_to(REPO)).replace("/", ".") for p in (REPO / "vae_studio").rglob("__init__.py")}


def _required_resource_files() -> set[str]:
    names = {"vae-studio.svg", "vae-studio.desktop", "help.html"}
    names |= {f"icons/vae-studio-{s}.png" for s in resource_paths.ICON_SIZES}
    names |= {f"demo-run/{p.name}" for p in (REPO / "resources" / "demo-run").iterdir() if p.is_file()}
    return names


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory):
    """The files a build reads, copied, so that building leaves nothing in (and takes nothing from) the tree."""
    root = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, root / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("vae_studio", "resources"):
        shutil.copytree(REPO / name, root / name, ignore=ignore)
    return root


def _build(source: Path, hook: str, out: Path) -> Path:
    """Run setuptools' PEP 517 hook (no network, no isolation); returns the wheel it wrote."""
    out.mkdir()
    code = f"from setuptools import build_meta; print(build_meta.{hook}({str(out)!r}))"
    res = subprocess.run([sys.executable, "-c", code], cwd=source, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return out / res.stdout.strip().splitlines()[-1]


def _run_isolated(code: str, cwd: Path) -> str:
    """Python without site-packages (-S): only what the code puts on sys.path is importable."""
    res = subprocess.run([sys.executable, "-S", "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def test_wheel_ships_every_package_and_the_resources_and_finds_them_installed(source_copy, tmp_path):
    wheel = _build(source_copy, "build_wheel", tmp_path / "dist")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "site")
    in_wheel = {n[:-len("/__init__.py")].replace("/", ".") for n in names if n.endswith("/__init__.py")}
    missing = _source_packages() - in_wheel
    assert not missing, f"add {sorted(missing)} to [tool.setuptools] packages in pyproject.toml"
    missing = {f"{PACKAGE}/{n}" for n in _required_resource_files()} - names
    assert not missing, f"not in the wheel: {sorted(missing)}"

    site = tmp_path / "site"
    out = _run_isolated(
        f"import sys; sys.path.insert(0, {str(site)!r})\n"
        "from vae_studio import resource_paths as r\n"
        "for p in (r.resources_dir(), r.icon_path(16), r.svg_icon_path(), r.desktop_entry_path(),\n"
        "          r.help_page_path(), r.demo_run_path() / 'model.safetensors'):\n"
        "    assert p.exists(), p\n"
        "    print(p)\n", cwd=tmp_path)
    assert out.splitlines()[0] == str(site / PACKAGE)


def test_editable_install_maps_the_resources_package_to_the_source_folder(source_copy, tmp_path):
    wheel = _build(source_copy, "build_editable", tmp_path / "dist")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tmp_path / "site")
    out = _run_isolated(
        f"import site; site.addsitedir({str(tmp_path / 'site')!r})\n"  # runs the editable install's .pth
        "import importlib.resources as ir\n"
        "print(ir.files('vae_studio.resources'))\n", cwd=tmp_path)
    assert Path(out.strip()) == source_copy / "resources"


def test_icon_pngs_have_their_sizes():
    for size in resource_paths.ICON_SIZES:
        with Image.open(resource_paths.icon_path(size)) as im:
            assert im.size == (size, size)
            assert im.mode == "RGBA"
    assert resource_paths.icon_path() == resource_paths.icon_path(max(resource_paths.ICON_SIZES))
    with pytest.raises(ValueError, match="sizes: 16, 32"):
        resource_paths.icon_path(20)


def test_desktop_entry_launches_the_installed_command_with_the_icon():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(resource_paths.desktop_entry_path(), encoding="utf-8")
    d = entry["Desktop Entry"]
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert d["Type"] == "Application" and d["Name"] == "VAE Studio"
    assert d["Exec"] in scripts
    assert d["Icon"] == resource_paths.svg_icon_path().stem == resource_paths.icon_path(16).stem.rsplit("-", 1)[0]
    assert {"Science", "Education"} <= set(filter(None, d["Categories"].split(";")))


def test_demo_run_opens_and_reconstructs_sprites():
    run = load_run(resource_paths.demo_run_path())
    cfg = run.config
    assert cfg.data.dataset == "sprites" and cfg.model.latent_dim == 10 and cfg.train.beta > 1
    data = load_dataset(cfg.data)
    x = data.test_x[:256].float() / 255
    with torch.no_grad():
        mu, _ = run.model.encode(x)
        recon = run.model.decode_images(mu)
    assert recon.shape == x.shape
    err = float(((recon - x) ** 2).mean())
    err_mean_image = float(((x.mean(0, keepdim=True) - x) ** 2).mean())
    assert err < 0.3 * err_mean_image  # a trained model, not the mean sprite
    active = np.asarray(run.history.epochs[-1]["test_kl_per_dim"]) > 0.1
    assert 3 <= active.sum() < 10  # beta > 1: some dimensions used, some switched off


def test_application_and_its_windows_carry_the_icon_and_desktop_entry(qapp, qtbot):
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QWidget

    from vae_studio.ui.app import setup_application

    app = setup_application([])
    assert app is qapp
    assert not app.windowIcon().isNull()
    sizes = {(s.width(), s.height()) for s in app.windowIcon().availableSizes()}
    assert sizes == {(s, s) for s in resource_paths.ICON_SIZES}
    window = QWidget()
    qtbot.addWidget(window)
    assert not window.windowIcon().isNull()  # a top-level window without its own icon uses the app's
    assert QGuiApplication.desktopFileName() == "vae-studio"
