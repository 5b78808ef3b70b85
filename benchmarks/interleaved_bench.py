"""Train-step speed of two checkouts, interleaved on one machine: `python -m jaxgan.bench` for DCGAN-32,
toy_2d, stylegan2_digits and r3gan_digits (`--configs` picks), run from a checkout of a base commit and
from this tree by turns, so that both sides see the same machine load; a change that should not move
speed is within noise when the medians' ratio is.

    git worktree add /tmp/base <commit>      # a checkout of the base, anywhere outside this tree
    python benchmarks/interleaved_bench.py --base=/tmp/base --rounds=3 --out=benchmarks/results/x.json

Each run is its own process (compilation included, not timed): the bench's steps/s of the configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (name, bench arguments): the two configurations the upper-floor redesign was checked with.
CONFIGS = (
    ('dcgan32', ['--experiment=dcgan_celeba', '--config.image_size=32', '--config.model.g_width=16',
                 '--config.model.d_width=16', '--batch_sizes=32', '--steps_per_dispatch=10', '--steps=60',
                 '--warmup=1']),
    # the code pinned to today's default (256 components; until 2026-12-07, 64): both trees build the same
    # game (the bench does not anneal, and the fields exist in older trees)
    ('toy_2d', ['--experiment=toy_2d', '--batch_sizes=256', '--steps_per_dispatch=50', '--steps=1500',
                '--warmup=2', '--config.infogan.categorical=256', '--config.infogan.weight=0.1']),
    # StyleGAN2's and R3GAN's resampling (zero insertion, FIR filters), which the ONNX-convertible form of the
    # zero insertion changed
    ('stylegan2_digits', ['--experiment=stylegan2_digits', '--batch_sizes=32', '--steps_per_dispatch=5',
                          '--steps=40', '--warmup=1']),
    ('r3gan_digits', ['--experiment=r3gan_digits', '--batch_sizes=32', '--steps_per_dispatch=5', '--steps=40',
                      '--warmup=1']),
)


def run(tree: str, args: list[str]) -> float:
    """steps/s of one bench run from `tree` (its own jaxgan: the working directory comes first on the path)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'bench.json')
        done = subprocess.run([sys.executable, '-m', 'jaxgan.bench', *args, f'--out={out}'], cwd=tree,
                              capture_output=True, text=True, timeout=900)
        if done.returncode:
            raise SystemExit(f'error: the bench failed in {tree}: {done.stderr[-2000:]}')
        rows = json.load(open(out))
        rows = rows['results'] if isinstance(rows, dict) else rows
        return float(rows[0]['steps_per_s'])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--base', required=True, help='a checkout of the base commit')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--configs', default=','.join(name for name, _ in CONFIGS), help='which of CONFIGS')
    parser.add_argument('--out', default='')
    a = parser.parse_args()
    chosen = tuple((name, args) for name, args in CONFIGS if name in a.configs.split(','))
    if not os.path.isdir(os.path.join(a.base, 'jaxgan')):
        raise SystemExit(f'error: --base={a.base} is not a checkout of jaxgan')
    rates = {name: {'base': [], 'this': []} for name, _ in chosen}
    for r in range(a.rounds):
        for name, args in chosen:
            for side, tree in (('base', a.base), ('this', HERE)) if r % 2 == 0 else (('this', HERE), ('base', a.base)):
                rates[name][side].append(run(tree, args))
                print(f'round {r}: {name} {side}: {rates[name][side][-1]:.2f} steps/s', flush=True)
    summary = {name: {'base_median': statistics.median(v['base']), 'this_median': statistics.median(v['this']),
                      'ratio': statistics.median(v['this']) / statistics.median(v['base']), **v}
               for name, v in rates.items()}
    for name, s in summary.items():
        print(f'{name}: base {s["base_median"]:.2f}, this {s["this_median"]:.2f} steps/s (medians of {a.rounds}); '
              f'ratio {s["ratio"]:.3f}')
    if a.out:
        with open(a.out, 'w', encoding='utf-8') as f:
            json.dump({'configs': dict(chosen), 'rounds': a.rounds, 'cpus': os.cpu_count(), 'results': summary},
                      f, indent=2)


if __name__ == '__main__':
    main()
