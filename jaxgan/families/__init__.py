"""The families jaxgan ships, one module each, registered with `jaxgan.family` on first use:

    gan          the classic GANs: images or vectors from latents (unconditional, conditional, AC-GAN,
                 InfoGAN, the semi-supervised GAN, GMMN; any architecture of jaxgan.models)
    translation  image-to-image translation: pix2pix, CycleGAN, U-GAT-IT
    tables       synthetic tables: CTGAN

Nothing outside a family's own module imports it (an import contract in pyproject.toml): the loop, the
tools, evaluation and ensembles meet every family through `jaxgan.family`.
"""
