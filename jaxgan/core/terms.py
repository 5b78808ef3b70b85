"""Objective terms: each one part of a player's loss, a small pure function of the update's `View`.

    term(view) -> weighted loss on this device's examples (the step averages it over devices)

A term that keeps state has `init(params) -> state` and `update(state, params, observed) -> state`
(run after each update of its player, with the new params and what the term's `observe(view)` read of
that update, without gradient: D's mean output, say), as an optax transform does; the state lives in
the run state under the term's name, and is saved and restored with everything else. Other terms and
the game's quantities read it from view.term_states (ADA's augmentation probability, say). A term that needs random
numbers has `noise(key, updates, batch)`: they are drawn for the global batch before sharding, and the
term reads its share from view.noise[term.name].

The terms name what they read: quantities of the game (view['d_real'], D's outputs on the real batch),
keys of the real batch (view.real['x']), generated examples (view.generated['x']) and noise
(view.noise['z']). The closed forms are in `core.losses` and `core.penalties`; a new term is a class
here (or in an experiment), its selection in the game that uses it, and a test against its closed form.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jaxgan import augment
from jaxgan.core import losses, penalties
from jaxgan.core.game import View
from jaxgan.core.parallel import DATA


@dataclasses.dataclass(frozen=True)
class Term:
    """Base: a name (its metric), a weight; stateless and noiseless unless a subclass says otherwise."""

    name: str
    weight: float

    def __call__(self, view: View) -> jax.Array:
        raise NotImplementedError

    def init(self, params: Any) -> Any:
        return None

    def observe(self, view: View) -> Any:
        """What `update` reads of the update, computed inside it (no gradient flows through it); a term
        averages it over devices itself where it must (`lax.pmean(..., DATA)`)."""
        return None

    def update(self, state: Any, params: Any, observed: Any) -> Any:
        return state

    def noise(self, key: jax.Array, updates: int, batch: int) -> Any:
        return None

    @property
    def stateful(self) -> bool:
        return type(self).init is not Term.init


# Adversarial losses ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class DiscriminatorLoss(Term):
    """The adversarial loss's discriminator side on D's logits for real and generated examples."""

    loss: losses.Loss = losses.LOSSES['non_saturating']
    label_smoothing: float = 0.0
    real: str = 'd_real'
    fake: str = 'd_fake'

    def __call__(self, view: View) -> jax.Array:
        real, fake = view[self.real]['logits'], view[self.fake]['logits']
        if self.loss.relativistic:
            return self.weight * self.loss.discriminator(**_relativistic_args(real, fake))
        smoothing = {'label_smoothing': self.label_smoothing} if self.label_smoothing else {}
        return self.weight * self.loss.discriminator(real_logits=real, fake_logits=fake, **smoothing)


def _relativistic_args(real: jax.Array, fake: jax.Array) -> dict:
    """A relativistic loss's arguments: the logits and each side's mean over the global batch."""
    mean = lambda a: lax.pmean(jnp.mean(a), DATA)
    return dict(real_logits=real, fake_logits=fake, real_mean=mean(real), fake_mean=mean(fake))


@dataclasses.dataclass(frozen=True)
class GeneratorLoss(Term):
    """The adversarial loss's generator side on D's logits for generated examples."""

    loss: losses.Loss = losses.LOSSES['non_saturating']
    fake: str = 'd_fake'
    real: str = 'd_real'  # read by the relativistic losses only

    def __call__(self, view: View) -> jax.Array:
        fake = view[self.fake]['logits']
        if self.loss.relativistic:
            real = lax.stop_gradient(view[self.real]['logits'])
            return self.weight * self.loss.generator(**_relativistic_args(real, fake))
        return self.weight * self.loss.generator(fake_logits=fake)


# Penalties on D's input gradients ------------------------------------------------------------------------
# `critic` names a quantity that is D as a function of its input batch, x -> logits [B], leaving the
# model state as it is. The game must not couple examples in it (see penalties.py). pack = m > 1: the
# quantity packs its input (PacGAN, core.packing) and returns [B / m] logits; the norms are per pack.

@dataclasses.dataclass(frozen=True)
class GradientPenalty(Term):
    """WGAN-GP (Gulrajani et al. 2017), lambda = 10 in the paper, at e x + (1 - e) G(z)."""

    critic: str = 'd_of_x'
    real: str = 'x'
    fake: str = 'x'
    pack: int = 1

    def noise(self, key, updates, batch):
        return jax.random.uniform(key, (updates, batch))

    def __call__(self, view: View) -> jax.Array:
        return self.weight * penalties.gradient_penalty(
            d_fn=view[self.critic], real=view.real[self.real], fake=view.generated[self.fake],
            epsilon=view.noise[self.name], pack=self.pack)


@dataclasses.dataclass(frozen=True)
class Drift(Term):
    """ProGAN's drift term (Karras et al. 2018, section A.1; loss.py of tkarras/progressive_growing_of_gans,
    D_wgangp_acgan: wgan_epsilon 0.001): weight E D(x)^2 on real x, keeping the critic's output near zero."""

    real: str = 'd_real'

    def __call__(self, view: View) -> jax.Array:
        return self.weight * jnp.mean(jnp.square(view[self.real]['logits']))


@dataclasses.dataclass(frozen=True)
class R1(Term):
    """R1 (Mescheder et al. 2018): weight = gamma / 2 on E ||grad D(x)||^2 over real x. every = k > 1:
    lazy regularisation (Karras et al. 2020, StyleGAN2 uses k = 16), computed on every k-th step only and
    weighed k times. With on='generated' and a critic of generated inputs it is R2, the same penalty on
    generated examples (Mescheder et al. 2018)."""

    critic: str = 'd_of_x'
    real: str = 'x'
    every: int = 1
    on: str = 'real'  # real | generated
    pack: int = 1

    def __call__(self, view: View) -> jax.Array:
        x = (view.real if self.on == 'real' else view.generated)[self.real]
        r1 = lambda: lax.pmean(penalties.r1_penalty(d_fn=view[self.critic], real=x, pack=self.pack), DATA)
        if self.every == 1:
            return self.weight * r1()
        return self.weight * self.every * lax.cond(view.step % self.every == 0, r1, lambda: jnp.zeros(()))


@dataclasses.dataclass(frozen=True)
class Dragan(Term):
    """DRAGAN (Kodali et al. 2017), lambda = 10 in the paper: the gradient penalty around the data,
    x + a * 0.5 std(x) u, with std over the global batch."""

    critic: str = 'd_of_x'
    real: str = 'x'
    shape: tuple[int, ...] = ()  # one example's
    pack: int = 1

    def noise(self, key, updates, batch):
        u_key, a_key = jax.random.split(key)
        return {'uniform': jax.random.uniform(u_key, (updates, batch, *self.shape)),
                'alpha': jax.random.uniform(a_key, (updates, batch))}

    def __call__(self, view: View) -> jax.Array:
        x = view.real[self.real]
        mean = lax.pmean(jnp.mean(x), DATA)
        std = jnp.sqrt(jnp.maximum(lax.pmean(jnp.mean(jnp.square(x)), DATA) - jnp.square(mean), 0.0))
        n = view.noise[self.name]
        return self.weight * penalties.dragan_penalty(d_fn=view[self.critic], real=x, std=std,
                                                      uniform=n['uniform'], alpha=n['alpha'], pack=self.pack)


@dataclasses.dataclass(frozen=True)
class PathLength(Term):
    """StyleGAN2's path-length regularisation of G (Karras et al. 2020, section 3.2; training/loss.py of
    NVlabs/stylegan2-ada-pytorch, StyleGAN2Loss, phase Greg), lazy: on every `every`-th step (4,
    training_loop.py's G_reg_interval) weighed `every` times. On 1 / shrink of the batch (pl_batch_shrink
    2), with y = noise / sqrt(H W) for an image of noise y ~ N(0, I): the lengths |J_w^T y| =
    sqrt(mean over the ws of the sum over w's entries of the squared gradient of sum(G(w) y) by w), their
    running mean a <- a + decay (mean length - a) (pl_decay 0.01), and weight * mean (length - a)^2
    (pl_weight 2). The official mean runs per GPU; this one over the global batch, in the run state.

    `ws` names a quantity of the ws [B, num_ws, w_dim] the penalty is taken at (latents of its own, style
    mixing as in training); `synthesis` one that is the synthesis network as a function ws -> images.
    The batch is thinned by taking every shrink-th example of each device's share (every example where
    the share does not divide), so the examples used are the same on any device count that divides it."""

    every: int = 4
    shrink: int = 2
    decay: float = 0.01
    ws: str = 'pl_ws'
    synthesis: str = 'g_synthesis'

    def init(self, params):
        return jnp.zeros(())

    def noise(self, key, updates, batch):  # one key per example for its image of noise
        return jax.random.key_data(jax.random.split(key, (updates, batch)))

    def _lengths(self, view: View) -> jax.Array:
        ws = view[self.ws]
        stride = self.shrink if ws.shape[0] % self.shrink == 0 else 1
        ws, keys = ws[::stride], jax.random.wrap_key_data(view.noise[self.name][::stride])
        images, pull_back = jax.vjp(view[self.synthesis], ws)
        h, w = images.shape[1:3]
        y = jax.vmap(lambda k: jax.random.normal(k, images.shape[1:], images.dtype))(keys) / jnp.sqrt(h * w)
        (grads,) = pull_back(y)
        return jnp.sqrt(jnp.mean(jnp.sum(jnp.square(grads.astype(jnp.float32)), axis=2), axis=1))

    def _result(self, view: View) -> tuple[jax.Array, jax.Array]:
        """(the penalty, the new running mean), the mean as it was off the regularised steps."""
        def regularised():
            lengths = self._lengths(view)
            mean = view.term_states[self.name]
            mean = mean + self.decay * (lax.pmean(jnp.mean(lengths), DATA) - mean)  # the official's lerp
            return lax.pmean(jnp.mean(jnp.square(lengths - mean)), DATA), mean

        def off():
            return jnp.zeros(()), view.term_states[self.name]

        if self.every == 1:
            return view.memo(self.name, regularised)
        return view.memo(self.name, lambda: lax.cond(view.step % self.every == 0, regularised, off))

    def observe(self, view: View):
        return self._result(view)[1]

    def update(self, state, params, observed):
        return observed

    def __call__(self, view: View) -> jax.Array:
        return self.weight * self.every * self._result(view)[0]


# Auxiliary objectives ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Classification(Term):
    """Softmax cross-entropy of a quantity's class head against labels: AC-GAN's auxiliary classifier
    (Odena et al. 2017) on real and on generated examples, the semi-supervised GAN's labelled loss
    (Salimans et al. 2016). labels: (where, key), where is 'real' or 'noise'."""

    outputs: str = 'd_real'
    labels: tuple[str, str] = ('real', 'y')
    head: str = 'class_logits'

    def __call__(self, view: View) -> jax.Array:
        where, key = self.labels
        labels = (view.real if where == 'real' else view.noise)[key]
        return self.weight * losses.classification_loss(logits=view[self.outputs][self.head], labels=labels)


def split_codes(latents: jax.Array, z_dim: int, categorical: int, continuous: int
                ) -> tuple[jax.Array | None, jax.Array | None]:
    """InfoGAN's (categorical code index [B], continuous codes [B, M]) of latents [z | one-hot | continuous]."""
    code = jnp.argmax(latents[..., z_dim:z_dim + categorical], axis=-1) if categorical else None
    return code, (latents[..., z_dim + categorical:] if continuous else None)


@dataclasses.dataclass(frozen=True)
class MutualInformation(Term):
    """InfoGAN's bound on I(c; G(z, c)) (Chen et al. 2016), as a loss on both players: Q's cross-entropy
    of the categorical code and continuous_weight times the Gaussian NLL of the continuous codes. The
    codes sit in the latent after z_dim entries: [z | one-hot categorical | continuous]."""

    outputs: str = 'd_fake'
    latent: str = 'z'
    z_dim: int = 0
    categorical: int = 0
    continuous: int = 0
    continuous_weight: float = 1.0

    def __call__(self, view: View) -> jax.Array:
        categorical, continuous = split_codes(view.noise[self.latent], self.z_dim, self.categorical, self.continuous)
        return self.weight * losses.infogan_loss(outputs=view[self.outputs], categorical=categorical,
                                                 continuous=continuous, continuous_weight=self.continuous_weight)


@dataclasses.dataclass(frozen=True)
class FeatureMatching(Term):
    """||E f(x) - E f(G(z))||^2 over the global batch, f: D's last hidden layer (Salimans et al. 2016)."""

    real: str = 'd_real'
    fake: str = 'd_fake'

    def __call__(self, view: View) -> jax.Array:
        real = lax.pmean(jnp.mean(lax.stop_gradient(view[self.real]['features']), 0), DATA)
        fake = lax.pmean(jnp.mean(view[self.fake]['features'], 0), DATA)
        return self.weight * jnp.sum(jnp.square(real - fake))


@dataclasses.dataclass(frozen=True)
class MMD(Term):
    """The generative moment-matching network's loss (Li et al. 2015): MMD between this device's real
    and generated batches under a sum of Gaussian kernels."""

    bandwidths: tuple[float, ...] = (2.0, 5.0, 10.0, 20.0, 40.0, 80.0)
    real: str = 'x'
    fake: str = 'x'

    def __call__(self, view: View) -> jax.Array:
        return self.weight * penalties.mmd(x=view.real[self.real], y=view.generated[self.fake],
                                           bandwidths=tuple(self.bandwidths))


@dataclasses.dataclass(frozen=True)
class HistoricalAveraging(Term):
    """||theta - theta_bar||^2 on the player's params, theta_bar the running mean of the params after
    each of its updates (Salimans et al. 2016; the initial params only until the first update). State:
    (theta_bar, count). A critic's mean moves with each of its n_critic updates."""

    def init(self, params):
        return {'average': jax.tree.map(jnp.copy, params), 'count': jnp.zeros((), jnp.int32)}

    def update(self, state, params, observed):
        w = 1.0 / (state['count'].astype(jnp.float32) + 1.0)
        average = jax.tree.map(lambda a, p: a + w * (p - a), state['average'], params)
        return {'average': average, 'count': state['count'] + 1}

    def __call__(self, view: View) -> jax.Array:
        return self.weight * penalties.historical_average_penalty(
            params=view.params, average=view.term_states[self.name]['average'])


# Regularisers of D's outputs -----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class LeCam(Term):
    """LeCam regularisation (Tseng et al. 2021): E relu(D(x) - a_F)^2 + E relu(a_R - D(G(z)))^2, a_R
    and a_F the moving averages of D's mean output on real and on generated examples. As the official
    code (google/lecam-gan, stylegan2/lecam_loss.py): decay 0.99, zero-debiased, the averages updated
    with the current batch's means before the loss reads them. State: the biased averages and the count."""

    decay: float = 0.99
    real: str = 'd_real'
    fake: str = 'd_fake'

    def init(self, params):
        return {'real': jnp.zeros(()), 'fake': jnp.zeros(()), 'count': jnp.zeros((), jnp.int32)}

    def observe(self, view: View):
        return {side: lax.pmean(jnp.mean(view[q]['logits'].astype(jnp.float32)), DATA)
                for side, q in (('real', self.real), ('fake', self.fake))}

    def _averaged(self, state, observed):
        new = {k: self.decay * state[k] + (1.0 - self.decay) * observed[k] for k in ('real', 'fake')}
        return {**new, 'count': state['count'] + 1}

    def update(self, state, params, observed):
        return self._averaged(state, observed)

    def __call__(self, view: View) -> jax.Array:
        state = self._averaged(view.term_states[self.name], jax.tree.map(lax.stop_gradient, self.observe(view)))
        debias = 1.0 - self.decay ** state['count'].astype(jnp.float32)
        a_real, a_fake = state['real'] / debias, state['fake'] / debias
        real, fake = view[self.real]['logits'], view[self.fake]['logits']
        return self.weight * (jnp.mean(jnp.square(jax.nn.relu(real - a_fake)))
                              + jnp.mean(jnp.square(jax.nn.relu(a_real - fake))))


@dataclasses.dataclass(frozen=True)
class Consistency(Term):
    """weight * E (D(x) - D(T(x)))^2 of D's outputs on examples and on transformed ones: bCR's real and
    fake terms (Zhao et al. 2021, lambda_real = lambda_fake = 10) and zCR's D term (D(G(z)) against
    D(G(z + dz)), lambda_dis = 5). `clean` names a quantity of D's outputs; `transformed` one of D's logits
    on the transformed examples. The squared difference is averaged over the batch, as StudioGAN's."""

    clean: str = 'd_real'
    transformed: str = 'd_real_transformed'

    def __call__(self, view: View) -> jax.Array:
        return self.weight * jnp.mean(jnp.square(view[self.clean]['logits'] - view[self.transformed]))


@dataclasses.dataclass(frozen=True)
class LatentDiversity(Term):
    """zCR's generator term (Zhao et al. 2021, lambda_gen = 0.5): -weight * E (G(z) - G(z + dz))^2,
    averaged over elements as StudioGAN's MSE: G is pushed to map nearby latents apart."""

    generated: str = 'x'
    perturbed: str = 'g_perturbed'

    def __call__(self, view: View) -> jax.Array:
        return -self.weight * jnp.mean(jnp.square(view.generated[self.generated] - view[self.perturbed]))


@dataclasses.dataclass(frozen=True)
class AdaptiveAugmentation(Term):
    """ADA's adaptation of p (Karras et al. 2020), as a term of the critic that adds nothing to its loss:
    it observes r_t = E[sign(D(real))] over the global batch at each D update and moves p towards the
    target (augment.ada_update); the game's quantities read p from view.term_states[name].p."""

    p: float = 0.0  # at the start (0 in the paper)
    target: float = 0.6
    interval: int = 4
    kimg: float = 500.0
    batch_images: int = 64  # real images per D update, over all devices
    real: str = 'd_real'

    def init(self, params):
        return augment.ada_init(self.p)

    def observe(self, view: View):
        return lax.pmean(augment.rt_heuristic(view[self.real]['logits']), DATA)

    def update(self, state, params, observed):
        return augment.ada_update(state, observed, batch_images=self.batch_images, target=self.target,
                                  interval=self.interval, kimg=self.kimg)

    def __call__(self, view: View) -> jax.Array:
        return jnp.zeros(())


# Image-to-image translation ------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class L1(Term):
    """weight * E |output - target|, over every element: pix2pix's L1 to the paired target (Isola et al.
    2017, lambda 100), CycleGAN's cycle consistency (Zhu et al. 2017, lambda 10) and identity (lambda 5
    there: 0.5 of the cycle's). `output` names a quantity; `target` (where, key) an array of the real
    batch ('real') or of the generated examples ('generated')."""

    output: str = 'fake_b'
    target: tuple[str, str] = ('real', 'b')

    def __call__(self, view: View) -> jax.Array:
        where, key = self.target
        target = (view.real if where == 'real' else view.generated)[key]
        return self.weight * jnp.mean(jnp.abs(view[self.output] - target))


def pool_query(state: dict, images: jax.Array, u: jax.Array, slot: jax.Array) -> tuple[jax.Array, dict]:
    """CycleGAN's image history (Shrivastava et al. 2017; pytorch-CycleGAN-and-pix2pix, util/image_pool.py)
    over a batch, in order: while the pool fills, each image goes in and through; then each goes through
    as it is where u <= 0.5, else it swaps with the pool's image at `slot`, which goes through instead.
    (images [B, ...], u [B] in [0, 1], slot [B] in [0, size)) -> (the images D sees, the new state)."""
    size = state['images'].shape[0]

    def one(carry, inp):
        pool, count = carry
        image, u_i, slot_i = inp
        filling = count < size
        swap = ~filling & (u_i > 0.5)
        at = jnp.where(filling, jnp.minimum(count, size - 1), slot_i)
        out = jnp.where(swap, pool[at], image)
        pool = pool.at[at].set(jnp.where(filling | swap, image, pool[at]))
        return (pool, count + filling.astype(count.dtype)), out

    (pool, count), out = lax.scan(one, (state['images'], state['count']), (images, u, slot))
    return out, {'images': pool, 'count': count}


def _gather_replicated(x: jax.Array) -> jax.Array:
    """The global batch [devices * B, ...] from each device's [B, ...], the same on every device (a psum
    of each device's share in place: replicated, as the state it feeds must be)."""
    b = x.shape[0]
    full = jnp.zeros((lax.psum(1, DATA) * b, *x.shape[1:]), x.dtype)
    return lax.psum(lax.dynamic_update_slice_in_dim(full, x, lax.axis_index(DATA) * b, 0), DATA)


@dataclasses.dataclass(frozen=True)
class ImagePool(Term):
    """The history of `size` generated images (50 in CycleGAN) that D judges instead of the latest ones
    half of the time, kept in the run state. It adds nothing to the loss: the game's quantity of D on
    pooled images reads `query(view)`, and the pool takes its new state after D's update. The history is
    one for all devices: the batch and the draws are gathered over devices, walked in order, and each
    device reads its own share."""

    images: str = 'b'  # the generated examples' key
    size: int = 50
    shape: tuple[int, ...] = ()  # one image's

    def init(self, params):
        return {'images': jnp.zeros((self.size, *self.shape)), 'count': jnp.zeros((), jnp.int32)}

    def noise(self, key, updates, batch):
        u_key, slot_key = jax.random.split(key)
        return {'u': jax.random.uniform(u_key, (updates, batch)),
                'slot': jax.random.randint(slot_key, (updates, batch), 0, self.size)}

    def _walk(self, view: View) -> tuple[jax.Array, dict]:
        gather = _gather_replicated
        images = lax.stop_gradient(view.generated[self.images])
        n = view.noise[self.name]
        out, state = pool_query(view.term_states[self.name], gather(images), gather(n['u']), gather(n['slot']))
        b = images.shape[0]
        return lax.dynamic_slice_in_dim(out, lax.axis_index(DATA) * b, b), state

    def query(self, view: View) -> jax.Array:
        """This device's images for D: the pool's answer to its share of the batch."""
        return self._walk(view)[0]

    def observe(self, view: View):
        return self._walk(view)[1]

    def update(self, state, params, observed):
        return observed

    def __call__(self, view: View) -> jax.Array:
        return jnp.zeros(())


@dataclasses.dataclass(frozen=True)
class Sum(Term):
    """weight * the sum of stateless, noiseless terms, reported as one metric: U-GAT-IT's adversarial loss
    of one domain, the least-squares losses of its global and local discriminators on their PatchGAN
    logits and on their CAM logits (four terms in UGATIT.py of znxlwm/UGATIT-pytorch)."""

    parts: tuple[Term, ...] = ()

    def __post_init__(self):
        bad = [p.name for p in self.parts if p.stateful or type(p).noise is not Term.noise]
        if bad:
            raise ValueError(f'{self.name}: the parts of a Sum keep no state and draw no noise: {bad}')

    def __call__(self, view: View) -> jax.Array:
        return self.weight * sum(part(view) for part in self.parts)


@dataclasses.dataclass(frozen=True)
class CAMLoss(Term):
    """U-GAT-IT's CAM loss of a generator (Kim et al. 2020, eq. 4; G_cam_loss_A, G_cam_loss_B in UGATIT.py of
    znxlwm/UGATIT-pytorch): weight * [BCE(eta(x_s), 1) + BCE(eta(x_t), 0)], eta the generator's auxiliary
    classifier (its CAM logits [B, 2], average- and max-pooled), x_s images of its source domain (to be
    translated: label 1) and x_t of its target domain (its identity pass, already there: label 0); binary
    cross-entropy with logits, each averaged over its elements. `source`, `target` name quantities."""

    source: str = 'g_ab_cam_a'
    target: str = 'g_ab_cam_b'

    def __call__(self, view: View) -> jax.Array:
        return self.weight * (jnp.mean(jax.nn.softplus(-view[self.source]))
                              + jnp.mean(jax.nn.softplus(view[self.target])))
