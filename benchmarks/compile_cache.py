"""Compile time of a first and a second process with JAX's persistent compilation cache (jaxgan's
--compile_cache): `python -m jaxgan.bench` run twice on a fresh cache directory, then once with the cache
off, for each experiment; the bench's compile_s is the first dispatch's time (compilation, or loading).

    python benchmarks/compile_cache.py --experiments=dcgan32,stylegan2_digits --out=benchmarks/results/compile_cache.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARGS = {
    'dcgan32': ['--experiment=dcgan_celeba', '--config.image_size=32', '--config.model.g_width=16',
                '--config.model.d_width=16', '--batch_sizes=32'],
    'stylegan2_digits': ['--experiment=stylegan2_digits'],
}


def compile_seconds(args: list[str], cache: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'bench.json')
        done = subprocess.run([sys.executable, '-m', 'jaxgan.bench', *args, '--steps=2', '--warmup=1',
                               f'--compile_cache={cache}', f'--out={out}'], cwd=HERE, capture_output=True, text=True,
                              timeout=1800)
        if done.returncode:
            raise SystemExit(f'error: the bench failed: {done.stderr[-2000:]}')
        return float(json.load(open(out))['results'][0]['compile_s'])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--experiments', default='dcgan32,stylegan2_digits')
    parser.add_argument('--out', default='')
    a = parser.parse_args()
    results = {}
    for name in a.experiments.split(','):
        with tempfile.TemporaryDirectory() as cache:
            first, second = (compile_seconds(ARGS[name], cache) for _ in range(2))
            entries = len(os.listdir(cache))
        off = compile_seconds(ARGS[name], 'off')
        results[name] = dict(first_s=first, second_s=second, off_s=off, ratio=second / first, entries=entries)
        print(f'{name}: first process {first:.2f} s, second {second:.2f} s ({second / first:.2f} of the first; '
              f'{entries} cache entries); with the cache off {off:.2f} s', flush=True)
    if a.out:
        with open(a.out, 'w', encoding='utf-8') as f:
            json.dump({'args': ARGS, 'cpus': os.cpu_count(), 'results': results}, f, indent=2)


if __name__ == '__main__':
    main()
