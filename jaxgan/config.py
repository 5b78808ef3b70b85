"""The base config every experiment extends, and its validation.

Configs are `ml_collections.ConfigDict`s built in Python (`get_config()` in each experiment module);
every field can be overridden on the command line, e.g. `--config.batch_size=64`.
"""

from __future__ import annotations

import ast
import copy
import functools
import inspect
import io
import sys
import tokenize

import ml_collections

from jaxgan import augment, family, models
from jaxgan.checks import check as _check, lookup, one_of as _one_of, positive as _positive
from jaxgan.errors import UserError

# Fields whose change makes an existing workdir's checkpoints unusable (checked on resume).
# The rest (model sizes, layers) show in the checkpoint's state, which is compared too.
STRUCTURAL_FIELDS = ('dataset', 'image_size', 'data.channels', 'data.crop', 'data.limit', 'data.flip', 'data.jitter',
                     'data.direction',
                     'table.holdout', 'table.categorical', 'table.integer', 'table.continuous', 'table.boolean',
                     'table.max_modes', 'table.mixture_iterations', 'table.identifier', 'table.on_identifier')


def base_config() -> ml_collections.ConfigDict:
    """Defaults: DCGAN (Radford et al. 2015) on the embedded digits, 64x64."""
    c = ml_collections.ConfigDict()
    # Names fixed by contract: scripts and users rely on them.
    c.dataset = 'digits'  # the training data: digits | tfds:NAME[:SPLIT] | folder:PATH | npy:PATH | toy:NAME | stacked:DATASET | tables: csv:PATH | parquet:PATH | xlsx:PATH[:SHEET] | table:NAME
    c.image_size = 64  # side of the square images trained on, in pixels (the data are resized to it)
    c.batch_size = 128  # the global batch: over all devices and processes
    c.num_steps = 10_000  # training steps (each: n_critic D updates, then n_gen G updates)
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
    c.data.workers = 8  # processes decoding and resizing images from files (at most the CPUs); 0: the main one
    c.data.prefetch = 2  # batches placed on the devices ahead of the step
    c.data.on_device = False  # decode the whole dataset once and hold it on every device; send indices only
    c.data.upsample = True  # images smaller than image_size are resized up (a warning beyond 4x); False: refused

    # Small datasets and augmentation (for training on a hundred images).
    c.data.limit = 0  # train on this many examples, chosen with the seed, balanced over classes where labelled; 0: all
    c.data.allow_changed = False  # resume although the data changed since the checkpoint (a content hash of the source; logged); False: refused
    c.data.flip = False  # add a horizontally mirrored copy of every image (StyleGAN2-ADA's --mirror)
    c.data.jitter = False  # translation data: resize to 286/256 of the size, random crop back, random flip (pix2pix, CycleGAN)
    c.data.direction = 'a2b'  # translation data: a2b, or b2a to swap A and B (pix2pix's --direction BtoA)
    # Augmentation of every image D sees (jaxgan.augment): real and generated, in D's and G's updates, and
    # in the penalties' passes (R1's gradient is taken through it, as in StyleGAN2-ADA).
    c.augment = ml_collections.ConfigDict()
    c.augment.kind = 'none'  # none | diffaugment (Zhao et al. 2020) | ada (Karras et al. 2020) | fixed: ADA, fixed p
    c.augment.policy = 'color,translation,cutout'  # diffaugment: comma-separated, any of color, translation, cutout
    c.augment.pipeline = 'bgc'  # ada, fixed: b (pixel blitting), g (geometric), c (colour), or a part of them
    c.augment.p = 0.0  # fixed: each transform's probability; ada: p at the start (0 in the paper)
    c.augment.multipliers = ''  # ada, fixed: 'name=m,...': transform (xflip, hue, ...) or group (b, g, c) at m * p; '': all 1
    c.augment.cutout = 0.0  # ada, fixed: cutout after the pipeline with probability cutout * p (AugmentPipe's); 0: off
    c.augment.cutout_size = 0.5  # ada, fixed: the side of cutout's rectangle, relative to the image's
    c.augment.target = 0.6  # ada: the r_t = E[sign(D(real))] that p is adjusted towards
    c.augment.interval = 4  # ada: D updates between adjustments of p
    c.augment.kimg = 500.0  # ada: thousands of real images in which p can move by 1

    c.model = ml_collections.ConfigDict()  # the generator and the discriminator
    c.model.name = 'dcgan'  # dcgan | mlp | resnet | stylegan2 | progan; translation: pix2pix | cyclegan | ugatit; tables: ctgan
    c.model.z_dim = 100  # size of the latent vector z
    c.model.latent = 'normal'  # normal | uniform (the DCGAN paper's U[-1, 1])
    c.model.g_width = 64  # dcgan: channels of G's last hidden layer, doubled per layer towards z
    c.model.d_width = 64  # dcgan: channels of D's first layer, doubled per layer
    c.model.g_upsample = ''  # '': the architecture's own; dcgan: transposed (4x4 stride 2, the paper's) | nearest (2x, then a 3x3 conv: Odena et al. 2016)
    c.model.g_norm = ''  # '': the architecture's own; batch | virtual_batch (dcgan) | layer | none
    c.model.d_norm = ''  # '': the architecture's own; batch | layer | none
    c.model.vbn_reference_size = 64  # virtual batch norm: size of the fixed reference batch
    c.model.spectral_norm = False  # spectral normalisation of every D layer (Miyato et al. 2018)
    c.model.minibatch_discrimination = 0  # kernels of minibatch discrimination before D's output; 0: off
    c.model.pack = 1  # PacGAN (Lin et al. 2018): D judges packs of this many examples, channels concatenated; 1: off
    c.model.g_hidden = (256, 256)  # mlp, ctgan: widths of G's hidden (ctgan: residual) layers
    c.model.d_hidden = (256, 256)  # mlp, ctgan: widths of D's hidden layers
    c.model.d_activation = 'leaky_relu'  # mlp: leaky_relu | relu | maxout
    c.model.maxout_pieces = 5  # mlp with maxout
    c.model.dropout = 0.0  # mlp, ctgan: dropout in D (ctgan's is 0.5)
    c.model.d_noise = 0.0  # mlp: std of Gaussian noise on D's input and hidden layers in training

    c.loss = 'non_saturating'  # non_saturating | minimax | least_squares | wasserstein | hinge | ra_non_saturating | ra_least_squares | ra_hinge | rpgan (paired relativistic: R3GAN's)
    c.label_smoothing = 0.0  # one-sided: real targets 1 - label_smoothing (minimax, non_saturating)
    c.n_critic = 1  # D updates per step (per G update, with n_gen = 1), inside one jitted step; 0: no D (a GMMN)
    c.n_gen = 1  # G updates per step, after D's, on the same batch and noise (2: carpedm20's DCGAN-tensorflow, PacGAN's code)

    # Added to D's loss. Weights; 0 turns a term off.
    c.penalties = ml_collections.ConfigDict()
    c.penalties.gradient_penalty = 0.0  # WGAN-GP's lambda (10 in the paper)
    c.penalties.r1 = 0.0  # R1's gamma: gamma / 2 E ||grad D(x)||^2 on real data
    c.penalties.r1_every = 1  # lazy R1: every k steps, weighed k gamma / 2 (16 in StyleGAN2)
    c.penalties.dragan = 0.0  # DRAGAN's lambda (10 in the paper)
    c.penalties.historical_averaging = 0.0  # lambda, on both networks' params (Salimans et al. 2016)
    c.penalties.r2 = 0.0  # R2's gamma: gamma / 2 E ||grad D(G(z))||^2 on generated data (Mescheder et al. 2018)
    c.penalties.lecam = 0.0  # LeCam's lambda (Tseng et al. 2021): D's outputs kept near the other side's averages
    c.penalties.bcr = 0.0  # bCR's lambda_real = lambda_fake (Zhao et al. 2021: 10): D(x) close to D(T(x)), real and fake
    c.penalties.zcr = 0.0  # zCR's lambda_dis (Zhao et al. 2021: 5): D(G(z)) close to D(G(z + dz))
    c.penalties.zcr_g = 0.0  # zCR's lambda_gen (Zhao et al. 2021: 0.5), on G: G(z) far from G(z + dz)
    c.penalties.zcr_sigma = 0.03  # zCR's std of dz (Zhao et al. 2021)
    c.penalties.drift = 0.0  # ProGAN's drift term: this times E D(x)^2 on real data (Karras et al. 2018: 0.001)

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

    # Each architecture's and each family's own section (config.stylegan2, config.progan, config.translation,
    # config.table, ...): its fields, defaults and meanings are registered with it (jaxgan.models.registry,
    # jaxgan.family).
    for name, section in sections():
        c[name] = section()

    c.g_optimizer = optimizer_config()  # the generator's optimizer
    c.d_optimizer = optimizer_config()  # the discriminator's optimizer

    c.ema = ml_collections.ConfigDict()  # the generator's exponential moving average
    c.ema.decay = 0.999  # EMA of the generator's params, used for samples; 0 turns it off
    c.ema.start = 0  # steps before which the EMA copies the params
    c.ema.half_life_kimg = 0.0  # > 0: StyleGAN2's EMA instead of decay, beta = 0.5 ** (batch / half-life in images)
    c.ema.rampup = 0.0  # with half_life_kimg: the half-life is at most rampup * images seen so far (StyleGAN2-ADA); 0: none

    c.batch_norm = 'per_device'  # per_device (as DCGAN) | cross_device (statistics over the global batch)
    c.compute_dtype = 'float32'  # float32 | bfloat16 (params stay float32)
    c.steps_per_dispatch = 1  # train steps run by one jitted call (lax.scan over that many batches)

    c.nonfinite = 'stop'  # a non-finite loss or gradient: stop (naming step and quantity) | skip the update
    c.max_nonfinite_skips = 10  # with nonfinite='skip': stop after this many skipped updates
    c.on_collapse = 'warn'  # a collapse (low fake_diversity, collapse_window steps): warn | stop | freeze (a member)
    c.collapse_diversity = 0.1  # fake_diversity under this is low (G's batch spread over the real batch's)
    c.collapse_window = 500  # consecutive steps of low fake_diversity that make a collapse (one noisy batch does not)

    # Many GANs in one program (jaxgan.ensemble): N members trained by one jitted step, member i with
    # seed config.seed + i (initialisation, latents, data order), each with its own values of the swept
    # fields. One checkpoint holds them all; samples, logs and evaluations are per member.
    c.ensemble = ml_collections.ConfigDict()
    c.ensemble.size = 1  # members; 1: a single GAN
    c.ensemble.shared_data = False  # every member reads the same batches (member 0's order)
    c.ensemble.sweep = ''  # per-member values, 'FIELD=V1,V2,...;FIELD=...' of real-valued fields the step uses
    c.ensemble.sweep_kind = 'grid'  # grid: every combination, cycled over the members | list: member i, the i-th values

    # Annealing (jaxgan.anneal): real-valued fields that move over training, each from its configured
    # value to the value given here by R3GAN's cosine schedule (cosine_decay_with_warmup) over
    # config.anneal.kimg thousand images, then held (the lr, beta2, gamma, augmentation p and EMA ramp of R3GAN).
    c.anneal = ml_collections.ConfigDict()
    c.anneal.kimg = 0.0  # thousands of images over which the fields move (R3GAN's decay_nimg / 1000); 0: the whole run (num_steps * batch_size)
    c.anneal.to = ''  # 'FIELD=VALUE;FIELD=VALUE': each field's value at the end, e.g. 'g_optimizer.learning_rate=5e-5;penalties.r1=0.005'; '': none

    c.resume_step = -1  # the checkpoint to resume from; -1: the latest
    c.resume_fallback = False  # if that checkpoint cannot be read, resume from the one before
    # Transfer (README, "Transfer: starting from another run"): a new run starts from another run's networks.
    c.init_from = ''  # WORKDIR[:STEP] | pkl:PATH (an official StyleGAN2-ADA or R3GAN network pickle, docs/pretrained.md): a new run starts from that run's G, D, their model state and G's EMA (its latest checkpoint, or STEP's), with fresh optimizers and terms, step 0 and its own seed; ignored once the run has checkpoints of its own; '': from scratch
    c.init_member = ''  # init_from an ensemble: the member to start from, I | best | best:METRIC (lowest FID, or METRIC, on record)
    c.freeze_d = 0  # FreezeD (Mo et al. 2020): D's first k blocks get no updates (dcgan: a stride-2 conv and its norm; resnet: a residual block; mlp: a hidden layer); the heads never
    # Labelled data on which infogan_mnist and ssgan_mnist score D as a classifier after training
    # (checked before training starts); '': none.
    c.eval_dataset = ''

    # Evaluation during training (python -m jaxgan.evaluate does it after): every `every` steps, logged
    # to TensorBoard and <workdir>/eval/history.jsonl; the checkpoint of the best FID is kept in
    # <workdir>/best, apart from the rolling ones.
    c.eval = ml_collections.ConfigDict()
    c.eval.every = 0  # steps between evaluations; 0: never
    c.eval.metrics = 'fid'  # comma-separated: fid, kid, is, pr, dc, classes, stacked, nearest
    c.eval.num_samples = 10_000  # generated samples per evaluation
    c.eval.features = 'inception'  # the feature network: inception | classifier:DIR
    c.eval.inception_weights = ''  # .npz or pytorch-fid .pth; '': cached or downloaded
    c.eval.reference_size = 50_000  # real examples in the reference statistics (at most the dataset)
    c.eval.reference = ''  # the reference statistics' data (e.g. digits:test); '': the training data as configured
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
    c.weight_decay = 0.0  # adam: L2, added to the gradient (torch's Adam weight_decay); adamw: decoupled; 0: none
    c.grad_clip = 0.0  # global-norm clipping; 0: none
    c.weight_clip = 0.0  # params kept in [-c, c] after each update: the original WGAN's critic (0.01); 0: none
    c.schedule = 'constant'  # constant | linear | cosine | hold_then_linear: decayed to 0 over the run's num_steps
    c.decay_start = 0.5  # hold_then_linear: the fraction of the run before the decay starts
    return c


def sections() -> tuple[tuple[str, object], ...]:
    """(name, section function) of every registered architecture, then of every family: the config's own
    sections beside their code."""
    return (*models.sections(), *family.sections())


def descriptions() -> dict[str, str]:
    """What each field means, {'data.crop': 'centre crop in pixels before resizing ...', ...}, in the
    order of `base_config`: the comment on the field's line in `base_config` (`optimizer_config` for
    g_optimizer.* and d_optimizer.*, an architecture's section function for its section's fields), else
    the comment lines just above it. Sections ('data', 'penalties', ...) are described the same way, an
    architecture's or family's section by its function's docstring. Read from the sources, so the comments stay the
    one place that says it."""
    return _descriptions(sections())


@functools.cache
def _descriptions(sections: tuple) -> dict[str, str]:
    found = _fields(base_config, ('',), sections)
    found.update(_fields(optimizer_config, ('g_optimizer.', 'd_optimizer.')))
    return found


def _fields(function, prefixes: tuple[str, ...], sections: tuple = ()) -> dict[str, str]:
    """The descriptions of the fields `function` sets (`c.FIELD = ...`), each under every prefix; at a
    loop (base_config's over the architectures' sections), those of `sections`."""
    source = inspect.getsource(sys.modules[function.__module__])
    comments = {token.start[0]: (token.string.lstrip('#').strip(), token.line.lstrip().startswith('#'))
                for token in tokenize.generate_tokens(io.StringIO(source).readline)
                if token.type == tokenize.COMMENT}
    node = next(node for node in ast.parse(source).body
                if isinstance(node, ast.FunctionDef) and node.name == function.__name__)
    found = {}
    for statement in node.body:
        if isinstance(statement, ast.For):
            for name, section in sections:
                found[name] = ' '.join((section.__doc__ or '').split())
                found.update(_fields(section, (f'{name}.',)))
            continue
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


def validate(config: ml_collections.ConfigDict, *, num_devices: int, num_processes: int = 1) -> None:
    """Raises UserError naming the first invalid field; checks what needs no data or model."""
    _positive(config, 'batch_size', 'steps_per_dispatch', 'log_every', 'checkpoint_every', 'penalties.r1_every',
              'keep_checkpoints', 'sample_every', 'num_samples', 'model.z_dim', 'data.prefetch')
    _check(isinstance(config.data.workers, int) and config.data.workers >= 0,
           f'config.data.workers={config.data.workers!r} must be a non-negative integer (worker processes; 0: none)')
    _check(isinstance(config.seed, int) and 0 <= config.seed < 2**32,
           f'config.seed={config.seed!r} must be an integer from 0 to 2**32 - 1')
    _check(isinstance(config.n_critic, int) and config.n_critic >= 0,
           f'config.n_critic={config.n_critic!r} must be a non-negative integer')
    _check(isinstance(config.n_gen, int) and config.n_gen >= 1,
           f'config.n_gen={config.n_gen!r} must be a positive integer (generator updates per step)')
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
    upsample, architecture = config.model.g_upsample, models.find(config.model.name)
    upsamples = tuple(dict.fromkeys(u for a in models.architectures() for u in a.g_upsamples))
    _check(upsample in ('', *upsamples),
           f"config.model.g_upsample={upsample!r} is not one of {', '.join(upsamples)} ('': the architecture's own)")
    _check(architecture is not None or not upsample,  # translation and tables upsample their own way
           models.lacks(config.model.name, [f'config.model.g_upsample={upsample}']))
    _one_of(config, 'model.d_activation', ('leaky_relu', 'relu', 'maxout'))
    _one_of(config, 'batch_norm', ('per_device', 'cross_device'))
    _one_of(config, 'compute_dtype', ('float32', 'bfloat16'))
    _one_of(config, 'sample_bn', ('batch', 'running'))
    _one_of(config, 'nonfinite', ('stop', 'skip'))
    _one_of(config, 'on_collapse', ('warn', 'stop', 'freeze'))
    _check(isinstance(config.collapse_window, int) and config.collapse_window >= 1 and config.collapse_diversity >= 0,
           f'config.collapse_window={config.collapse_window!r} must be an integer >= 1 and '
           f'config.collapse_diversity={config.collapse_diversity!r} >= 0')
    _check(isinstance(config.ensemble.size, int) and config.ensemble.size >= 1,
           f'config.ensemble.size={config.ensemble.size!r} must be an integer >= 1')
    _one_of(config, 'ensemble.sweep_kind', ('grid', 'list'))
    _check(config.ensemble.size == 1 or config.seed + config.ensemble.size <= 2**32,
           f'config.seed={config.seed} + config.ensemble.size={config.ensemble.size} members: the members\' '
           'seeds must stay below 2**32')
    _one_of(config, 'data.on_corrupt', ('error', 'skip'))
    _one_of(config, 'data.direction', ('a2b', 'b2a'))
    _check(isinstance(config.freeze_d, int) and config.freeze_d >= 0 and (config.n_critic > 0 or not config.freeze_d),
           f'config.freeze_d={config.freeze_d!r} must be an integer >= 0, and 0 without a discriminator (n_critic=0)')
    _check(config.max_nonfinite_skips >= 0,
           f'config.max_nonfinite_skips={config.max_nonfinite_skips} must be >= 0')
    _check(0.0 <= config.ema.decay < 1.0, f'config.ema.decay={config.ema.decay} must be in [0, 1)')
    _check(config.ema.half_life_kimg >= 0 and config.ema.rampup >= 0,
           'config.ema.half_life_kimg and config.ema.rampup must be >= 0')
    _check(config.anneal.kimg >= 0, f'config.anneal.kimg={config.anneal.kimg!r} must be >= 0')
    _check(config.penalties.drift >= 0, f'config.penalties.drift={config.penalties.drift} must be >= 0')
    if architecture is not None:  # an image GAN's: what it lacks, and its own section's checks
        models.check(config)
        if architecture.validate is not None:
            architecture.validate(config, num_devices)
    trained_by = family.of_config(config)  # a family's own section's checks (config.table's, ...)
    _check(config.get('privacy') is None or config.privacy.get('epsilon') is None or trained_by.name == 'tables',
           f'config.privacy.epsilon: differential privacy is built for tables (config.model.name=ctgan), not for '
           f'config.model.name={config.model.name}')
    if trained_by.validate is not None:
        trained_by.validate(config)
    for opt in ('g_optimizer', 'd_optimizer'):
        _one_of(config, f'{opt}.name', ('adam', 'adamw', 'rmsprop', 'sgd'))
        _one_of(config, f'{opt}.schedule', ('constant', 'linear', 'cosine', 'hold_then_linear'))
        _check(0.0 <= config[opt].decay_start < 1.0, f'config.{opt}.decay_start must be in [0, 1)')
        lr = config[opt].learning_rate
        _check(lr > 0, f'config.{opt}.learning_rate={lr} must be positive')
        _check(config[opt].weight_clip >= 0, f'config.{opt}.weight_clip={config[opt].weight_clip} must be >= 0')
        _check(config[opt].weight_decay >= 0, f'config.{opt}.weight_decay={config[opt].weight_decay} must be >= 0')
    # Small datasets and augmentation; the dataset-dependent checks of data.limit are in data.load.
    _check(isinstance(config.data.limit, int) and config.data.limit >= 0,
           f'config.data.limit={config.data.limit!r} must be a non-negative integer (0: all the examples)')
    _one_of(config, 'augment.kind', augment.KINDS)
    a = config.augment
    for field, parse in (('policy', augment.parse_policy), ('pipeline', augment.parse_pipeline)):
        try:
            parse(a[field])
        except UserError as e:
            raise UserError(f'config.augment.{field}={a[field]!r}: {e}') from None
    augment.check_probability(a.p, 'config.augment.p')
    try:
        augment.parse_multipliers(a.multipliers)
        augment.check_cutout(a.cutout, a.cutout_size)
    except UserError as e:
        raise UserError(f'config.augment: {e}') from None
    augment.check_probability(a.target, 'config.augment.target')
    _check(a.kind != 'diffaugment' or bool(augment.parse_policy(a.policy)),
           'config.augment.policy is empty: DiffAugment needs any of color, translation, cutout')
    _positive(config, 'augment.interval')
    _check(a.kimg > 0, f'config.augment.kimg={a.kimg!r} must be positive')


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


def completed(saved: dict) -> ml_collections.ConfigDict:
    """A config saved with a checkpoint, with the fields of `base_config` it lacks (fields added since it
    was saved) at their defaults, which are the behaviour it was trained with."""
    def fill(into: dict, defaults: dict) -> dict:
        for key, value in defaults.items():
            if key not in into:
                into[key] = value
            elif isinstance(value, dict) and isinstance(into[key], dict):
                fill(into[key], value)
        return into
    return ml_collections.ConfigDict(fill(copy.deepcopy(saved), base_config().to_dict()))
