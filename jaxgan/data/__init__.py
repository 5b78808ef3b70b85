"""One input API: `load(config)` opens config.dataset; `Batcher` and `Prefetcher` feed the step."""

from jaxgan.data.pipeline import (Batcher, Dataset, Prefetcher, balanced_subset, canonical_dataset, dataset_config,
                                  dispatch_batches, load)
from jaxgan.data.spec import DataSpec
from jaxgan.data.translation import TranslationDataset

__all__ = ['Batcher', 'DataSpec', 'Dataset', 'Prefetcher', 'balanced_subset', 'canonical_dataset', 'dataset_config',
           'dispatch_batches', 'load', 'TranslationDataset']
