"""Host-side preprocessing of one raw example to the model's shape."""

from __future__ import annotations

import numpy as np
from PIL import Image

from jaxgan.errors import UserError

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601, as PIL's 'L' conversion


def convert_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """uint8 [H, W, C] with C in {1, 3, 4} to `channels` (1 or 3); alpha is dropped."""
    if image.shape[-1] == 4:
        image = image[..., :3]
    have = image.shape[-1]
    if have == channels:
        return image
    if channels == 3:
        return np.repeat(image, 3, axis=-1)
    return np.round(image.astype(np.float32) @ _LUMA)[..., None].astype(np.uint8)


def centre_crop(image: np.ndarray, crop: int, name: str = 'image') -> np.ndarray:
    """The central crop x crop square; crop=0 takes the largest centred square."""
    h, w = image.shape[:2]
    size = crop or min(h, w)
    if size > min(h, w):
        raise UserError(f'config.data.crop={crop} is larger than {name} of {h}x{w} pixels '
                        '(--config.data.crop=0 takes the largest centred square)')
    top, left = (h - size) // 2, (w - size) // 2
    return image[top:top + size, left:left + size]


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """Antialiased bicubic resize of a square uint8 image to size x size (PIL)."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    planes = [np.asarray(Image.fromarray(np.ascontiguousarray(image[..., c])).resize(
        (size, size), Image.Resampling.BICUBIC)) for c in range(image.shape[-1])]
    return np.stack(planes, axis=-1)


def preprocess_image(image: np.ndarray, *, size: int, crop: int, channels: int,
                     name: str = 'image') -> np.ndarray:
    """Raw uint8 [H, W, C] to uint8 [size, size, channels]: channels, centre crop, resize."""
    if image.ndim == 2:
        image = image[..., None]
    return resize(centre_crop(convert_channels(image, channels), crop, name), size)
