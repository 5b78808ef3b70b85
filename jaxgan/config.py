"""The base config every experiment extends, and its validation.

Configs are `ml_collections.ConfigDict`s built in Python (`get_config()` in each experiment module);
every field can be overridden on the command line, e.g. `--config.batch_size=64`.
"""

from __future__ import annotations

import ast
import functools
import inspect
import io
import sys
import tokenize

import ml_collections

from jaxgan.errors import UserError

# Fields whose change makes an existing workdir's checkpoints unusable (checked on resume).
# The rest (model sizes, layers) show in the checkpoint's state, which is compared too.
STRUCTURAL_FIELDS = ('dataset', 'image_size', 'data.channels', 'data.crop')


def base_config() -> ml_collections.ConfigDict:
    """Defaults: DCGAN (Radford et al. 2015) on the embedded digits, 64x64."""
    c = ml_collections.ConfigDict()
    # Names fixed by contract: scripts and users rely on them.
    c.dataset = 'digits'  # the training data: digits | tfds:NAME[:SPLIT] | folder:PATH | npy:PATH | toy:NAME | stacked:DATASET
    c.image_size = 64  # side of the square images trained on, in pixels (the data are resized to it)
    c.batch_size = 128  # the global batch: over all devices and processes
    c.num_steps = 10_000  # training steps (generator updates)
    c.seed = 0  # seed of everything: initialisation, latents, the data's order (an integer >= 0)

    c.data = ml_collections.ConfigDict()  # the input pipeline
    c.data.crop = 0  # centre crop in pixels before resizing (CelebA: 108 or 140); 0: largest square
    c.data.channels = 0  # channels trained on: 0, as in the data; 1 or 3 to convert
    c.data.image_key = 'image'  # the feature holding the image in TFDS examples
    c.data.label_key = 'label'  # the feature holding the class in TFDS examples (where there is one)
    c.data.tfds_data_dir = ''  # '' : TFDS's default (~/tensorflow_datasets or $TFDS_DATA_DIR)
    c.data.tfds_manual_dir = ''  # for datasets downloaded by hand; '': <data_dir>/downloads/manual
    c.data.tfds_download = True  # download and prepare the dataset if it is missing
    c.data.cache_dir = ''  # decoded TFDS copies at the target size; '': $XDG_CACHE_HOME/jaxgan or ~/.cache/jaxgan
    c.data.on_corrupt = 'error'  # error: stop, naming the file | skip: use the next readable image, count
    c.data.workers = 8  # host threads decoding and resizing images
    c.data.prefetch = 2  # batches placed on the devices ahead of the step
    c.data.on_device = False  # decode the whole dataset once and hold it on every device; send indices only

    c.model = ml_collections.ConfigDict()  # the generator and the discriminator
    c.model.name = 'dcgan'  # dcgan | mlp | resnet
    c.model.z_dim = 100  # size of the latent vector z
    c.model.latent = 'normal'  # normal | uniform (the DCGAN paper's U[-1, 1])
    c.model.g_width = 64  # dcgan: channels of G's last hidden layer, doubled per layer towards z
    c.model.d_width = 64  # dcgan: channels of D's first layer, doubled per layer
    c.model.g_norm = ''  # '': the architecture's own; batch | virtual_batch (dcgan) | layer | none
    c.model.d_norm = ''  # '': the architecture's own; batch | layer | none
    c.model.vbn_reference_size = 64  # virtual batch norm: size of the fixed reference batch
    c.model.spectral_norm = False  # spectral normalisation of every D layer (Miyato et al. 2018)
    c.model.minibatch_discrimination = 0  # kernels of minibatch discrimination before D's output; 0: off
    c.model.pack = 1  # PacGAN (Lin et al. 2018): D judges packs of this many examples, channels concatenated; 1: off
    c.model.g_hidden = (256, 256)  # mlp: widths of G's hidden layers
    c.model.d_hidden = (256, 256)  # mlp: widths of D's hidden layers
    c.model.d_activation = 'leaky_relu'  # mlp: leaky_relu | relu | maxout
    c.model.maxout_pieces = 5  # mlp with maxout
    c.model.dropout = 0.0  # mlp: dropout in D
    c.model.d_noise = 0.0  # mlp: std of Gaussian noise on D's input and hidden layers in training

    c.loss = 'non_saturating'  # non_saturating | minimax | least_squares | wasserstein | hinge
    c.label_smoothing = 0.0  # one-sided: real targets 1 - label_smoothing (minimax, non_saturating)
    c.n_critic = 1  # D updates per G update, inside one jitted step; 0: no D (a GMMN)

    # Added to D's loss. Weights; 0 turns a term off.
    c.penalties = ml_collections.ConfigDict()
    c.penalties.gradient_penalty = 0.0  # WGAN-GP's lambda (10 in the paper)
    c.penalties.r1 = 0.0  # R1's gamma: gamma / 2 E ||grad D(x)||^2 on real data
    c.penalties.r1_every = 1  # lazy R1: every k steps, weighed k gamma / 2 (16 in StyleGAN2)
    c.penalties.dragan = 0.0  # DRAGAN's lambda (10 in the paper)
    c.penalties.historical_averaging = 0.0  # lambda, on both networks' params (Salimans et al. 2016)

    # Class conditioning (labels from the data: TFDS, folder sub-folders, PATH.labels.npy).
    c.conditioning = ml_collections.ConfigDict()
    c.conditioning.g = 'none'  # none | concat (one-hot y beside z) | cbn (conditional BatchNorm)
    c.conditioning.d = 'none'  # none | concat (one-hot y as input) | projection (Miyato & Koyama) | acgan
    c.conditioning.acgan_weight = 1.0  # AC-GAN: weight of the auxiliary classifier's cross-entropy

    # InfoGAN (Chen et al. 2016): codes appended to z, recovered by a Q head on D's body.
    c.infogan = ml_collections.ConfigDict()
    c.infogan.categorical = 0  # classes of the categorical code (10 for MNIST); 0: none
    c.infogan.continuous = 0  # continuous codes, U[-1, 1]
    c.infogan.weight = 1.0  # lambda of the mutual-information term, on G's and D's losses
    c.infogan.continuous_weight = 1.0  # weight of the continuous codes' Gaussian log-likelihood

    # Semi-supervised GAN (Salimans et al. 2016): D has K class outputs; real/fake is their log-sum-exp.
    c.semi_supervised = ml_collections.ConfigDict()
    c.semi_supervised.num_labels = 0  # labelled examples, balanced over classes; 0: off
    c.semi_supervised.batch_size = 100  # labelled examples per D update
    c.semi_supervised.weight = 1.0  # weight of the supervised cross-entropy

    # G's loss: weighted sum of these terms.
    c.g_objective = ml_collections.ConfigDict()
    c.g_objective.adversarial = 1.0  # the loss's generator term
    c.g_objective.feature_matching = 0.0  # ||E f(x) - E f(G(z))||^2, f: D's last hidden layer
    c.g_objective.mmd = 0.0  # MMD between real and generated batches (GMMN; Li et al. 2015)
    c.g_objective.mmd_bandwidths = (2.0, 5.0, 10.0, 20.0, 40.0, 80.0)  # Gaussian kernels' sigmas

    c.g_optimizer = optimizer_config()  # the generator's optimizer
    c.d_optimizer = optimizer_config()  # the discriminator's optimizer

    c.ema = ml_collections.ConfigDict()  # the generator's exponential moving average
    c.ema.decay = 0.999  # EMA of the generator's params, used for samples; 0 turns it off
    c.ema.start = 0  # steps before which the EMA copies the params

    c.batch_norm = 'per_device'  # per_device (as DCGAN) | cross_device (statistics over the global batch)
    c.compute_dtype = 'float32'  # float32 | bfloat16 (params stay float32)
    c.steps_per_dispatch = 1  # train steps run by one jitted call (lax.scan over that many batches)

    c.nonfinite = 'stop'  # a non-finite loss or gradient: stop (naming step and quantity) | skip the update
    c.max_nonfinite_skips = 10  # with nonfinite='skip': stop after this many skipped updates

    c.resume_step = -1  # the checkpoint to resume from; -1: the latest
    c.resume_fallback = False  # if that checkpoint cannot be read, resume from the one before
    # Labelled data on which infogan_mnist and ssgan_mnist score D as a classifier after training
    # (checked before training starts); '': none.
    c.eval_dataset = ''

    # Evaluation during training (python -m jaxgan.evaluate does it after): every `every` steps, logged
    # to TensorBoard and <workdir>/eval/history.jsonl; the checkpoint of the best FID is kept in
    # <workdir>/best, apart from the rolling ones.
    c.eval = ml_collections.ConfigDict()
    c.eval.every = 0  # steps between evaluations; 0: never
    c.eval.metrics = 'fid'  # comma-separated: fid, kid, is, pr, dc, classes, stacked
    c.eval.num_samples = 10_000  # generated samples per evaluation
    c.eval.features = 'inception'  # the feature network: inception | classifier:DIR
    c.eval.inception_weights = ''  # .npz or pytorch-fid .pth; '': cached or downloaded
    c.eval.reference_size = 50_000  # real examples in the reference statistics (at most the dataset)
    c.eval.keep = 10_000  # features of each side kept for kid, pr and dc

    c.log_every = 100  # steps between progress lines and metrics.jsonl rows
    c.checkpoint_every = 1000  # steps between checkpoints (one is also saved at the end)
    c.keep_checkpoints = 3  # the latest checkpoints kept; older ones are deleted
    c.async_checkpoints = True  # save checkpoints on a background thread while training goes on
    c.sample_every = 1000  # steps between sample grids (samples/step_N.png)
    c.num_samples = 64  # size of the fixed-latent sample grid
    c.sample_bn = 'batch'  # batch: BatchNorm uses the sample batch's statistics | running
    return c


def optimizer_config(name: str = 'adam', learning_rate: float = 2e-4, b1: float = 0.5,
                     b2: float = 0.999) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.name = name  # adam | adamw | rmsprop | sgd
    c.learning_rate = learning_rate  # the peak learning rate (see schedule)
    c.b1 = b1  # adam's beta1; sgd's momentum
    c.b2 = b2  # adam's beta2; rmsprop's decay
    c.eps = 1e-8  # adam's and rmsprop's epsilon
    c.weight_decay = 0.0  # adamw only
    c.grad_clip = 0.0  # global-norm clipping; 0: none
    c.schedule = 'constant'  # constant | linear | cosine: decayed to 0 over the run's num_steps
    return c


@functools.cache
def descriptions() -> dict[str, str]:
    """What each field means, {'data.crop': 'centre crop in pixels before resizing ...', ...}, in the
    order of the source: the comment on the field's line in `base_config` (and `optimizer_config`, for
    g_optimizer.* and d_optimizer.*), else the comment lines just above it. Sections ('data',
    'penalties', ...) are described the same way. Read from this file, so the comments stay the one
    place that says it."""
    source = inspect.getsource(sys.modules[__name__])
    comments = {token.start[0]: (token.string.lstrip('#').strip(), token.line.lstrip().startswith('#'))
                for token in tokenize.generate_tokens(io.StringIO(source).readline)
                if token.type == tokenize.COMMENT}
    functions = {node.name: node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}
    found = {}
    for function, prefixes in (('base_config', ('',)), ('optimizer_config', ('g_optimizer.', 'd_optimizer.'))):
        for statement in functions[function].body:
            target = statement.targets[0] if isinstance(statement, ast.Assign) else None
            name = ast.unparse(target) if target is not None else ''
            if not name.startswith('c.'):
                continue
            trailing = [text for line, (text, alone) in comments.items()
                        if statement.lineno <= line <= statement.end_lineno and not alone]
            above, line = [], statement.lineno - 1
            while line in comments and comments[line][1]:
                above.insert(0, comments[line][0])
                line -= 1
            for prefix in prefixes:
                found[prefix + name[2:]] = ' '.join(trailing or above)
    return found


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
    _positive(config, 'batch_size', 'steps_per_dispatch', 'log_every', 'checkpoint_every', 'penalties.r1_every',
              'keep_checkpoints', 'sample_every', 'num_samples', 'model.z_dim', 'data.workers',
              'data.prefetch')
    _check(isinstance(config.seed, int) and 0 <= config.seed < 2**32,
           f'config.seed={config.seed!r} must be an integer from 0 to 2**32 - 1')
    _check(isinstance(config.n_critic, int) and config.n_critic >= 0,
           f'config.n_critic={config.n_critic!r} must be a non-negative integer')
    uses_d = config.g_objective.adversarial > 0 or config.g_objective.feature_matching > 0
    _check(config.n_critic > 0 or not uses_d,
           'config.n_critic=0 trains no discriminator: set config.g_objective.adversarial and '
           'feature_matching to 0 (and mmd above 0)')
    _check(config.n_critic > 0 or config.g_objective.mmd > 0,
           'config.n_critic=0 and config.g_objective.mmd=0: the generator has no objective')
    d_heads = [name for name, on in (('conditioning.d', config.conditioning.d != 'none'),
                                     ('infogan', config.infogan.categorical or config.infogan.continuous),
                                     ('semi_supervised', config.semi_supervised.num_labels)) if on]
    _check(config.n_critic > 0 or not d_heads,
           f'config.n_critic=0 trains no discriminator, but {", ".join(f"config.{h}" for h in d_heads)} '
           'need one: turn them off or train D')
    _check(config.infogan.categorical >= 0 and config.infogan.continuous >= 0,
           'config.infogan.categorical and continuous must be >= 0')
    _check(config.semi_supervised.num_labels >= 0, 'config.semi_supervised.num_labels must be >= 0')
    if config.semi_supervised.num_labels:
        _positive(config, 'semi_supervised.batch_size')
        _check(config.semi_supervised.batch_size % num_devices == 0,
               f'config.semi_supervised.batch_size={config.semi_supervised.batch_size} is not divisible by '
               f'the {num_devices} devices')
        _check(config.conditioning.d != 'acgan', "config.semi_supervised with config.conditioning.d='acgan': "
               "both are D's class outputs; the semi-supervised D already classifies, so choose one")
    _check(0.0 <= config.label_smoothing < 1.0, f'config.label_smoothing={config.label_smoothing} must be in [0, 1)')
    for name, weight in config.penalties.items():
        _check(weight >= 0, f'config.penalties.{name}={weight} must be >= 0')
    for name in ('adversarial', 'feature_matching', 'mmd'):
        _check(config.g_objective[name] >= 0, f'config.g_objective.{name} must be >= 0')
    _check(isinstance(config.num_steps, int) and config.num_steps >= 0,
           f'config.num_steps={config.num_steps!r} must be a non-negative integer')
    _check(config.batch_size % num_devices == 0,
           f'config.batch_size={config.batch_size} is not divisible by the {num_devices} devices')
    _check(config.batch_size % num_processes == 0,
           f'config.batch_size={config.batch_size} is not divisible by the {num_processes} processes')
    _positive(config, 'model.pack')
    _check(config.batch_size % (config.model.pack * num_devices) == 0,
           f'config.model.pack={config.model.pack}: config.batch_size={config.batch_size} does not split into '
           f'packs of {config.model.pack} on each of the {num_devices} devices (make it a multiple of '
           f'{config.model.pack * num_devices})')
    _positive(config, 'image_size', 'eval.num_samples', 'eval.reference_size', 'eval.keep')
    _check(config.eval.every >= 0, f'config.eval.every={config.eval.every} must be >= 0')
    _check(config.data.crop >= 0, f'config.data.crop={config.data.crop} must be >= 0')
    _one_of(config, 'data.channels', (0, 1, 3))
    _one_of(config, 'model.latent', ('normal', 'uniform'))
    _one_of(config, 'model.d_activation', ('leaky_relu', 'relu', 'maxout'))
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
        _one_of(config, f'{opt}.schedule', ('constant', 'linear', 'cosine'))
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
