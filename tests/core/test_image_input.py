"""A user's image file -> the model's input tensor; bad files are refused with a one-line message."""
import numpy as np
import pytest
import torch
from PIL import Image

from vae_studio.core.config import ModelConfig
from vae_studio.core.image_input import ImageInputError, load_image, posterior_mean
from vae_studio.core.models import build_model


def save(tmp_path, arr, name="img.png", mode=None):
    path = tmp_path / name
    Image.fromarray(arr, mode=mode).save(path)
    return path


def test_an_image_of_the_model_size_round_trips_exactly(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (16, 16), dtype=np.uint8)
    x = load_image(save(tmp_path, arr), 16, 1)
    assert x.shape == (1, 1, 16, 16) and x.dtype == torch.float32
    assert torch.equal((x[0, 0] * 255).round().to(torch.uint8), torch.from_numpy(arr))


def test_colour_and_grey_follow_the_model_channels(tmp_path):
    arr = np.zeros((8, 8, 3), np.uint8)
    arr[..., 0] = 255  # pure red
    path = save(tmp_path, arr)
    rgb = load_image(path, 8, 3)
    grey = load_image(path, 8, 1)
    assert rgb.shape == (1, 3, 8, 8) and grey.shape == (1, 1, 8, 8)
    assert torch.allclose(rgb[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    assert 0.2 < float(grey[0, 0, 0, 0]) < 0.4  # ITU-R 601 luma of red: 0.299


def test_a_wide_image_is_resized_and_centre_cropped(tmp_path):
    arr = np.zeros((20, 60), np.uint8)
    arr[:, 20:40] = 255  # a white middle third between black thirds
    x = load_image(save(tmp_path, arr), 10, 1)
    assert x.shape == (1, 1, 10, 10)
    assert float(x[0, 0, :, 2:8].min()) > 0.95  # the crop holds the middle third only
    assert float(x.mean()) > 0.85


def test_transparent_pixels_become_black_and_invert_flips(tmp_path):
    arr = np.zeros((8, 8, 4), np.uint8)
    arr[..., :3] = 255  # white everywhere, but transparent outside the centre
    arr[2:6, 2:6, 3] = 255
    path = save(tmp_path, arr)
    x = load_image(path, 8, 1)
    assert float(x[0, 0, 0, 0]) == 0.0 and float(x[0, 0, 4, 4]) == 1.0
    inv = load_image(path, 8, 1, invert=True)
    assert torch.allclose(inv, 1 - x)


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
    arr = np.full((8, 8), 32768, np.uint16)
    path = save(tmp_path, arr)
    with Image.open(path) as im:
        assert im.mode.startswith("I")  # a 16-bit PNG, which Pillow's own convert("L") would clip
    x = load_image(path, 8, 1)
    assert 0.45 < float(x.mean()) < 0.55


@pytest.mark.parametrize("case", ["text", "missing", "folder", "truncated"])
def test_unreadable_files_are_refused_with_one_line(tmp_path, case):
    if case == "text":
        path = tmp_path / "notes.png"
        path.write_text("this is a text file renamed to .png\n")
    elif case == "missing":
        path = tmp_path / "gone.png"
    elif case == "folder":
        path = tmp_path / "folder.png"
        path.mkdir()
    else:
        good = save(tmp_path, np.random.default_rng(1).integers(0, 256, (64, 64), dtype=np.uint8), "t.png")
        path = tmp_path / "cut.png"
        path.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ImageInputError) as e:
        load_image(path, 16, 1)
    assert isinstance(e.value, ValueError)
    msg = str(e.value)
    assert path.name in msg and "\n" not in msg


@pytest.mark.parametrize("limit", [300, 150])  # 400 pixels: over 1x (Pillow only warns) and over 2x (it raises)
def test_images_over_the_decompression_bomb_limit_are_refused(tmp_path, monkeypatch, limit):
    path = save(tmp_path, np.zeros((20, 20), np.uint8), "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    with pytest.raises(ImageInputError, match="too large"):
        load_image(path, 16, 1)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert load_image(path, 16, 1).shape == (1, 1, 16, 16)


def test_posterior_mean_checks_the_shape_and_matches_the_encoder():
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=[16], latent_dim=3, image_size=8, channels=1)).eval()
    x = torch.rand(2, 1, 8, 8)
    mu = posterior_mean(model, x)
    assert mu.shape == (2, 3)
    assert np.allclose(mu, model.encode(x)[0].detach().numpy(), atol=1e-6)
    with pytest.raises(ImageInputError, match="expects"):
        posterior_mean(model, torch.rand(1, 3, 8, 8))
