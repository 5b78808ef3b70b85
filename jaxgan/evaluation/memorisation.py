"""--metrics=nearest: each generated sample's nearest training examples, against held-out examples'
distances to them (memorisation)."""

from __future__ import annotations

import dataclasses
from typing import Iterator

import ml_collections
import numpy as np

from jaxgan import data
from jaxgan.errors import UserError
from jaxgan.evaluation.features import Extractor, shape_text
from jaxgan.evaluation.reference import reference_batches


NEAREST_K = 3  # training neighbours shown beside each sample
NEAREST_SHOWN = 16  # samples in the grid


@dataclasses.dataclass
class NearestReference:
    """What --metrics=nearest compares samples with: the training data (all of it, as the run trains on
    it: the config.data.limit subset, with config.data.flip its mirrored copies as second views of
    their examples, never as examples of their own) and the held-out examples' distances to them.

    Spaces: 'pixels' for images (the root mean square difference of the uint8 values, 0 to 255), 'data'
    for vectors (Euclidean, in the data's own units), and 'features' (Euclidean, in the evaluation's
    feature network) where there is one. A distance to an example is to the nearer of its views."""

    views: np.ndarray  # [V, ...] the training examples, then their mirrored copies where flipped
    num_examples: int  # distinct training examples (V, or V / 2 where flipped)
    view_features: np.ndarray | None  # [V, F]
    holdout_distances: dict  # space -> [H] distance of each held-out example to its nearest training example
    pixel_space: str  # 'pixels' or 'data'
    protocol: dict

    def neighbours(self, space: str, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(distances [Q, k], view indices [Q, k]) of the k nearest distinct training examples."""
        from jaxgan.metrics import nearest
        references = self.views if space != 'features' else self.view_features
        k = min(NEAREST_K, self.num_examples)
        per_example = len(self.views) // self.num_examples
        d, i = nearest.nearest(queries, references, min(per_example * k, len(references)))
        d, i = nearest.distinct_examples(d, i, self.num_examples, k)
        if space == 'pixels':  # root mean square over the values of an image
            d = d / np.sqrt(np.prod(self.views.shape[1:]))
        return d, i

    def compare(self, samples: np.ndarray, features: np.ndarray | None) -> tuple[dict, dict, dict]:
        """(flat metrics, the distributions and the first samples' neighbours for JSON, the neighbours'
        view indices per space for a figure) of generated samples (and their features)."""
        from jaxgan.metrics import nearest
        metrics, report, shown = {}, {}, {}
        spaces = [self.pixel_space] + (['features'] if features is not None else [])
        for space in spaces:
            d, i = self.neighbours(space, samples if space != 'features' else features)
            holdout = self.holdout_distances[space]
            score, threshold = nearest.memorisation_score(d[:, 0], holdout)
            metrics[f'nearest_memorisation_{space}'] = score
            metrics[f'nearest_median_{space}'] = float(np.median(d[:, 0]))
            metrics[f'nearest_holdout_median_{space}'] = float(np.median(holdout))
            report[space] = {
                'memorisation': score, 'threshold': threshold,
                'samples': nearest.distribution(d[:, 0]), 'holdout': nearest.distribution(holdout),
                'holdout_at_distance_0': float(np.mean(holdout == 0)),
                'first_samples_neighbours': [
                    [{'example': int(v % self.num_examples), 'mirrored': bool(v >= self.num_examples),
                      'distance': float(x)} for v, x in zip(row_i, row_d)]
                    for row_i, row_d in zip(i[:NEAREST_SHOWN], d[:NEAREST_SHOWN])]}
            shown[space] = i[:NEAREST_SHOWN]
        # The single score: in the features where there are, else in pixels (data units for vectors).
        metrics['nearest_memorisation'] = metrics[f'nearest_memorisation_{spaces[-1]}']
        return metrics, report, shown

    def grid(self, samples: np.ndarray, shown: dict) -> np.ndarray:
        """uint8 image: a row per sample, the sample, then its nearest training examples in each space."""
        from jaxgan import sampling
        rows = [np.concatenate([samples[r:r + 1], *(self.views[i[r]] for i in shown.values())])
                for r in range(len(next(iter(shown.values()))))]
        return sampling.make_grid(np.concatenate(rows), columns=len(rows[0]))


def _all_examples(dataset: data.Dataset, num: int, batch: int = 500) -> Iterator[np.ndarray]:
    for start in range(0, num, batch):
        yield dataset.examples(np.arange(start, min(start + batch, num)))


def _in_data_units(dataset: data.Dataset, batches: Iterator[np.ndarray]) -> np.ndarray:
    """Examples as the generator's samples are given: uint8 images, or vectors in the data's units."""
    out = np.concatenate(list(batches))
    return dataset.spec.to_data_units(out) if dataset.spec.kind == 'vector' else out


def nearest_reference(config: ml_collections.ConfigDict, dataset: data.Dataset, holdout: str,
                      extractor: 'Extractor | None', *, reference_size: int) -> NearestReference:
    """The training data of `dataset` and up to `reference_size` examples of `holdout` (drawn with the
    seed), with their features and the held-out examples' distances to the training data."""
    from jaxgan.metrics import nearest
    name, held = holdout_dataset(config, dataset, holdout)
    if extractor is not None:
        extractor.net.check(held.spec.shape, f'--holdout={name}')
    num_views = dataset.spec.num_examples
    num_examples = num_views // 2 if dataset.flip else num_views
    if num_examples < 1:
        raise UserError(f'--metrics=nearest: config.dataset={config.dataset} has no examples')
    count = min(reference_size, held.spec.num_examples)
    views = _in_data_units(dataset, _all_examples(dataset, num_views))
    held_out = _in_data_units(held, reference_batches(held, count, 500, config.seed))
    pixel_space = 'pixels' if dataset.spec.kind == 'image' else 'data'
    view_features = held_features = None
    if extractor is not None:
        view_features = extractor.all_features(_all_examples(dataset, num_views))
        held_features = extractor.all_features(reference_batches(held, count, 500, config.seed))
    reference = NearestReference(views, num_examples, view_features, {}, pixel_space, {
        'nearest_training': f'{config.dataset}: {num_examples} examples'
                            + (' and their mirrored copies (the nearer view counts)' if dataset.flip else ''),
        'nearest_holdout': f'{name}: {count} examples', 'nearest_k': min(NEAREST_K, num_examples),
        'nearest_threshold': f'the {nearest.PERCENTILE:g}th percentile of the held-out examples\' distances',
        'nearest_spaces': f'{pixel_space}' + (', features' if extractor is not None else '')})
    reference.holdout_distances[pixel_space] = reference.neighbours(pixel_space, held_out)[0][:, 0]
    if held_features is not None:
        reference.holdout_distances['features'] = reference.neighbours('features', held_features)[0][:, 0]
    return reference


def holdout_dataset(config: ml_collections.ConfigDict, dataset: data.Dataset,
                    holdout: str) -> tuple[str, data.Dataset]:
    """(name, dataset) of nearest's held-out data: `holdout`, else config.eval_dataset, opened whole as
    the training data are prepared; a one-line UserError where there is none, it cannot be opened, or
    its examples are not of the training data's kind and shape."""
    name = holdout or config.get('eval_dataset', '')
    if not name:
        raise UserError('--metrics=nearest compares samples with held-out data: pass --holdout=DATASET '
                        '(e.g. digits:test), or train with config.eval_dataset set')
    try:
        held = data.load(data.dataset_config(config, name))
    except UserError as e:
        raise UserError(f'--holdout={name}: {e}') from None
    if (held.spec.kind, held.spec.shape) != (dataset.spec.kind, dataset.spec.shape):
        raise UserError(f'--holdout={name} gives {held.spec.kind}s of shape {shape_text(held.spec.shape)}; the '
                        f'training data {config.dataset} are {dataset.spec.kind}s of {shape_text(dataset.spec.shape)}')
    return name, held
