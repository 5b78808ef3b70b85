"""Host decoding of a folder of JPEGs, side by side: the pipeline before Grain (each batch decoded by a pool
of 8 threads in the main process, `images.map_in_order`, the Batcher's default then) and the pipeline
now (`pipeline.Batcher.stream`: Grain worker processes, 2 by default). Two folders are written with
Pillow into a temporary directory: 64x64 JPEGs (resized to nothing) and CelebA-sized 178x218 JPEGs
(centre crop 108, resized to 64, as `experiments.dcgan_celeba` reads CelebA). The two pipelines
alternate, round after round (the order swapped each round), so that a machine shared with other work
loads both alike; the report gives the median ratio of their rates and its range.

Each measurement reads `--batches` batches of `--batch` images after `--warmup` batches not timed; the
new pipeline's start (its worker processes, which import Grain and JAX) is timed apart. Beside each rate,
the CPU cores the pipeline kept busy (CPU seconds of this process and its workers per second): the thread
pool is held to about one by Python's lock, the workers can use as many as they are; where other work
loads the machine (the kernel shares a busy machine between sessions, not processes), neither gets more
than its share, and the ratio falls towards 1.

    python benchmarks/host_decode.py --rounds=5 --out=benchmarks/results/host_decode.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jaxgan import config as config_lib, data  # noqa: E402

FOLDERS = {'64x64': dict(width=64, height=64, crop=0), 'celeba_178x218': dict(width=178, height=218, crop=108)}
OLD_THREADS = 8  # config.data.workers before Grain: threads of the decoding pool


def write_folder(folder: str, count: int, width: int, height: int, seed: int = 0) -> None:
    """`count` photo-like JPEGs (smooth shapes with grain, quality 90), not noise, which JPEG codes badly."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        coarse = rng.integers(0, 256, (height // 16 + 2, width // 16 + 2, 3), np.uint8)
        smooth = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC), np.int16)
        pixels = np.clip(smooth + rng.integers(-12, 13, smooth.shape), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(os.path.join(folder, f'{i:05d}.jpg'), quality=90)


def dataset_of(folder: str, crop: int):
    config = config_lib.base_config()
    config.dataset, config.image_size = f'folder:{folder}', 64
    config.data.crop, config.data.channels = crop, 3
    return data.load(config)


def cpu_seconds() -> float:
    """CPU time (user and system) of this process and its live children (Grain's workers) so far."""
    import psutil  # installed with Grain (portpicker needs it)
    total = 0.0
    for process in [psutil.Process(), *psutil.Process().children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def old_rate(dataset, batch: int, batches: int, warmup: int, seed: int) -> tuple[float, float]:
    """(images/s, CPU cores busy) of the pipeline before Grain: its Batcher.batch, `dataset.batch` with a
    pool of threads."""
    batcher = data.Batcher(dataset, global_batch=batch, seed=seed, workers=0)  # its order, its indices
    with ThreadPoolExecutor(OLD_THREADS, thread_name_prefix='jaxgan-data') as pool:
        def read(t: int) -> dict:
            return dataset.batch([batcher.indices(t)], batcher.positions(t), seed, pool)
        for t in range(warmup):
            read(t)
        start, cpu = time.perf_counter(), cpu_seconds()
        for t in range(warmup, warmup + batches):
            read(t)
        seconds = time.perf_counter() - start
        return batches * batch / seconds, (cpu_seconds() - cpu) / seconds


def new_rate(dataset, batch: int, batches: int, warmup: int, seed: int, workers: int
             ) -> tuple[float, float, float]:
    """(images/s, CPU cores busy, seconds to the first batch) of `Batcher.stream` with `workers` processes."""
    batcher = data.Batcher(dataset, global_batch=batch, seed=seed, workers=workers)
    assert batcher.workers == workers, 'the folder is decoded in the main process: no workers to measure'
    start = time.perf_counter()
    stream = batcher.stream(0, warmup + batches)
    try:
        next(stream)
        first = time.perf_counter() - start
        for _ in range(warmup - 1):
            next(stream)
        start, cpu = time.perf_counter(), cpu_seconds()
        for _ in range(batches):
            next(stream)
        seconds = time.perf_counter() - start
        return batches * batch / seconds, (cpu_seconds() - cpu) / seconds, first
    finally:
        stream.close()


def check_same(dataset, batch: int, workers: int, seed: int) -> None:
    """The new pipeline's first batches are the old one's, bit for bit."""
    batcher = data.Batcher(dataset, global_batch=batch, seed=seed, workers=workers)
    stream = batcher.stream(0, 3)
    try:
        with ThreadPoolExecutor(OLD_THREADS) as pool:
            for t, new in enumerate(stream):
                old = dataset.batch([batcher.indices(t)], batcher.positions(t), seed, pool)
                assert np.array_equal(new['x'], old['x']), f'batch {t} differs'
    finally:
        stream.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--files', type=int, default=2000)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--batch', type=int, default=128)
    parser.add_argument('--batches', type=int, default=24)
    parser.add_argument('--warmup', type=int, default=6)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--out', default='')
    a = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, shape in FOLDERS.items():
            folder = os.path.join(tmp, name)
            write_folder(folder, a.files, shape['width'], shape['height'])
            dataset = dataset_of(folder, shape['crop'])
            check_same(dataset, a.batch, a.workers, seed=0)
            old, new, starts, old_cores, new_cores = [], [], [], [], []
            for r in range(a.rounds):
                for which in (('old', 'new') if r % 2 == 0 else ('new', 'old')):
                    if which == 'old':
                        rate, cores = old_rate(dataset, a.batch, a.batches, a.warmup, seed=r)
                        old.append(rate)
                        old_cores.append(cores)
                    else:
                        rate, cores, first = new_rate(dataset, a.batch, a.batches, a.warmup, seed=r, workers=a.workers)
                        new.append(rate)
                        new_cores.append(cores)
                        starts.append(first)
                print(f'{name} round {r}: before {old[-1]:.0f} images/s ({old_cores[-1]:.2f} cores busy), Grain with '
                      f'{a.workers} workers {new[-1]:.0f} images/s ({new_cores[-1]:.2f} cores; first batch after '
                      f'{starts[-1]:.1f} s): {new[-1] / old[-1]:.2f}x; load average {os.getloadavg()[0]:.1f}',
                      flush=True)
            ratios = [n / o for n, o in zip(new, old)]
            results[name] = dict(
                old_images_per_s=[round(x, 1) for x in old], new_images_per_s=[round(x, 1) for x in new],
                ratios=[round(x, 3) for x in ratios], median_ratio=round(statistics.median(ratios), 3),
                min_ratio=round(min(ratios), 3), max_ratio=round(max(ratios), 3),
                new_first_batch_s=[round(x, 2) for x in starts],
                old_cores_busy=[round(x, 2) for x in old_cores], new_cores_busy=[round(x, 2) for x in new_cores],
                old_cpu_ms_per_image=round(1000 * statistics.median(c / r for c, r in zip(old_cores, old)), 3),
                new_cpu_ms_per_image=round(1000 * statistics.median(c / r for c, r in zip(new_cores, new)), 3))
            print(f'{name}: median ratio {statistics.median(ratios):.2f} (from {min(ratios):.2f} to '
                  f'{max(ratios):.2f}) over {a.rounds} rounds', flush=True)
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    if a.out:
        with open(a.out, 'w', encoding='utf-8') as f:
            json.dump({'command': 'python benchmarks/host_decode.py ' + ' '.join(sys.argv[1:]),
                       'cpus': os.cpu_count(), 'load_average_at_end': load, 'files': a.files,
                       'batch': a.batch, 'batches': a.batches, 'warmup': a.warmup, 'workers': a.workers,
                       'old_threads': OLD_THREADS, 'results': results}, f, indent=2)


if __name__ == '__main__':
    main()
