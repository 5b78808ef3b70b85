"""One input API: `load(config)` opens config.dataset as a `DataSource` (images and vectors, translation
pairs or domains, tables); `Batcher` and `Prefetcher` feed the step."""

from jaxgan.data.base import DataSource
from jaxgan.data.pipeline import (Batcher, Dataset, Prefetcher, balanced_subset, canonical_dataset, dataset_config,
                                  dispatch_batches, load)
from jaxgan.data.spec import DataSpec, changed_source
from jaxgan.data.translation import TranslationDataset

__all__ = ['Batcher', 'DataSource', 'DataSpec', 'Dataset', 'Prefetcher', 'TranslationDataset',
           'balanced_subset', 'canonical_dataset', 'changed_source', 'dataset_config', 'dispatch_batches', 'load']
