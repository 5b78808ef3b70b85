"""CTGAN's networks (Xu et al. 2019, "Modeling Tabular Data using Conditional GAN"; the `ctgan`
package's `synthesizers/ctgan.py`, classes Residual, Generator and Discriminator).

    Generator       [z | cond] -> one residual layer per width (Linear, BatchNorm, ReLU, the layer's
                    input concatenated to its output), then a Linear to the row's width: raw outputs,
                    which the game activates per column (tanh scalars, Gumbel-softmax one-hots)
    Discriminator   a pack of rows, flattened ([B / m, m * D], PacGAN), through Linear, LeakyReLU(0.2)
                    and Dropout(0.5) per width, then a Linear to one logit per pack

The package's defaults, which config.model carries: z of 128 (embedding_dim), widths (256, 256) for both
networks (generator_dim, discriminator_dim), packs of 10 (pac). BatchNorm as torch's BatchNorm1d:
momentum 0.1 of the new batch (flax's 0.9 of the old), epsilon 1e-5. Linear layers are initialised as
torch's nn.Linear (the package keeps its defaults): weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
not flax's LeCun-normal weights (sqrt(3) times the spread) and zero biases.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


def linear(features: int, fan_in: int) -> nn.Dense:
    """A Dense layer of `fan_in` inputs initialised as torch.nn.Linear's reset_parameters: kaiming_uniform
    with a = sqrt(5) for the weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias; the same bound."""
    bound = 1.0 / fan_in ** 0.5
    uniform = lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound, bound)  # noqa: E731
    return nn.Dense(features, kernel_init=uniform, bias_init=uniform)


class Residual(nn.Module):
    """ctgan's Residual: relu(bn(fc(x))) concatenated with x."""

    width: int

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
        h = linear(self.width, x.shape[-1])(x)
        h = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)(h)
        return jnp.concatenate([nn.relu(h), x], axis=-1)


class Generator(nn.Module):
    """Raw outputs [B, out] of inputs [B, z + cond] (the game applies the per-column activations)."""

    out: int
    widths: Sequence[int] = (256, 256)

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
        for width in self.widths:
            x = Residual(width)(x, train=train)
        return linear(self.out, x.shape[-1])(x)


class Discriminator(nn.Module):
    """{'logits': [B'], 'features': [B', widths[-1]]} of packed rows [B', m * (D + cond)]."""

    widths: Sequence[int] = (256, 256)
    dropout: float = 0.5

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool) -> dict[str, jax.Array]:
        for width in self.widths:
            x = linear(width, x.shape[-1])(x)
            x = nn.leaky_relu(x, 0.2)
            x = nn.Dropout(self.dropout, deterministic=not train)(x)
        return {'logits': linear(1, x.shape[-1])(x)[:, 0], 'features': x}
