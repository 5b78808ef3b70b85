"""Multilayer perceptrons: the GAN of Goodfellow et al. (2014) and the toy-distribution models.

G: z -> (Dense, ReLU) x len(hidden) -> Dense to the data's size -> tanh for images in [-1, 1], none
for standardised vectors. D: x flattened -> (Dense, activation, dropout) x len(hidden) -> Dense -> logit;
activation 'maxout' takes the max over `maxout_pieces` linear pieces, as the original paper's D did; `noise`
adds Gaussian noise to D's input and hidden layers in training, as the semi-supervised GAN's D.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgan.models import registry
from jaxgan.models.layers import Heads, MinibatchDiscrimination, norm_layer, with_spectral_norm


class Generator(nn.Module):
    shape: tuple[int, ...]  # of one example
    hidden: Sequence[int] = (256, 256)
    bounded: bool = True  # tanh output (images); False: linear (standardised vectors)
    dtype: Any = jnp.float32
    norm: str = 'none'  # 'batch' between layers, or 'none'
    bn_axis_name: str | None = None
    num_classes: int = 0
    conditioning: str = 'none'  # none | concat (one-hot y beside z)

    @nn.compact
    def __call__(self, z: jax.Array, y: jax.Array | None = None, *, train: bool) -> jax.Array:
        x = z
        if self.conditioning == 'concat':
            x = jnp.concatenate([x, jax.nn.one_hot(y, self.num_classes, dtype=x.dtype)], axis=-1)
        for width in self.hidden:
            x = nn.Dense(width, dtype=self.dtype)(x)
            x = nn.relu(norm_layer(self.norm, train=train, dtype=self.dtype, axis_name=self.bn_axis_name)(x))
        x = nn.Dense(math.prod(self.shape), dtype=self.dtype)(x).astype(jnp.float32)
        return (jnp.tanh(x) if self.bounded else x).reshape(z.shape[0], *self.shape)


class Discriminator(nn.Module):
    hidden: Sequence[int] = (256, 256)
    activation: str = 'leaky_relu'  # leaky_relu (0.2) | relu | maxout
    maxout_pieces: int = 5
    dropout: float = 0.0
    noise: float = 0.0  # std of Gaussian noise added to the input and each hidden layer when training
    dtype: Any = jnp.float32
    spectral_norm: bool = False
    minibatch_kernels: int = 0
    bn_axis_name: str | None = None  # unused: no normalisation; kept for a uniform interface
    num_classes: int = 0
    conditioning: str = 'none'  # none | concat (one-hot y beside x) | projection | acgan
    semi_supervised: bool = False
    q_categorical: int = 0
    q_continuous: int = 0

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array | None = None, *, train: bool) -> dict:
        noisy = lambda h: h + self.noise * jax.random.normal(self.make_rng('dropout'), h.shape, h.dtype) \
            if train and self.noise > 0 else h
        h = noisy(x.reshape(x.shape[0], -1))
        if self.conditioning == 'concat':
            h = jnp.concatenate([h, jax.nn.one_hot(y, self.num_classes, dtype=h.dtype)], axis=-1)
        for width in self.hidden:
            pieces = self.maxout_pieces if self.activation == 'maxout' else 1
            h = with_spectral_norm(nn.Dense(width * pieces, dtype=self.dtype), self.spectral_norm, train)(h)
            if self.activation == 'maxout':
                h = jnp.max(h.reshape(h.shape[0], width, pieces), axis=-1)
            elif self.activation == 'relu':
                h = nn.relu(h)
            else:
                h = nn.leaky_relu(h, 0.2)
            h = noisy(nn.Dropout(self.dropout, deterministic=not train or self.dropout == 0.0)(h))
        if self.minibatch_kernels:
            h = MinibatchDiscrimination(self.minibatch_kernels)(h)
        return Heads(self.num_classes, self.conditioning, self.semi_supervised, self.q_categorical,
                     self.q_continuous, self.spectral_norm, train, self.dtype)(h, y)


def discriminator_blocks(d: Discriminator) -> tuple[tuple[str, ...], ...]:
    """D's blocks from its input (FreezeD, models.frozen_layers), as the names of their layers in D's
    params: each hidden dense layer (maxout's pieces included). The head (minibatch discrimination,
    layers.Heads) is in none."""
    return tuple((f'Dense_{i}',) for i in range(len(d.hidden)))


def build(config: ml_collections.ConfigDict, shape: tuple[int, ...], *, images: bool, num_classes: int,
          bn_axis: str | None, dtype: Any) -> tuple[nn.Module, nn.Module]:
    m = config.model
    return (Generator(tuple(shape), tuple(m.g_hidden), images, dtype, ARCHITECTURE.g_norm(config), bn_axis,
                      num_classes=num_classes, conditioning=config.conditioning.g),
            Discriminator(tuple(m.d_hidden), m.d_activation, m.maxout_pieces, m.dropout, m.d_noise, dtype,
                          m.spectral_norm, m.minibatch_discrimination, bn_axis, **registry.heads(config, num_classes)))


ARCHITECTURE = registry.register(registry.Architecture(
    'mlp', build, 'Goodfellow et al. 2014: multilayer perceptrons (toy distributions), any data',
    g_norms=('none', 'batch'), d_norms=('none',), g_conditioning=('none', 'concat'),
    d_conditioning=registry.D_CONDITIONING_ALL, sizes=None, spectral_norm=True, minibatch_discrimination=True,
    infogan=True, semi_supervised=True, discriminator_blocks=discriminator_blocks))
