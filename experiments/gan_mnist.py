"""The GAN of Goodfellow et al. (2014) on MNIST: multilayer perceptrons, minimax or non-saturating.

    python -m experiments.gan_mnist --workdir=runs/gan_mnist
    python -m experiments.gan_mnist --workdir=runs/gan_mnist_minimax --config.loss=minimax

G: z (100, uniform) -> 1200 ReLU -> 1200 ReLU -> 784 tanh; D: 784 -> 240 maxout (5 pieces) -> 240 maxout
-> logit, dropout 0.5, as the paper's MNIST model (its code used maxout units and dropout in D).
`minimax` is the paper's objective; `non_saturating` (the default) its practical variant,
-log D(G(z)), which gives G strong gradients early on. Adam (2e-4, b1 0.5) replaces the paper's SGD with
momentum. Data: `tfds:mnist`, 28x28x1.
"""

from jaxgan import cli, config as config_lib


def get_config():
    c = config_lib.base_config()
    c.dataset = 'tfds:mnist'
    c.image_size = 28
    c.batch_size = 100
    c.num_steps = 30_000  # 50 epochs of 60,000 images
    c.model.name = 'mlp'
    c.model.z_dim = 100
    c.model.latent = 'uniform'
    c.model.g_hidden = (1200, 1200)
    c.model.d_hidden = (240, 240)
    c.model.d_activation = 'maxout'
    c.model.maxout_pieces = 5
    c.model.dropout = 0.5
    c.loss = 'non_saturating'
    c.log_every = 500
    c.sample_every = 2000
    c.checkpoint_every = 5000
    return c


if __name__ == '__main__':
    cli.run_experiment('gan_mnist', get_config)
