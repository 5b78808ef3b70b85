"""Stacked digits (and the digits) written in several renderings, as a user would bring them: PNG folders
for `folder:` and arrays for `npy:`, each with its labels, and each rendering's pixel statistics.

    python benchmarks/renderings.py --out=DIR [--renderings=bicubic32,nearest32] [--what=stacked,digits]
        [--seed=0] [--formats=folder,npy] [--stats=benchmarks/results/renderings_stats.json]

The stacked examples are those of `stacked:digits` with --seed (the same triples, in the same order:
`jaxgan.data.sources.stacked`), drawn from scikit-learn's 8x8 digits shipped with jaxgan. Each rendering
takes the 8x8 planes to the stored size one plane at a time with PIL:

    bicubic32   8 -> 32 bicubic: the pixels `stacked:digits` trains on at 32 (jaxgan's own resize)
    nearest32   8 -> 32 nearest neighbour: blocky, hard edges
    bilinear32  8 -> 32 bilinear
    lanczos32   8 -> 32 Lanczos
    bicubic28   8 -> 28 bicubic, stored at 28 (MNIST's size): jaxgan resizes it to 32 when it trains
    bgr32       bicubic32 with the channels reversed (labels follow the channels)
    contrast32  bicubic32 at half the contrast on a grey ground: 64 + v / 2

Written under --out: stacked_<r>/LLL/NNNNN.png (LLL the 3-digit label, one sub-folder per label, as
`experiments.stacked_mnist` counts it), stacked_<r>.npy with stacked_<r>.labels.npy (the label 0..999,
digit k of it the digit of channel k), and the same for the grey digits (digits_<r>/D/NNNN.png,
digits_<r>.npy, labels 0..9). The statistics (mean, standard deviation, share of mid-grey pixels, mean
absolute gradient as sharpness, value range) go to --stats.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jaxgan.data import sources  # noqa: E402

FILTERS = {'nearest': Image.Resampling.NEAREST, 'bilinear': Image.Resampling.BILINEAR,
           'bicubic': Image.Resampling.BICUBIC, 'lanczos': Image.Resampling.LANCZOS}
# name -> (filter, stored size, channels reversed, contrast halved)
RENDERINGS = {
    'bicubic32': ('bicubic', 32, False, False),
    'nearest32': ('nearest', 32, False, False),
    'bilinear32': ('bilinear', 32, False, False),
    'lanczos32': ('lanczos', 32, False, False),
    'bicubic28': ('bicubic', 28, False, False),
    'bgr32': ('bicubic', 32, True, False),
    'contrast32': ('bicubic', 32, False, True),
}


def render_plane(plane: np.ndarray, name: str) -> np.ndarray:
    """One uint8 [8, 8] plane in rendering `name`: [S, S] uint8."""
    method, size, _, contrast = RENDERINGS[name]
    out = np.asarray(Image.fromarray(np.ascontiguousarray(plane)).resize((size, size), FILTERS[method]))
    if contrast:
        out = (64 + out.astype(np.int32) // 2).astype(np.uint8)
    return out


def render(images: np.ndarray, labels: np.ndarray, name: str, digits: int) -> tuple[np.ndarray, np.ndarray]:
    """images uint8 [N, 8, 8, C] with labels (C digits each, channel k the k-th digit) -> the rendering's
    [N, S, S, C] and its labels (the digits reordered with the channels for bgr)."""
    out = np.stack([np.stack([render_plane(im[..., c], name) for c in range(im.shape[-1])], axis=-1)
                    for im in images])
    if RENDERINGS[name][2] and out.shape[-1] == 3:
        out = out[..., ::-1]
        d = [(labels // 10 ** (digits - 1 - k)) % 10 for k in range(digits)][::-1]
        labels = sum(d[k] * 10 ** (digits - 1 - k) for k in range(digits))
    return np.ascontiguousarray(out), labels.astype(np.int64)


def statistics(images: np.ndarray) -> dict:
    """Pixel figures that tell renderings apart."""
    x = images.astype(np.float32)
    sharp = (np.abs(np.diff(x, axis=1)).mean() + np.abs(np.diff(x, axis=2)).mean()) / 2
    return {'shape': list(images.shape[1:]), 'mean': float(x.mean()), 'std': float(x.std()),
            'min': int(images.min()), 'max': int(images.max()),
            'mid_grey_share': float(np.mean((x > 32) & (x < 224))),
            'mean_abs_gradient': float(sharp)}


def write(out: str, stem: str, images: np.ndarray, labels: np.ndarray, digits: int, formats: set[str]) -> None:
    if 'npy' in formats:
        np.save(os.path.join(out, f'{stem}.npy'), images)
        np.save(os.path.join(out, f'{stem}.labels.npy'), labels)
    if 'folder' in formats:
        for i, (image, label) in enumerate(zip(images, labels)):
            directory = os.path.join(out, stem, f'{int(label):0{digits}d}')
            os.makedirs(directory, exist_ok=True)
            Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(
                os.path.join(directory, f'{i:05d}.png'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True)
    parser.add_argument('--renderings', default=','.join(RENDERINGS))
    parser.add_argument('--what', default='stacked,digits')
    parser.add_argument('--formats', default='folder,npy')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--stats', default='benchmarks/results/renderings_stats.json')
    args = parser.parse_args()
    names = [r for r in args.renderings.split(',') if r]
    unknown = [r for r in names if r not in RENDERINGS]
    if unknown:
        sys.exit(f'error: unknown rendering(s) {", ".join(unknown)}; choose from {", ".join(RENDERINGS)}')
    formats = set(args.formats.split(','))
    os.makedirs(args.out, exist_ok=True)
    base = sources.digits()
    sets = {}
    if 'digits' in args.what:
        sets['digits'] = (np.asarray(base.array), base.labels, 1)
    if 'stacked' in args.what:
        stacked = sources.stacked(base, seed=args.seed)
        sets['stacked'] = (np.stack([stacked[i] for i in range(len(stacked))]), stacked.labels, 3)
    stats = {'seed': args.seed, 'renderings': {}}
    for what, (images, labels, digits) in sets.items():
        for name in names:
            rendered, rendered_labels = render(images, np.asarray(labels), name, digits)
            write(args.out, f'{what}_{name}', rendered, rendered_labels, digits, formats)
            stats['renderings'][f'{what}_{name}'] = statistics(rendered)
            print(f'{what}_{name}: {json.dumps(stats["renderings"][f"{what}_{name}"])}', flush=True)
    if args.stats:
        with open(args.stats, 'w', encoding='utf-8') as f:
            json.dump(stats, f, indent=2)


if __name__ == '__main__':
    main()
