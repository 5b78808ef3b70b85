"""Download-free image-to-image translation tasks made from scikit-learn's digits, each with a known
true mapping, so that a translation can be scored against the truth on a CPU in minutes.

    demo:edges2digits[:SPLIT]    paired (pix2pix): A, the outline of a digit; B, the digit
    demo:digits_colour[:SPLIT]   unpaired (CycleGAN, U-GAT-IT): A, grey digits, white on black; B, other
                                 digits inked in blue on a light yellow ground (`colour`)

Both are made at 32x32 (the 8x8 digits upscaled with bicubic filtering) and then prepared like any other
images (resized to config.image_size). SPLIT is `train` (scikit-learn's first 1,437 digits, the
`digits:train` split) or `test` (the last 360, `digits:test`): the test split is the same for every
seed, so that scores of several seeds are comparable.

Why they show the methods:

- edges2digits is pix2pix's edges2shoes in miniature. The outline fixes where the ink is, not how dark
  it is (the digits have 17 grey levels and soft strokes), so several outputs are right for one input
  and a generator trained with L1 alone predicts their mean: a blurred digit. pix2pix's claim is that
  the adversarial term gives sharper outputs at little cost in L1; every test input has its true B, so
  L1, PSNR, SSIM and sharpness (`jaxgan.metrics.image_quality`) measure it.
- digits_colour is an unpaired task: the training images of the two domains are different digits (the
  1,437 training digits split in two with the seed), so no pair is ever seen. The true map A -> B is
  known, `colour` (and B -> A is `uncolour`); a translation G(a) can be scored per pixel against
  colour(a), and by whether it keeps the digit: the class of uncolour(G(a)) under a digits classifier
  (`jaxgan.metrics.classifier`) against a's label. An adversarial loss alone only asks G(a) to look
  like some blue digit; cycle consistency is what ties it to this digit, which the class accuracy
  shows. Its test split is aligned for scoring: test B image i is colour(test A image i).
"""

from __future__ import annotations

import numpy as np

from jaxgan.data import sources, transforms
from jaxgan.errors import UserError

SIZE = 32  # the demos' images, before the usual resize to config.image_size
SPLITS = ('train', 'test')
GROUND = np.array([250.0, 240.0, 200.0])  # digits_colour's B: light yellow ground ...
INK = np.array([30.0, 60.0, 170.0])  # ... and blue ink, at full stroke intensity


def digits_at(split: str, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits of `split`, upscaled: (uint8 [N, size, size, 1], labels [N])."""
    base = sources.digits(split)
    return np.stack([transforms.resize(image, size) for image in base.array]), base.labels


def outline(images: np.ndarray, threshold: int = 128) -> np.ndarray:
    """The inner boundary of the ink (pixels >= threshold with a 4-neighbour below it) as 255 on 0, per
    image of uint8 [..., H, W, 1]."""
    ink = images[..., 0] >= threshold
    padded = np.pad(ink, [(0, 0)] * (ink.ndim - 2) + [(1, 1), (1, 1)])
    inside = (padded[..., :-2, 1:-1] & padded[..., 2:, 1:-1] & padded[..., 1:-1, :-2] & padded[..., 1:-1, 2:])
    return np.where(ink & ~inside, 255, 0).astype(np.uint8)[..., None]


def colour(images: np.ndarray) -> np.ndarray:
    """digits_colour's true map A -> B: grey uint8 [..., 1] (or grey as [..., 3]) to RGB uint8 [..., 3],
    each pixel GROUND + (INK - GROUND) * grey / 255."""
    grey = np.asarray(images, np.float64).mean(-1, keepdims=True) / 255.0
    return np.clip(np.round(GROUND + (INK - GROUND) * grey), 0, 255).astype(np.uint8)


def uncolour(images: np.ndarray) -> np.ndarray:
    """The inverse, B -> A: RGB uint8 [..., 3] to grey uint8 [..., 1], by least squares along INK - GROUND
    (so a translation's colours off that line still map to the nearest grey)."""
    direction = INK - GROUND
    grey = (np.asarray(images, np.float64) - GROUND) @ direction / (direction @ direction) * 255.0
    return np.clip(np.round(grey), 0, 255).astype(np.uint8)[..., None]


def edges2digits(split: str) -> sources.Source:
    """Pairs uint8 [2, 32, 32, 1]: (outline, digit), with the digit's label."""
    _check(split, 'edges2digits')
    digits, labels = digits_at(split)
    pairs = np.stack([outline(digits), digits], axis=1)
    return sources.Source(f'demo:edges2digits:{split}', 'image', len(pairs), lambda i: pairs[i], pairs,
                          labels=labels, class_names=tuple(map(str, range(10))))


def digits_colour(split: str, seed: int) -> tuple[sources.Source, sources.Source]:
    """Domain A (grey [32, 32, 1]) and domain B (RGB [32, 32, 3]) with labels. Train: the training digits
    split in two halves with the seed, A and B. Test: the test digits, and B[i] = colour(A[i])."""
    _check(split, 'digits_colour')
    digits, labels = digits_at(split)
    if split == 'train':
        order = np.random.default_rng([seed, 0xdc01]).permutation(len(digits))
        half = len(digits) // 2
        a, b = np.sort(order[:half]), np.sort(order[half:])
        description = f'demo:digits_colour:train (seed {seed})'
    else:
        a = b = np.arange(len(digits))
        description = 'demo:digits_colour:test'
    return (sources.array_source(digits[a], f'{description} A', labels[a]),
            sources.array_source(colour(digits[b]), f'{description} B', labels[b]))


NAMES = ('edges2digits', 'digits_colour')


def _grey(images: np.ndarray) -> np.ndarray:
    """uint8 [..., C] as one grey channel, the mean of the channels (translations into a grey domain
    come back with the data's channel count)."""
    return np.round(np.asarray(images, np.float64).mean(-1, keepdims=True)).astype(np.uint8)


# {demo: {direction: translations -> grey digits, white on black, as a digits classifier reads them}}:
# the target domain's inverse true map, so that whether a translation keeps its input's digit can be read.
READABLE = {'edges2digits': {'a2b': _grey}, 'digits_colour': {'a2b': uncolour, 'b2a': _grey}}


def _check(split: str, name: str) -> None:
    if split not in SPLITS:
        raise UserError(f'demo:{name}:{split}: the splits are demo:{name}:train and demo:{name}:test')
