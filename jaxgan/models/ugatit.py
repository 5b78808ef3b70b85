"""U-GAT-IT (Kim et al. 2020): a generator with class-activation-map attention and AdaLIN, and its
global and local discriminators, after `ResnetGenerator`, `ResnetAdaILNBlock`, `adaILN`, `ILN`,
`Discriminator` and `RhoClipper` in networks.py of znxlwm/UGATIT-pytorch (the authors' PyTorch code;
taki0112/UGATIT is their TensorFlow one).

Generator (W = width, 64; 4 blocks): reflection pad 3, 7x7 conv W, instance norm, ReLU; two 3x3 stride-2
convolutions (reflection pad 1) to 2W, 4W, instance norm, ReLU; `num_blocks` residual blocks (instance
norm). The CAM: global average and global max pooling of the features, each scored by its own bias-free
dense layer to one logit (cam_logits [B, 2]: the auxiliary classifier of source versus target domain);
the features weighted channel-wise by each layer's weights, concatenated, 1x1 conv to 4W, ReLU: the
attended features, whose channel sum is the heatmap. An MLP of two bias-free dense layers of 4W with ReLU,
on the flattened attended features (light: on their global average pooling), gives gamma and beta (4W
each, bias-free dense layers). `num_blocks` residual blocks with AdaLIN (conv, AdaLIN, ReLU, conv,
AdaLIN; plus the input); two up-sampling stages (nearest 2x, reflection pad 1, 3x3 conv, ILN, ReLU) to 2W
and W; reflection pad 3, 7x7 conv to the output channels, tanh. No convolution has a bias but the 1x1.
The full variant's MLP starts with a dense layer of (size/4)^2 * 4W inputs: 268M parameters at 256
pixels; the light one fits where it does not.

AdaLIN(x; gamma, beta) = gamma * (rho * IN(x) + (1 - rho) * LN(x)) + beta, rho a learned per-channel
value in [0, 1] (initially 0.9); ILN the same with learned gamma, beta (initially 1, 0) and rho
(initially 0). Statistics as the PyTorch code: `torch.var`, the unbiased variance. The official code
clips rho to [0, 1] after each optimizer step (RhoClipper); here rho is clipped where it is used, with
the gradient passed straight through, and `rho_clipper()` is the optax transform that projects the
parameters as the official code does (chain it after the generator's optimizer).

Discriminator(num_layers): reflection pad 1, 4x4 stride-2 conv W, LeakyReLU(0.2); num_layers - 3 more
such to 2W, 4W, ...; one 4x4 stride-1 conv (reflection pad 1) doubling the width, LeakyReLU(0.2); the CAM
as above (LeakyReLU(0.2) after the 1x1 conv); reflection pad 1, 4x4 stride-1 conv to one logit per patch,
no bias. Every conv and the CAM's dense layers spectrally normalised, but the 1x1 conv. num_layers=7 is
the global discriminator (five stride-2 convolutions: 6x6 logits at 256 pixels, each seeing most of the
image), 5 the local one (three: 30x30 logits). Where the
PyTorch code weights the features by the CAM layer's weight before spectral normalisation (it reads
`weight_orig`), this one uses the normalised weight, as the TensorFlow code does.

Weights: PyTorch's default initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (the authors' code keeps
it); biases 0.

Outputs: the generator {'image': [B, H, W, C], 'cam_logits': [B, 2], 'heatmap': [B, H/4, W/4]}, the
discriminator {'logits': [B, H', W'], 'cam_logits': [B, 2], 'heatmap': [B, h, w]}, all float32; the
generator's `train` changes nothing (it has no batch statistics and no dropout), the discriminator's
updates the spectral-norm iterate (the 'spectral' collection).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxgan.errors import UserError
from jaxgan.models.convolution import Conv
from jaxgan.models.layers import instance_norm, reflect_pad, upsample_nearest, with_spectral_norm

torch_init = nn.initializers.variance_scaling(1.0 / 3.0, 'fan_in', 'uniform')  # kaiming_uniform(a=sqrt(5))


def _clipped(rho: jax.Array) -> jax.Array:
    """rho's value clipped to [0, 1], its gradient that of rho itself."""
    return rho + jax.lax.stop_gradient(jnp.clip(rho, 0.0, 1.0) - rho)


def _instance_layer_mix(x: jax.Array, rho: jax.Array, epsilon: float = 1e-5) -> jax.Array:
    x = x.astype(jnp.float32)
    x_in = (x - jnp.mean(x, axis=(1, 2), keepdims=True)) * jax.lax.rsqrt(
        jnp.var(x, axis=(1, 2), keepdims=True, ddof=1) + epsilon)
    x_ln = (x - jnp.mean(x, axis=(1, 2, 3), keepdims=True)) * jax.lax.rsqrt(
        jnp.var(x, axis=(1, 2, 3), keepdims=True, ddof=1) + epsilon)
    rho = _clipped(rho)
    return rho * x_in + (1.0 - rho) * x_ln


class AdaLIN(nn.Module):
    """Adaptive layer-instance normalisation: gamma, beta [B, C] given, rho learned."""

    @nn.compact
    def __call__(self, x: jax.Array, gamma_BxC: jax.Array, beta_BxC: jax.Array) -> jax.Array:
        rho = self.param('rho', nn.initializers.constant(0.9), (x.shape[-1],))
        y = _instance_layer_mix(x, rho)
        return (y * gamma_BxC[:, None, None, :].astype(jnp.float32) + beta_BxC[:, None, None, :]).astype(x.dtype)


class ILN(nn.Module):
    """Layer-instance normalisation: rho, gamma, beta learned per channel."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c = x.shape[-1]
        rho = self.param('rho', nn.initializers.zeros, (c,))
        gamma = self.param('gamma', nn.initializers.ones, (c,))
        beta = self.param('beta', nn.initializers.zeros, (c,))
        return (_instance_layer_mix(x, rho) * gamma + beta).astype(x.dtype)


class CAMWeight(nn.Module):
    """One pooling's auxiliary classifier: a bias-free dense layer pooled [B, C] -> logit [B], and the
    features [B, H, W, C] weighted channel-wise by its weights."""

    @nn.compact
    def __call__(self, pooled_BxC: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        kernel = self.param('kernel', torch_init, (x.shape[-1], 1))
        logit = (pooled_BxC.astype(jnp.float32) @ kernel)[:, 0]
        return logit, x * kernel[:, 0].astype(x.dtype)


class CAM(nn.Module):
    """Class activation map attention: (cam_logits [B, 2], attended features, heatmap [B, H, W])."""

    spectral_norm: bool = False
    leaky: bool = False  # LeakyReLU(0.2) after the 1x1 conv (the discriminators) or ReLU (the generator)
    train: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        logits, weighted = [], []
        for name, pooled in (('gap', jnp.mean(x, axis=(1, 2))), ('gmp', jnp.max(x, axis=(1, 2)))):
            layer = CAMWeight(name=name)
            if self.spectral_norm:
                layer = nn.SpectralNorm(layer, n_steps=1, collection_name='spectral', name=f'{name}_sn')
                logit, w = layer(pooled, x, update_stats=self.train)
            else:
                logit, w = layer(pooled, x)
            logits.append(logit)
            weighted.append(w)
        x = Conv(x.shape[-1], (1, 1), kernel_init=torch_init, dtype=self.dtype, name='conv1x1')(
            jnp.concatenate(weighted, axis=-1))
        x = nn.leaky_relu(x, 0.2) if self.leaky else nn.relu(x)
        heatmap = jnp.sum(x.astype(jnp.float32), axis=-1)
        return jnp.stack(logits, axis=-1), x, heatmap


class Generator(nn.Module):
    """x [B, H, W, C_in] in [-1, 1] -> {'image', 'cam_logits', 'heatmap'}; H and W multiples of 4, at
    least 8 (the full variant: the size it was built for)."""

    channels: int = 3
    num_blocks: int = 4
    width: int = 64
    light: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, *, train: bool = False) -> dict:
        del train  # nothing here depends on it
        h, w = x_BxHxWxC.shape[1:3]
        if h % 4 or w % 4 or min(h, w) < 8:
            raise UserError(f'image size {h}x{w}: the U-GAT-IT generator needs sides that are multiples of 4, '
                            'at least 8')
        conv = lambda f, k, stride=1: Conv(f, (k, k), (stride, stride), padding='VALID', use_bias=False,
                                              kernel_init=torch_init, dtype=self.dtype)
        inorm = lambda x: instance_norm(x).astype(self.dtype)
        dense = lambda f, name: nn.Dense(f, use_bias=False, kernel_init=torch_init, dtype=self.dtype, name=name)
        c = 4 * self.width
        x = x_BxHxWxC.astype(self.dtype)
        x = nn.relu(inorm(conv(self.width, 7)(reflect_pad(x, 3))))
        for mult in (2, 4):
            x = nn.relu(inorm(conv(self.width * mult, 3, 2)(reflect_pad(x, 1))))
        for _ in range(self.num_blocks):
            y = nn.relu(inorm(conv(c, 3)(reflect_pad(x, 1))))
            x = x + inorm(conv(c, 3)(reflect_pad(y, 1)))
        cam_logits, x, heatmap = CAM(dtype=self.dtype)(x)
        m = jnp.mean(x, axis=(1, 2)) if self.light else x.reshape(x.shape[0], -1)
        m = nn.relu(dense(c, 'mlp_0')(m))
        m = nn.relu(dense(c, 'mlp_1')(m))
        gamma, beta = dense(c, 'gamma')(m), dense(c, 'beta')(m)
        for i in range(self.num_blocks):
            y = nn.relu(AdaLIN(name=f'adalin_{i}_0')(conv(c, 3)(reflect_pad(x, 1)), gamma, beta))
            x = x + AdaLIN(name=f'adalin_{i}_1')(conv(c, 3)(reflect_pad(y, 1)), gamma, beta)
        for mult in (2, 1):
            x = upsample_nearest(x)
            x = nn.relu(ILN()(conv(self.width * mult, 3)(reflect_pad(x, 1))))
        x = conv(self.channels, 7)(reflect_pad(x, 3))
        return {'image': jnp.tanh(x.astype(jnp.float32)), 'cam_logits': cam_logits, 'heatmap': heatmap}


def discriminator_output_size(image_size: int, num_layers: int) -> int:
    """The side of the logit map of Discriminator(num_layers) for an image_size input (0: too small)."""
    size = image_size
    for _ in range(num_layers - 2):
        size = (size + 2 - 4) // 2 + 1
    return max(size - 2, 0)


class Discriminator(nn.Module):
    """x [B, H, W, C] -> {'logits' [B, H', W'], 'cam_logits' [B, 2], 'heatmap'}: 7 layers the global
    discriminator, 5 the local one."""

    num_layers: int = 7
    width: int = 64
    spectral_norm: bool = True
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, *, train: bool) -> dict:
        n = self.num_layers
        size = min(x_BxHxWxC.shape[1:3])
        if n < 3 or discriminator_output_size(size, n) < 1:
            raise UserError(f'image size {size}: too small for a U-GAT-IT discriminator of {n} layers (no '
                            f'logit left; {n} layers need at least {2 ** (n - 2) * 3} pixels)')
        conv = lambda f, stride, bias=True: with_spectral_norm(
            Conv(f, (4, 4), (stride, stride), padding='VALID', use_bias=bias, kernel_init=torch_init,
                    dtype=self.dtype), self.spectral_norm, train)
        x = x_BxHxWxC.astype(self.dtype)
        x = nn.leaky_relu(conv(self.width, 2)(reflect_pad(x, 1)), 0.2)
        for i in range(1, n - 2):
            x = nn.leaky_relu(conv(self.width * 2 ** i, 2)(reflect_pad(x, 1)), 0.2)
        x = nn.leaky_relu(conv(self.width * 2 ** (n - 2), 1)(reflect_pad(x, 1)), 0.2)
        cam_logits, x, heatmap = CAM(self.spectral_norm, leaky=True, train=train, dtype=self.dtype)(x)
        logits = conv(1, 1, bias=False)(reflect_pad(x, 1))
        return {'logits': logits[..., 0].astype(jnp.float32), 'cam_logits': cam_logits, 'heatmap': heatmap}


class GlobalLocalDiscriminator(nn.Module):
    """One domain's two discriminators as one network: {'global': Discriminator(7)'s outputs,
    'local': Discriminator(5)'s}."""

    width: int = 64
    global_layers: int = 7
    local_layers: int = 5
    spectral_norm: bool = True
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array, *, train: bool) -> dict:
        d = lambda n, name: Discriminator(n, self.width, self.spectral_norm, self.dtype, name=name)
        return {'global': d(self.global_layers, 'global')(x_BxHxWxC, train=train),
                'local': d(self.local_layers, 'local')(x_BxHxWxC, train=train)}


def _is_rho(path) -> bool:
    return bool(path) and getattr(path[-1], 'key', None) == 'rho'


def clip_rho(params):
    """params with every 'rho' (AdaLIN's and ILN's) clipped to [0, 1]: the official RhoClipper."""
    return jax.tree_util.tree_map_with_path(lambda p, v: jnp.clip(v, 0.0, 1.0) if _is_rho(p) else v, params)


def rho_clipper() -> optax.GradientTransformation:
    """Updates that leave every 'rho' in [0, 1] once applied; the last transform of the generator's chain."""

    def update(updates, state, params=None):
        if params is None:
            raise ValueError('rho_clipper needs the params')
        clipped = jax.tree_util.tree_map_with_path(
            lambda p, u, v: jnp.clip(v + u, 0.0, 1.0) - v if _is_rho(p) else u, updates, params)
        return clipped, state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)
