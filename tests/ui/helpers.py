"""Small data and runs for the GUI tests: three classes told apart by a bright stripe, 16x16, 300 images."""
from contextlib import contextmanager

import torch

from vae_studio.core.checkpoint import Run
from vae_studio.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_studio.core.data import ImageData
from vae_studio.core.training import Trainer


def small_data(n=300, size=16, labelled=True, seed=0) -> ImageData:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = (torch.rand(n, 1, size, size, generator=g) * 80).to(torch.uint8)
    for c in range(3):
        x[y == c, :, :, 4 * c:4 * c + 4] = 230
    k = n * 9 // 10
    if not labelled:
        return ImageData("unlabelled", x[:k].contiguous(), x[k:].contiguous())
    return ImageData("small", x[:k].contiguous(), x[k:].contiguous(), y[:k], y[k:], ["a", "b", "c"])


def trained_run(data, beta=1.0, name="t") -> Run:
    """A run of one epoch on ``data`` (latent 4, one hidden layer of 32)."""
    config = RunConfig(data=DataConfig(dataset=data.name), model=ModelConfig(latent_dim=4, hidden=[32]),
                       train=TrainConfig(epochs=1, batch_size=32, beta=beta))
    trainer = Trainer(config, data)
    trainer.train()
    return Run(config=config, model=trainer.model, history=trainer.history, class_names=data.class_names, name=name)


def open_folder(qtbot, window, path, timeout=10000):
    """Open a run folder as the user does (it is read in the background); returns its workspace entry."""
    with qtbot.waitSignal(window.workspace.runAdded, timeout=timeout) as blocker:
        window.open_run_folder(str(path))
    return blocker.args[0]


def action(window, text):
    """The window's menu action whose text (without the & accelerator marks) is ``text``."""
    for a in window.findChildren(type(window.new_action)):
        if a.text().replace("&", "") == text:
            return a
    raise LookupError(text)


@contextmanager
def training_panel(qtbot, latent: int, hidden: str, batch: int, epochs: int):
    """A training panel on its own workspace holding :func:`small_data`, with small model settings; on exit
    its runs are stopped and no thread is left running."""
    from vae_studio.app.workspace import Workspace
    from vae_studio.ui.training.panel import TrainingPanel

    workspace = Workspace()
    p = TrainingPanel(workspace)  # built now: variants registered before this are in its Model list
    qtbot.addWidget(p)
    workspace.set_data(small_data())
    p.latent.setValue(latent)
    p.hidden.setText(hidden)
    p.batch.setValue(batch)
    p.epochs.setValue(epochs)
    yield p
    p.shutdown()
    assert p.controller.threads_running == 0
