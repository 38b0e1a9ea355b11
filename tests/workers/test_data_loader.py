"""The data loader: torch imported once in the background, the newest load wins, errors as one line."""
import pytest
from PySide6.QtCore import QObject, Slot

from vae_studio.core.config import DataConfig
from vae_studio.workers.data_loader import DataLoader

TIMEOUT = 30_000


class Recorder(QObject):
    def __init__(self, loader):
        super().__init__()
        self.ready, self.loading, self.loaded, self.failed = [], [], [], []
        loader.coreReady.connect(self.on_ready)
        loader.loading.connect(self.on_loading)
        loader.loaded.connect(self.on_loaded)
        loader.failed.connect(self.on_failed)

    @Slot(object)
    def on_ready(self, versions):
        self.ready.append(versions)

    @Slot(int, object)
    def on_loading(self, request, config):
        self.loading.append(request)

    @Slot(int, object, object)
    def on_loaded(self, request, config, data):
        self.loaded.append((request, config, data))

    @Slot(int, object, str)
    def on_failed(self, request, config, message):
        self.failed.append((request, config, message))


@pytest.fixture
def loader(qtbot):
    lo = DataLoader()
    yield lo, Recorder(lo)
    lo.shutdown()
    assert not lo.runner.running


def test_the_newest_load_wins_and_torch_is_imported_once(qtbot, loader):
    lo, rec = loader
    first = lo.load(DataConfig(seed=1))
    second = lo.load(DataConfig(seed=2))
    qtbot.waitUntil(lambda: bool(rec.loaded) and not lo.runner.busy, timeout=TIMEOUT)
    assert rec.loading == [first, second] and len(rec.ready) == 1 and "torch" in rec.ready[0]
    assert [(r, c.seed) for r, c, _d in rec.loaded] == [(second, 2)]  # the older result never arrives
    assert rec.loaded[0][2].name and lo.core_ready and rec.failed == []


def test_background_imports_are_announced_and_the_first_start_has_nothing_left_to_import(qtbot, loader):
    """``importing`` brackets the first task: torch's import and the warm-up of what a run's first step imports
    (the window holds its cycle collections meanwhile)."""
    import subprocess
    import sys

    lo, rec = loader
    states = []
    lo.importing.connect(states.append)
    lo.load(DataConfig())
    qtbot.waitUntil(lambda: bool(rec.loaded) and not lo.runner.busy, timeout=TIMEOUT)
    assert states == [True, False]
    lo.load(DataConfig(seed=3))  # later loads import nothing
    qtbot.waitUntil(lambda: len(rec.loaded) == 2 and not lo.runner.busy, timeout=TIMEOUT)
    assert states == [True, False]
    # in a fresh process: after the warm-up, building a run's optimiser imports no module, nor does the
    # explorer's list of the classes in a split (np.unique imported numpy.ma: 11 ms in the GUI thread)
    code = ("import sys\n"
            "from vae_studio.workers.data_loader import import_core\n"
            "import_core()\n"
            "import numpy as np, torch\n"
            "before = set(sys.modules)\n"
            "from vae_studio.core.training import make_adam\n"
            "make_adam(torch.nn.Linear(3, 2).to('cpu').parameters(), 1e-3)\n"
            "np.unique(np.array([2, 0, 2]))\n"
            "print(sorted(set(sys.modules) - before))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_bad_data_set_fails_with_one_line_and_the_loader_still_works(qtbot, loader, tmp_path):
    lo, rec = loader
    bad = DataConfig(dataset="npz", root=str(tmp_path / "missing.npz"))
    request = lo.load(bad)
    qtbot.waitUntil(lambda: bool(rec.failed), timeout=TIMEOUT)
    (r, config, message), = rec.failed
    assert r == request and config is bad and message and "\n" not in message
    good = lo.load(DataConfig())
    qtbot.waitUntil(lambda: bool(rec.loaded), timeout=TIMEOUT)
    assert rec.loaded[0][0] == good


def test_start_up_imports_torch_after_the_window_and_never_torchvision():
    """The window's modules import no torch (it is shown first); the background task that enables Start
    imports torch and the panels; loading the sprites and drawing a grid need no torchvision (a second)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import vae_studio.ui.main_window as mw\n"
        "print('torch' in sys.modules)\n"
        "from vae_studio.workers.data_loader import import_core, load_task\n"
        "import_core(mw.PANEL_MODULES)\n"
        "print('torch' in sys.modules, 'vae_studio.ui.latent.panel' in sys.modules, 'torchvision' in sys.modules)\n"
        "from vae_studio.core.config import DataConfig\n"
        "from vae_studio.core.export import grid_array\n"
        "_config, data, _s = load_task(None, DataConfig())\n"
        "grid_array(data.test_x[:16].float() / 255, 4)\n"
        "print('torchvision' in sys.modules)\n"
    )
    env = {**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", "True", "False", "False"]
