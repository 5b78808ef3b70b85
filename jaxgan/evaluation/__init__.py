"""Evaluation of a generator against its data: FID, KID, IS, precision/recall, density/coverage, class
coverage and mode counts, each reported with its protocol. The command line is `jaxgan.evaluate`:

    python -m jaxgan.evaluate --workdir=DIR --metrics=fid,kid,is,pr --num_samples=50000
    python -m jaxgan.evaluate --workdir=DIR --metrics=fid,classes --features=classifier:classifiers/mnist

Writes <workdir>/eval/step_<step>.json: the numbers and the protocol (feature network and resizer,
reference data, split and size, sample count, generator). Features are extracted batch by batch on all
devices; FID's means and covariances are accumulated as they come, so 50,000 samples never sit in memory
at once. KID, precision/recall and density/coverage use the first `keep` features of each side (10,000
by default). Reference statistics are cached as .npz under a key of what the reference examples are made
of (the source's fingerprint, the config's preparation and the first batch's sha256, whatever path they
came from), their number and the network with its weights. FID, KID, PR and DC alone generate, embed
and accumulate the samples on the devices in one program (`on_device`).

Metrics:
    fid       Frechet distance of the feature statistics (float64)
    kid       kernel inception distance: unbiased polynomial MMD^2, mean and std over 100 subsets of 1,000
    is        inception score over 10 splits (needs logits: the Inception network, or a classifier)
    pr        precision and recall, k = 3 (Kynkaanniemi et al. 2019)
    dc        density and coverage, k = 5 (Naeem et al. 2020)
    classes   with a classifier: classes generated, KL of the predicted-class histogram to uniform
    stacked   with a classifier of single digits, on 3-channel stacked digits: of the 1,000 modes, how
              many are generated, and the KL of the mode histogram to uniform (VEEGAN's protocol), and
              each channel's KL of its digit histogram to uniform; the classifier reads each channel, so
              every metric then uses the per-channel features and the 1,000 modes' probabilities
    nearest   memorisation: each generated sample's nearest training examples, in pixels (data units
              for vectors) and in the features, against held-out examples' (see `NearestReference`)

Modules (everything here is importable from `jaxgan.evaluation`):
    features      the feature networks and the Extractor that runs one on every device
    reference     reference statistics, cached by what the examples are made of
    on_device     the generator's side of fid, kid, pr, dc in one program on the devices
    scores        the metrics of features against the reference statistics; the sizes each needs
    memorisation  --metrics=nearest: nearest training examples against held-out examples' distances
    generator     make_evaluator and Evaluator (a generator against its data); d_head_predictions
    translation   make_translation_evaluator and TranslationEvaluator (a translation model on a test split)
"""

from jaxgan.evaluation.features import Extractor, FeatureNet, feature_net, stacked_net, weights_sha256
from jaxgan.evaluation.generator import Evaluator, d_head_predictions, make_evaluator
from jaxgan.evaluation.memorisation import (NEAREST_K, NEAREST_SHOWN, NearestReference, holdout_dataset,
                                            nearest_reference)
from jaxgan.evaluation.on_device import DEVICE_METRICS, SampleProgram
from jaxgan.evaluation.reference import (cache_key, examples_sha256, preparation, reference_batches,
                                        reference_statistics)
from jaxgan.evaluation.scores import METRICS, NEEDS, check_sizes, compute_metrics
from jaxgan.evaluation.translation import (LUMA, TRANSLATION_METRICS, TranslationEvaluator, grey_input,
                                           make_translation_evaluator, translations)

__all__ = [
    'DEVICE_METRICS', 'Evaluator', 'Extractor', 'FeatureNet', 'LUMA', 'METRICS', 'NEAREST_K', 'NEAREST_SHOWN',
    'NEEDS', 'NearestReference', 'SampleProgram', 'TRANSLATION_METRICS', 'TranslationEvaluator', 'cache_key',
    'check_sizes', 'compute_metrics', 'd_head_predictions', 'examples_sha256', 'feature_net', 'grey_input',
    'holdout_dataset', 'make_evaluator', 'make_translation_evaluator', 'nearest_reference', 'preparation',
    'reference_batches', 'reference_statistics', 'stacked_net', 'translations', 'weights_sha256',
]
