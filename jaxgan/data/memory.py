"""Whether one batch at config.image_size can fit in memory, checked before any data are read: a size
far beyond the machine's memory is refused in one line, not killed by the kernel mid-decode."""

from __future__ import annotations

import os

import ml_collections

from jaxgan.errors import UserError

# Bytes per pixel and channel of one batch on the host: the uint8 batch the pipeline decodes into (1)
# and the float32 images the model takes (4). A lower bound: the decode buffers of the workers, the
# prefetched batches and the networks' activations come on top.
BATCH_BYTES_PER_VALUE = 1 + 4


def available_bytes() -> int | None:
    """Memory a new allocation can have: Linux's MemAvailable (free pages plus the page cache the kernel
    gives back), else the free pages os.sysconf reports; None where neither is known."""
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf('SC_AVPHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')
    except (ValueError, OSError, AttributeError):  # not every system names these
        return None


def batch_bytes(batch: int, size: int, channels: int, images_per_example: int = 1) -> int:
    """Bytes one batch of `batch` examples of size x size x channels images needs at least."""
    return batch * images_per_example * size * size * channels * BATCH_BYTES_PER_VALUE


def _amount(n: float) -> str:
    for unit in ('bytes', 'KB', 'MB', 'GB', 'TB', 'PB'):
        if n < 1000 or unit == 'PB':
            return f'{n:.0f} {unit}' if unit == 'bytes' else f'{n:.1f} {unit}'
        n /= 1000
    raise AssertionError


def check_batch_fits(config: ml_collections.ConfigDict, *, channels: int = 0, images_per_example: int = 1,
                     available: int | None = None) -> None:
    """A UserError where one global batch at config.image_size needs more memory than is available.
    `channels`: the data's, once known; before that config.data.channels, or 1 where the data decide
    (the fewest, so that a refusal is certain: what is refused cannot fit whatever the data hold)."""
    available = available_bytes() if available is None else available
    size, batch = config.image_size, config.batch_size
    channels = channels or config.data.channels or 1
    need = batch_bytes(batch, size, channels, images_per_example)
    if available is not None and need > available:
        images = f'{batch} {"pairs of " if images_per_example == 2 else ""}images of {size}x{size}x{channels}'
        raise UserError(f'config.image_size={size}: one batch of {images} needs at least {_amount(need)} of '
                        f'memory (uint8 and float32 copies), and {_amount(available)} is available: '
                        'set a smaller config.image_size (or config.batch_size)')
