"""PNG grids and animated GIFs written by core.export."""
import numpy as np
import pytest
import torch
from PIL import Image

from vae_studio.core.export import grid_array, save_gif, save_grid_png


def test_png_grid_tiles_images_in_rows(tmp_path):
    images = torch.zeros(6, 1, 8, 8)
    images[4] = 1.0  # second row, second column is white
    path = save_grid_png(images, tmp_path / "grid.png", nrow=3, padding=2)
    with Image.open(path) as im:
        assert im.size == (3 * 10 + 2, 2 * 10 + 2)
        arr = np.asarray(im.convert("L"))
    assert arr[12:20, 12:20].min() == 255  # image 4: row 1, column 1 (after the 2-px padding)
    assert arr[2:10, 2:10].max() == 0
    assert arr[12:20, 2:10].max() == 0


def test_png_grid_keeps_colour(tmp_path):
    images = torch.zeros(2, 3, 4, 4)
    images[:, 0] = 1.0  # red
    path = save_grid_png(images, tmp_path / "rgb.png", nrow=2, padding=0)
    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"))
    assert arr.shape == (4, 8, 3)
    assert (arr[..., 0] == 255).all() and (arr[..., 1:] == 0).all()


def test_grid_array_matches_the_png_layout():
    images = torch.rand(5, 1, 6, 6)
    grid = grid_array(images, nrow=2, padding=1)
    assert grid.dtype == np.uint8 and grid.shape == (3 * 7 + 1, 2 * 7 + 1)
    np.testing.assert_array_equal(grid[1:7, 8:14], (images[1, 0] * 255 + 0.5).to(torch.uint8).numpy())


@pytest.mark.parametrize("n, c, nrow, padding, pad_value", [
    (1, 1, 8, 2, 0.0), (2, 1, 8, 2, 0.5), (5, 1, 2, 1, 0.0), (6, 3, 3, 2, 1.0), (7, 3, 10, 0, 0.0),
    (64, 1, 8, 2, 0.5),
])
def test_grid_array_equals_torchvision_make_grid_and_save_image(tmp_path, n, c, nrow, padding, pad_value):
    """The grid drawn on screen and saved is torchvision's, byte for byte (values outside [0, 1] too)."""
    from torchvision.utils import make_grid, save_image

    images = torch.rand(n, c, 5, 7, generator=torch.Generator().manual_seed(n)) * 1.2 - 0.1
    grid = make_grid(images.clamp(0, 1), nrow=nrow, padding=padding, pad_value=pad_value)
    expected = (grid * 255 + 0.5).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    expected = expected[..., 0] if c == 1 else expected
    np.testing.assert_array_equal(grid_array(images, nrow, padding, pad_value), expected)
    save_image(images.clamp(0, 1), str(tmp_path / "tv.png"), nrow=nrow, padding=padding, pad_value=pad_value)
    save_grid_png(images, tmp_path / "ours.png", nrow=nrow, padding=padding, pad_value=pad_value)
    with Image.open(tmp_path / "tv.png") as theirs, Image.open(tmp_path / "ours.png") as ours:
        np.testing.assert_array_equal(np.asarray(ours.convert("RGB")), np.asarray(theirs.convert("RGB")))


def test_gif_has_one_frame_per_distinct_frame_and_the_duration(tmp_path):
    frames = [np.full((10, 12), v, np.uint8) for v in (0, 80, 160, 240, 160, 80)]
    path = save_gif(frames, tmp_path / "anim.gif", duration_ms=70)
    with Image.open(path) as im:
        assert im.n_frames == 6
        assert im.size == (12, 10)
        assert im.info["duration"] == 70
        assert im.info.get("loop") == 0
        im.seek(3)
        assert np.asarray(im.convert("L"))[0, 0] == 240


def test_gif_accepts_colour_frames(tmp_path):
    frames = [np.zeros((6, 6, 3), np.uint8), np.full((6, 6, 3), 200, np.uint8)]
    path = save_gif(frames, tmp_path / "rgb.gif", duration_ms=50)
    with Image.open(path) as im:
        assert im.n_frames == 2


@pytest.mark.parametrize("frames, message", [
    ([], "no frames"),
    ([np.zeros((4, 4), np.float32)], "uint8"),
    ([np.zeros((4, 4), np.uint8), np.zeros((5, 4), np.uint8)], "same shape"),
])
def test_gif_refuses_bad_frames(tmp_path, frames, message):
    with pytest.raises(ValueError, match=message):
        save_gif(frames, tmp_path / "bad.gif")


def test_png_refuses_bad_shapes(tmp_path):
    with pytest.raises(ValueError, match="no images"):
        save_grid_png(torch.zeros(0, 1, 4, 4), tmp_path / "x.png")
    with pytest.raises(ValueError, match="C = 1 or 3"):
        save_grid_png(torch.zeros(2, 2, 4, 4), tmp_path / "x.png")


def test_missing_folder_raises_oserror(tmp_path):
    with pytest.raises(OSError):
        save_gif([np.zeros((4, 4), np.uint8)], tmp_path / "nope" / "a.gif")
