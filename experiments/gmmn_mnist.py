"""A generative moment-matching network (Li, Swersky and Zemel 2015) on MNIST: the baseline without a
discriminator.

    python -m experiments.gmmn_mnist --workdir=runs/gmmn_mnist

The generator is trained directly on the MMD between a generated and a real batch (the paper's "data
space" GMMN), with a sum of Gaussian kernels at several bandwidths; there is no discriminator
(n_critic = 0). G: z (10, uniform) -> 64 -> 256 -> 256 -> 1024 ReLU -> 784 tanh, batch 1000, as the
paper's MNIST model (which used sigmoid outputs on [0, 1] pixels; here pixels are in [-1, 1], so the
bandwidths are doubled).
"""

from jaxgan import cli, config as config_lib


def get_config():
    c = config_lib.base_config()
    c.dataset = 'tfds:mnist'
    c.image_size = 28
    c.batch_size = 1000
    c.num_steps = 20_000
    c.n_critic = 0
    c.g_objective.adversarial = 0.0
    c.g_objective.mmd = 1.0
    c.g_objective.mmd_bandwidths = (4.0, 10.0, 20.0, 40.0, 80.0, 160.0)
    c.model.name = 'mlp'
    c.model.z_dim = 10
    c.model.latent = 'uniform'
    c.model.g_hidden = (64, 256, 256, 1024)
    c.g_optimizer.learning_rate = 1e-3
    c.g_optimizer.b1 = 0.9
    c.log_every = 500
    c.sample_every = 2000
    c.checkpoint_every = 5000
    return c


if __name__ == '__main__':
    cli.run_experiment('gmmn_mnist', get_config)
