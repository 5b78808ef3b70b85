"""Tiny TFDS datasets defined here, prepared for real (no mocks) into a test's data_dir, offline.

They live in a module of their own, imported as `tests.tfds_tiny`: TFDS takes another path for a builder
whose module sits in a package (as every TFDS dataset's does) than for a top-level one, and that path
is the one users take.
"""

import numpy as np
import tensorflow_datasets as tfds

UNREACHABLE_URL = 'https://jaxgan-test.invalid/tiny.gz'  # .invalid never resolves (RFC 2606)


class JaxganTinyDigits(tfds.core.GeneratorBasedBuilder):
    """12 random 8x8 grey images with labels 0, 1, 2 in turn; image i has every pixel i * 20 at (0, 0)."""

    VERSION = tfds.core.Version('1.0.0')
    NUM_EXAMPLES = 12

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(8, 8, 1)),
            'label': tfds.features.ClassLabel(names=['zero', 'one', 'two'])}))

    def _split_generators(self, dl_manager):
        return {'train': self._generate_examples()}

    def _generate_examples(self):
        for i in range(self.NUM_EXAMPLES):
            image = np.random.default_rng(i).integers(0, 256, (8, 8, 1), dtype=np.uint8)
            image[0, 0, 0] = i * 20
            yield i, {'image': image, 'label': i % 3}


class JaxganTinyOnline(JaxganTinyDigits):
    """The same, but its files come from a host that cannot be reached."""

    url_infos = {UNREACHABLE_URL: tfds.core.download.checksums.UrlInfo(
        size=1, checksum='0' * 64, filename='tiny.gz')}

    def _split_generators(self, dl_manager):
        dl_manager.download(UNREACHABLE_URL)
        return {'train': self._generate_examples()}
