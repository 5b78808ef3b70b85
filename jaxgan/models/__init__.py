"""Generator and discriminator architectures, chosen by config.model.name.

Every architecture is a pair of Flax modules used as pure functions: `G.apply(vars, z, y, train=...)`
returns examples in model units ([-1, 1] images, or standardised vectors) and `D.apply(vars, x, y,
train=...)` a dict with one logit per example ('logits'), its last hidden layer ('features') and the
outputs of the heads config asks for (see layers.Heads); y, the labels, is None for unconditional
models. A new architecture is a new module here and one entry in `build`.

    dcgan    Radford et al. 2015, any power-of-two image size from 8
    mlp      multilayer perceptrons (Goodfellow et al. 2014; toy distributions), any data
    resnet   Miyato et al. 2018 / Gulrajani et al. 2017, power-of-two images from 8 to 128 (32 for CIFAR-10;
             the SN-GAN authors' deeper discriminators at 64 and 128)
    stylegan2  Karras et al. 2020 (models.stylegan2, sized by config.stylegan2), power-of-two images from 8
    progan   Karras et al. 2018 (models.progan, sized by config.progan), power-of-two images from 8, trained
             growing: the networks take the schedule's level of detail (`lod`) beside their inputs

Models know nothing of training or input pipelines: `build` takes the example shape and the class count.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from jaxgan.errors import UserError
from jaxgan.models import dcgan, mlp, progan, resnet, stylegan2

NAMES = ('dcgan', 'mlp', 'resnet', 'stylegan2', 'progan')
# (G norms, D norms) each architecture supports; the first is its default (config value '').
NORMS = {
    'dcgan': (('batch', 'virtual_batch', 'none'), ('batch', 'layer', 'none')),
    'mlp': (('none', 'batch'), ('none',)),
    'resnet': (('batch', 'none'), ('none', 'layer', 'batch')),
    'stylegan2': (('none',), ('none',)),  # weight demodulation; no normalisation layers
    'progan': (('none',), ('none',)),  # pixelwise feature normalisation is part of G; D has none
}


def _norms(name: str, m: ml_collections.ConfigDict) -> tuple[str, str]:
    g_choices, d_choices = NORMS[name]
    g, d = m.g_norm or g_choices[0], m.d_norm or d_choices[0]
    if g not in g_choices:
        raise UserError(f'config.model.g_norm={g!r}: model {name} supports {", ".join(g_choices)}')
    if d not in d_choices:
        raise UserError(f'config.model.d_norm={d!r}: model {name} supports {", ".join(d_choices)}')
    return g, d


def _square_image(name: str, shape: tuple[int, ...], images: bool, max_size: int = 0) -> tuple[int, int]:
    if not images:
        raise UserError(f'model {name} needs images; the data are vectors of shape {shape}')
    size, channels = shape[0], shape[-1]
    if size < 8 or size & (size - 1) or shape[1] != size or (max_size and size > max_size):
        limit = f' up to {max_size}' if max_size else ''
        raise UserError(f'config.image_size={size}: model {name} makes square images of a power-of-two '
                        f'size, at least 8{limit} (the data are {shape})')
    return size, channels


G_CONDITIONING = {'dcgan': ('none', 'concat', 'cbn'), 'mlp': ('none', 'concat'), 'resnet': ('none', 'concat', 'cbn'),
                  'stylegan2': ('none', 'concat'),  # stylegan2's concat: the label's embedding beside z in the mapping
                  'progan': ('none',)}
D_CONDITIONING = {'stylegan2': ('none', 'projection'), 'progan': ('none',)}  # other models: every one of D_CONDITIONING_ALL
D_CONDITIONING_ALL = ('none', 'concat', 'projection', 'acgan')


def d_norm(config: ml_collections.ConfigDict) -> str:
    """The discriminator's normalisation: config.model.d_norm, or the architecture's default."""
    return config.model.d_norm or NORMS.get(config.model.name, ((), ('none',)))[1][0]


def build(config: ml_collections.ConfigDict, shape: tuple[int, ...], *, images: bool, num_classes: int,
          bn_axis: str | None) -> tuple[nn.Module, nn.Module]:
    """The (generator, discriminator) pair for config.model on examples of `shape`; bn_axis: the mesh axis
    over which cross-device BatchNorm averages (None: per device)."""
    m, c = config.model, config.conditioning
    dtype = jnp.bfloat16 if config.compute_dtype == 'bfloat16' else jnp.float32
    if m.name not in NAMES:
        raise UserError(f'config.model.name={m.name!r} is not one of {", ".join(NAMES)}')
    g_norm, d_norm_ = _norms(m.name, m)
    if c.g not in G_CONDITIONING[m.name]:
        raise UserError(f'config.conditioning.g={c.g!r}: model {m.name} supports {", ".join(G_CONDITIONING[m.name])}')
    d_choices = D_CONDITIONING.get(m.name, D_CONDITIONING_ALL)
    if c.d not in d_choices:
        raise UserError(f'config.conditioning.d={c.d!r}: model {m.name} supports {", ".join(d_choices)}')
    if g_norm == 'virtual_batch' and c.g != 'none':
        raise UserError('virtual batch norm and class conditioning of G do not combine')
    k = num_classes
    heads = dict(num_classes=k, conditioning=c.d, semi_supervised=config.semi_supervised.num_labels > 0,
                 q_categorical=config.infogan.categorical, q_continuous=config.infogan.continuous)
    if m.name == 'dcgan':
        size, channels = _square_image(m.name, shape, images)
        return (dcgan.Generator(size, channels, m.g_width, dtype, bn_axis, g_norm, m.vbn_reference_size,
                                num_classes=k, conditioning=c.g, upsample=m.g_upsample or 'transposed'),
                dcgan.Discriminator(size, m.d_width, dtype, bn_axis, d_norm_, m.spectral_norm,
                                    m.minibatch_discrimination, **heads))
    if m.name == 'stylegan2':
        size, channels = _square_image(m.name, shape, images)
        return _stylegan2(config, size, channels, k, dtype)
    if m.name == 'progan':
        size, channels = _square_image(m.name, shape, images)
        return _progan(config, size, channels, dtype)
    if m.name == 'resnet':
        size, channels = _square_image(m.name, shape, images, max_size=128)
        if m.minibatch_discrimination:
            raise UserError('config.model.minibatch_discrimination: not available for model resnet')
        return (resnet.Generator(size, channels, m.g_width, dtype, bn_axis, g_norm, num_classes=k, conditioning=c.g),
                resnet.Discriminator(size, m.d_width, dtype, bn_axis, d_norm_, m.spectral_norm, **heads))
    return (mlp.Generator(tuple(shape), tuple(m.g_hidden), images, dtype, g_norm, bn_axis,
                          num_classes=k, conditioning=c.g),
            mlp.Discriminator(tuple(m.d_hidden), m.d_activation, m.maxout_pieces, m.dropout, m.d_noise, dtype,
                              m.spectral_norm, m.minibatch_discrimination, bn_axis, **heads))


def _stylegan2(config: ml_collections.ConfigDict, size: int, channels: int, num_classes: int,
               dtype) -> tuple[nn.Module, nn.Module]:
    m, s, c = config.model, config.stylegan2, config.conditioning
    unsupported = [what for what, on in (
        ('config.model.spectral_norm', m.spectral_norm), ('config.model.minibatch_discrimination',
                                                          m.minibatch_discrimination),
        ('InfoGAN (config.infogan)', config.infogan.categorical or config.infogan.continuous),
        ('the semi-supervised GAN', config.semi_supervised.num_labels)) if on]
    if unsupported:
        raise UserError(f'model stylegan2 has no {" and no ".join(unsupported)}: turn '
                        f'{"it" if len(unsupported) == 1 else "them"} off')
    fp16 = s.num_fp16_res if dtype != jnp.float32 else None  # float32: every block in it
    clamp = s.conv_clamp or None
    g = stylegan2.Generator(size, channels, s.w_dim, num_classes if c.g != 'none' else 0, s.mapping_layers,
                            channel_base=s.channel_base, channel_max=s.channel_max, conv_clamp=clamp,
                            num_fp16_res=fp16, dtype=dtype)
    d = stylegan2.Discriminator(size, num_classes if c.d != 'none' else 0, s.d_architecture, s.channel_base,
                                s.channel_max, clamp, fp16, mbstd_group_size=s.mbstd_group, dtype=dtype)
    return g, d


def _progan(config: ml_collections.ConfigDict, size: int, channels: int, dtype) -> tuple[nn.Module, nn.Module]:
    m, p = config.model, config.progan
    unsupported = [what for what, on in (
        ('config.model.spectral_norm', m.spectral_norm), ('config.model.minibatch_discrimination',
                                                          m.minibatch_discrimination),
        ('InfoGAN (config.infogan)', config.infogan.categorical or config.infogan.continuous),
        ('the semi-supervised GAN', config.semi_supervised.num_labels),
        ('config.compute_dtype=bfloat16', dtype != jnp.float32)) if on]
    if unsupported:
        raise UserError(f'model progan has no {" and no ".join(unsupported)}: turn '
                        f'{"it" if len(unsupported) == 1 else "them"} off')
    g = progan.Generator(size, channels, fmap_base=p.fmap_base, fmap_max=p.fmap_max, latent_size=m.z_dim)
    d = progan.Discriminator(size, fmap_base=p.fmap_base, fmap_max=p.fmap_max, mbstd_group_size=p.mbstd_group,
                             fused_scale=p.fused_scale)
    return progan.GrowingGenerator(g), progan.GrowingDiscriminator(d)


def discriminator_blocks(discriminator: nn.Module) -> tuple[tuple[str, ...], ...]:
    """The discriminator's blocks, from its input on, each as the names of its layers in D's params (their
    top-level keys): dcgan, a stride-2 conv with its normalisation; resnet, a residual block; mlp, a hidden
    dense layer. The heads (the final layer, projection, classifiers, InfoGAN's Q, minibatch
    discrimination) are in no block."""
    for family in (dcgan, resnet, mlp):
        if isinstance(discriminator, family.Discriminator):
            return family.discriminator_blocks(discriminator)
    raise UserError(f'config.freeze_d: the blocks of {type(discriminator).__name__} are not defined (models '
                    'dcgan, resnet and mlp define them)')


def frozen_layers(discriminator: nn.Module, k: int) -> tuple[str, ...]:
    """The layers of D (top-level names in its params) that FreezeD (Mo et al. 2020) keeps fixed: those of
    its first k blocks (`discriminator_blocks`); () for k = 0."""
    if not k:
        return ()
    blocks = discriminator_blocks(discriminator)
    if k > len(blocks):
        raise UserError(f'config.freeze_d={k}: the discriminator ({type(discriminator).__module__.split(".")[-1]}) '
                        f'has {len(blocks)} blocks; at most {len(blocks)} can be frozen (its head never is)')
    return tuple(name for block in blocks[:k] for name in block)
