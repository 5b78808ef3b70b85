"""What every image dataset does as it opens its sources: find a readable example, and decide the channel
count of the data from a sample of their files (`choose_channels`), not from whichever file sorts first.

Shared by `images` (one source) and `translation` (pairs, or two domains).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from jaxgan.data import sources
from jaxgan.errors import UserError

CHANNEL_SAMPLE = 64  # files looked at to decide the channels: evenly spaced over the data, all when fewer


def first_readable(source: sources.Source, on_corrupt: str) -> np.ndarray:
    """Example 0, or with on_corrupt='skip' the first that can be decoded."""
    for i in range(len(source)):
        try:
            return source[i]
        except sources.CorruptImageError:
            if on_corrupt != 'skip':
                raise
    raise UserError(f'{source.description}: no example can be read')


def channels_of(image: np.ndarray) -> int:
    """1 for a grey image ([H, W] or [H, W, 1]), else 3 (an alpha channel is dropped)."""
    return 1 if image.ndim == 2 or image.shape[-1] == 1 else 3


def sample_indices(size: int, count: int = CHANNEL_SAMPLE) -> np.ndarray:
    """Up to `count` indices evenly spaced over [0, size), the first and last among them."""
    return np.unique(np.round(np.linspace(0, size - 1, min(size, count))).astype(np.int64))


def _looks(source: sources.Source, i: int) -> tuple[int, bool]:
    """(channels, alpha dropped) of example i: from its file's header where the source can peek, else
    decoded (a pair counts as colour where either half is)."""
    if source.peek is not None:
        return source.peek(i)
    example = source[i]
    halves = example if isinstance(example, tuple) or np.ndim(example) == 4 else (example,)
    return max(channels_of(np.asarray(h)) for h in halves), False


def _tally(source: sources.Source) -> tuple[int, int, int]:
    """(colour, grey, with alpha) among the sampled examples that can be read. An unreadable one is left
    out here: the pipeline reports it, or skips it, where it reads it (config.data.on_corrupt)."""
    if source.array is not None:  # one array: one channel count for all
        return (len(source), 0, 0) if channels_of(source.array[:1][0]) == 3 else (0, len(source), 0)
    colour = grey = alpha = 0
    for i in sample_indices(len(source)):
        try:
            channels, dropped = _looks(source, int(i))
        except sources.CorruptImageError:
            continue
        colour, grey, alpha = colour + (channels == 3), grey + (channels == 1), alpha + dropped
    return colour, grey, alpha


def choose_channels(parts: Sequence[sources.Source], configured: int = 0) -> tuple[int, str]:
    """(channels, why): config.data.channels where set; else 3 where any sampled example of any part is
    colour (a few grey files among colour ones are colour data: they are read as colour, their grey
    repeated in three channels), 1 where all are grey. `why` is a line for the log."""
    if configured:
        return configured, f'{configured} channel{"s" * (configured > 1)} (config.data.channels={configured})'
    tallies = [_tally(part) for part in parts]
    channels = 3 if any(colour for colour, _, _ in tallies) else 1
    named = len(parts) > 1
    counts = []
    for key, part, (colour, grey, alpha) in zip('AB', parts, tallies):
        noun = 'examples' if part.array is not None else 'sampled files'
        text = f'{colour} of {colour + grey} {noun} are colour, {grey} grey'
        if alpha:
            text += f', {alpha} with an alpha channel, which is dropped (the colour under transparent pixels is kept)'
        counts.append(f'{key}: {text}' if named else text)
    some_grey = channels == 3 and any(grey for _, grey, _ in tallies)
    plural = 's' * (channels > 1)
    return channels, (f'{channels} channel{plural} ({"; ".join(counts)}'
                      + (': grey ones are read as colour)' if some_grey else ')'))
