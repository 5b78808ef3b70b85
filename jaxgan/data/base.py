"""The one interface of the data a run trains on, whatever their kind: images or vectors (`images.Dataset`),
translation pairs or two domains (`translation.TranslationDataset`) and tables (`tables.TableDataset`).

The `pipeline.Batcher` walks one seeded index stream per entry of `sizes` and asks `batch` for the
examples at those indices; the dataset held on the devices (`resident`) and the previews read examples
by index with `read`. Code above the data layer asks `layout` what it holds, never for a class.

(`sources.Source` is the layer below: raw examples of one file, folder or array, not yet at the
training size.)
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from jaxgan.data.spec import DataSpec

SINGLE = 'single'  # one example per index: an image or a vector; batches {'x'} (and {'y'}, classes)
PAIRED = 'paired'  # an aligned pair (A, B) per index; batches {'a', 'b'}
UNPAIRED = 'unpaired'  # two domains, an index stream each; batches {'a', 'b'}
TABLE = 'table'  # encoded rows; batches {'x', 'c'} (rows and their training-by-sampling conditions)
LAYOUTS = (SINGLE, PAIRED, UNPAIRED, TABLE)
TRANSLATION = (PAIRED, UNPAIRED)  # what translation models learn from


@runtime_checkable
class DataSource(Protocol):
    """What the loop, the Batcher, the dataset held on the devices and the previews read of any data."""

    @property
    def spec(self) -> DataSpec:
        """One example as the model sees it (for two domains, one image of either)."""

    @property
    def layout(self) -> str:
        """One of LAYOUTS: how examples are laid out by index and what a batch holds."""

    @property
    def labels(self) -> np.ndarray | None:
        """The class of each example of the first stream, where batches can carry classes ({'y'})."""

    @property
    def sizes(self) -> tuple[int, ...]:
        """The size of each index stream: (examples,), (pairs,), (A images, B images) or (rows,)."""

    def read(self, indices: Sequence[np.ndarray], pool: ThreadPoolExecutor | None = None
             ) -> dict[str, np.ndarray]:
        """The examples at `indices` (one array per stream) as a batch, without training's random draws
        (translation's jitter, a table's training-by-sampling)."""

    def batch(self, indices: Sequence[np.ndarray], positions: np.ndarray, seed: int,
              pool: ThreadPoolExecutor | None = None) -> dict[str, np.ndarray]:
        """A training batch: the examples at `indices`, with any random draws a function of (seed, each
        example's position in the global stream), so that a resumed run reads the same batches."""
