"""Small in-memory data sets for fast core tests."""
import torch

from vae_studio.core.data import ImageData


def toy_data(n=600, size=16, channels=1, classes=3, seed=0) -> ImageData:
    """Blobs whose brightness pattern depends on the class: learnable in a few steps."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    centres = torch.linspace(size * 0.25, size * 0.75, classes)
    cx = centres[y][:, None, None] + torch.randn(n, 1, 1, generator=g)
    img = torch.exp(-((xx[None] - cx) ** 2 + (yy[None] - size / 2) ** 2) / (2 * (size / 6) ** 2))
    x = (img * 255).to(torch.uint8)[:, None].repeat(1, channels, 1, 1).contiguous()
    k = n * 9 // 10
    return ImageData("toy", x[:k], x[k:], y[:k], y[k:], [f"c{i}" for i in range(classes)])
