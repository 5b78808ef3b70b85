"""The base config every experiment extends, and its validation.

Configs are `ml_collections.ConfigDict`s built in Python (`get_config()` in each experiment module);
every field can be overridden on the command line, e.g. `--config.batch_size=64`.
"""

from __future__ import annotations

import math

import ml_collections

from jaxgan.errors import UserError

# Fields whose change makes an existing workdir's checkpoints unusable (checked on resume).
STRUCTURAL_FIELDS = ('dataset', 'image_size', 'model', 'data.channels', 'data.crop')


def base_config() -> ml_collections.ConfigDict:
    """Defaults: DCGAN (Radford et al. 2015) on the embedded digits, 64x64."""
    c = ml_collections.ConfigDict()
    # Names fixed by contract: scripts and users rely on them.
    c.dataset = 'digits'  # tfds:NAME[:SPLIT] | folder:PATH | npy:PATH | digits
    c.image_size = 64
    c.batch_size = 128  # global: over all devices and processes
    c.num_steps = 10_000  # generator updates
    c.seed = 0

    c.data = ml_collections.ConfigDict()
    c.data.crop = 0  # centre crop in pixels before resizing (CelebA: 108 or 140); 0: largest square
    c.data.channels = 0  # 0: as in the data; 1 or 3 to convert
    c.data.image_key = 'image'  # the feature holding the image in TFDS examples
    c.data.tfds_data_dir = ''  # '' : TFDS's default (~/tensorflow_datasets or $TFDS_DATA_DIR)
    c.data.tfds_manual_dir = ''  # for datasets downloaded by hand; '': <data_dir>/downloads/manual
    c.data.tfds_download = True  # download and prepare the dataset if it is missing
    c.data.cache_dir = ''  # decoded TFDS copies at the target size; '': $XDG_CACHE_HOME/jaxgan or ~/.cache/jaxgan
    c.data.on_corrupt = 'error'  # error: stop, naming the file | skip: use the next readable image, count
    c.data.workers = 8  # host threads decoding and resizing images
    c.data.prefetch = 2  # batches placed on the devices ahead of the step

    c.model = ml_collections.ConfigDict()
    c.model.name = 'dcgan'
    c.model.z_dim = 100
    c.model.latent = 'normal'  # normal | uniform (the DCGAN paper's U[-1, 1])
    c.model.g_width = 64  # channels of G's last hidden layer, doubled per layer towards z
    c.model.d_width = 64  # channels of D's first layer, doubled per layer

    c.loss = 'non_saturating'  # non_saturating | minimax
    c.n_critic = 1  # discriminator updates per generator update, inside one jitted step

    c.g_optimizer = optimizer_config()
    c.d_optimizer = optimizer_config()

    c.ema = ml_collections.ConfigDict()
    c.ema.decay = 0.999  # EMA of the generator's params, used for samples; 0 turns it off
    c.ema.start = 0  # steps before which the EMA copies the params

    c.batch_norm = 'per_device'  # per_device (as DCGAN) | cross_device (statistics over the global batch)
    c.compute_dtype = 'float32'  # float32 | bfloat16 (params stay float32)
    c.steps_per_dispatch = 1  # train steps run by one jitted call (lax.scan over that many batches)

    c.nonfinite = 'stop'  # a non-finite loss or gradient: stop (naming step and quantity) | skip the update
    c.max_nonfinite_skips = 10  # with nonfinite='skip': stop after this many skipped updates

    c.resume_step = -1  # the checkpoint to resume from; -1: the latest
    c.resume_fallback = False  # if that checkpoint cannot be read, resume from the one before

    c.log_every = 100
    c.checkpoint_every = 1000
    c.keep_checkpoints = 3
    c.async_checkpoints = True
    c.sample_every = 1000
    c.num_samples = 64  # size of the fixed-latent sample grid
    c.sample_bn = 'batch'  # batch: BatchNorm uses the sample batch's statistics | running
    return c


def optimizer_config(name: str = 'adam', learning_rate: float = 2e-4, b1: float = 0.5,
                     b2: float = 0.999) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.name = name  # adam | adamw | rmsprop | sgd
    c.learning_rate = learning_rate
    c.b1 = b1  # adam's beta1; sgd's momentum
    c.b2 = b2  # adam's beta2; rmsprop's decay
    c.eps = 1e-8
    c.weight_decay = 0.0  # adamw only
    c.grad_clip = 0.0  # global-norm clipping; 0: none
    return c


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise UserError(message)


def _one_of(config: ml_collections.ConfigDict, field: str, choices) -> None:
    value = lookup(config, field)
    _check(value in choices, f'config.{field}={value!r} is not one of {", ".join(map(str, choices))}')


def _positive(config: ml_collections.ConfigDict, *fields: str) -> None:
    for field in fields:
        value = lookup(config, field)
        _check(isinstance(value, int) and value > 0, f'config.{field}={value!r} must be a positive integer')


def lookup(config: ml_collections.ConfigDict, dotted: str):
    """`lookup(c, 'data.crop')` is `c.data.crop`."""
    for part in dotted.split('.'):
        config = config[part]
    return config


def validate(config: ml_collections.ConfigDict, *, num_devices: int, num_processes: int = 1) -> None:
    """Raises UserError naming the first invalid field; checks what needs no data or model."""
    _positive(config, 'batch_size', 'n_critic', 'steps_per_dispatch', 'log_every', 'checkpoint_every',
              'keep_checkpoints', 'sample_every', 'num_samples', 'model.z_dim', 'data.workers',
              'data.prefetch')
    _check(isinstance(config.num_steps, int) and config.num_steps >= 0,
           f'config.num_steps={config.num_steps!r} must be a non-negative integer')
    _check(config.batch_size % num_devices == 0,
           f'config.batch_size={config.batch_size} is not divisible by the {num_devices} devices')
    _check(config.batch_size % num_processes == 0,
           f'config.batch_size={config.batch_size} is not divisible by the {num_processes} processes')
    size = config.image_size
    _check(isinstance(size, int) and size >= 8 and math.log2(size).is_integer(),
           f'config.image_size={size!r} must be a power of two, at least 8')
    _check(config.data.crop >= 0, f'config.data.crop={config.data.crop} must be >= 0')
    _one_of(config, 'data.channels', (0, 1, 3))
    _one_of(config, 'model.latent', ('normal', 'uniform'))
    _one_of(config, 'batch_norm', ('per_device', 'cross_device'))
    _one_of(config, 'compute_dtype', ('float32', 'bfloat16'))
    _one_of(config, 'sample_bn', ('batch', 'running'))
    _one_of(config, 'nonfinite', ('stop', 'skip'))
    _one_of(config, 'data.on_corrupt', ('error', 'skip'))
    _check(config.max_nonfinite_skips >= 0,
           f'config.max_nonfinite_skips={config.max_nonfinite_skips} must be >= 0')
    _check(0.0 <= config.ema.decay < 1.0, f'config.ema.decay={config.ema.decay} must be in [0, 1)')
    for opt in ('g_optimizer', 'd_optimizer'):
        _one_of(config, f'{opt}.name', ('adam', 'adamw', 'rmsprop', 'sgd'))
        lr = config[opt].learning_rate
        _check(lr > 0, f'config.{opt}.learning_rate={lr} must be positive')


def structural_diff(saved: dict, current: ml_collections.ConfigDict) -> list[str]:
    """The structural fields (STRUCTURAL_FIELDS) on which a saved config and the current one differ."""
    current = current.to_dict()
    diffs = []
    for field in STRUCTURAL_FIELDS:
        try:
            a, b = lookup(saved, field), lookup(current, field)
        except KeyError:
            continue
        if a != b:
            diffs.append(f'{field}: {a!r} in the checkpoint, {b!r} now')
    return diffs
