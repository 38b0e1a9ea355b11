"""A user's own image file -> the model's input: (1, C, S, S) float in [0, 1].

Pillow reads the file; its decompression-bomb guard stays on (an image with more pixels than
``PIL.Image.MAX_IMAGE_PIXELS`` is refused before its pixels are decoded). The image is turned upright
(EXIF orientation), resized so its shorter side is S and centre-cropped to S x S, then converted to one
channel (L) or three (RGB) as the model expects. Transparent pixels become black, like the background
of the built-in data sets. Every failure raises :class:`ImageInputError` with a one-line message.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .latent_space import space_for

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm")


class ImageInputError(ValueError):
    """The file cannot be used as an input image; the message (one line) says which file and why."""


def load_image(path: str | os.PathLike, image_size: int, channels: int, invert: bool = False) -> torch.Tensor:
    """Read ``path`` as the model's input: a float tensor (1, channels, image_size, image_size) in [0, 1].

    ``invert`` flips dark and light (for dark strokes drawn on a white page, when the model was trained on
    light shapes on black)."""
    if channels not in (1, 3):
        raise ImageInputError(f"the model expects 1 or 3 channels, not {channels}")
    arr = read_image_array(path, image_size, "L" if channels == 1 else "RGB")
    x = torch.from_numpy(arr).float().div_(255.0)
    x = x[None] if channels == 1 else x.permute(2, 0, 1)
    if invert:
        x = 1.0 - x
    return x[None].contiguous()


def read_image_array(path: str | os.PathLike, size: int, mode: str) -> np.ndarray:
    """``path`` as uint8 pixels, (size, size) for mode "L" or (size, size, 3) for "RGB": upright, opaque,
    resized (shorter side = size) and centre-cropped. Raises :class:`ImageInputError`."""
    name = os.path.basename(os.fspath(path))
    with _open(path, size, mode) as img:
        return np.array(_fit(img, size, name).convert(mode), dtype=np.uint8)


def _open(path, size: int, mode: str) -> Image.Image:
    """The opened, loaded image (use it as a context manager: it closes the file)."""
    name = os.path.basename(os.fspath(path))
    if os.path.isdir(path):
        raise ImageInputError(f"{name} is a folder, not an image file")
    limit = Image.MAX_IMAGE_PIXELS
    try:
        img = _open_checked(path, size, mode, limit)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageInputError(f"{name} is too large to open safely: more than {limit:,} pixels "
                              "(Pillow's decompression-bomb limit)") from None
    except UnidentifiedImageError:
        raise ImageInputError(f"{name} is not an image file that Pillow can read") from None
    except FileNotFoundError:
        raise ImageInputError(f"{name} does not exist") from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:  # truncated or damaged data, permissions
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ImageInputError(f"cannot read {name}: {first}") from None
    if img.width < 1 or img.height < 1:
        img.close()
        raise ImageInputError(f"{name} has no pixels")
    return img


def _open_checked(path, size: int, mode: str, limit: int | None) -> Image.Image:
    img = None
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x its limit; treat that as a refusal too
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
            if limit is not None and img.width * img.height > limit:
                raise Image.DecompressionBombError("too many pixels")
            img.draft(mode, (size, size))  # JPEG only: decode at a reduced scale, still >= size
            img.load()
        return img
    except BaseException:
        if img is not None:
            img.close()
        raise


def _fit(img: Image.Image, size: int, name: str) -> Image.Image:
    """Upright, opaque, 8-bit, resized (shorter side = size) and centre-cropped to size x size."""
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # a damaged EXIF block: keep the image as stored
        pass
    img = _to_8bit(img)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        img = Image.alpha_composite(background, rgba).convert("RGB")
    elif img.mode not in ("L", "RGB"):
        img = img.convert("RGB")
    try:
        return ImageOps.fit(img, (size, size), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    except (OSError, ValueError) as e:
        raise ImageInputError(f"cannot resize {name}: {e}") from None


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit and float images scaled to 0..255 (Pillow's own conversion would clip them)."""
    if img.mode.startswith("I;16"):
        arr = np.asarray(img, dtype=np.float32) / 257.0
    elif img.mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
    else:
        return img
    return Image.fromarray(np.nan_to_num(arr).clip(0, 255).astype(np.uint8), mode="L")


@torch.no_grad()
def posterior_mean(model, x: torch.Tensor, label: int | None = None) -> np.ndarray:
    """The encoder's mean for float images ``x`` (N, C, H, W) in [0, 1] -> (N, D) float32.

    ``label``: the class given to a conditional model's encoder (ignored by a plain VAE)."""
    shape = (model.cfg.channels, model.cfg.image_size, model.cfg.image_size)
    if tuple(x.shape[1:]) != shape:
        raise ImageInputError(f"the image is {tuple(x.shape[1:])} but the model expects {shape}")
    dev = next(model.parameters()).device
    y = None
    if model.conditional:
        y = torch.full((len(x),), int(label or 0), dtype=torch.long, device=dev)
    mu, _ = space_for(model).encode(x.to(dev).float(), y)
    return mu.float().cpu().numpy()
