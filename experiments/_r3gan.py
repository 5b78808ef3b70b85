"""R3GAN's training recipe as a config (Huang, Gokaslan, Kuleshov and Tompkin, NeurIPS 2024; the official code
is the public repository brownvc/R3GAN), shared by the r3gan_* experiments.

    r3gan_config(preset, dataset, batch_size, conditional) -> ConfigDict

Every constant is the official code's, by preset (train.py, main(): the preset's ema_nimg, decay_nimg
and the five schedulers; the Adam of G_opt_kwargs and D_opt_kwargs; augment_kwargs), with the batch size
of the README's command for the preset:

    networks     models.r3gan.preset(preset): the widths, cardinalities, blocks, expansion 2, z of 64,
                 class embeddings of 64 (G) and of the first width (D) where conditional
    loss         config.loss='rpgan' with R1 and R2 at gamma / 2 on every step (R3GAN/Trainer.py)
    optimizer    Adam, betas (0, beta2), eps 1e-8, the same for G and D (train.py: betas=[0, 0], eps=1e-8;
                 training_loop.py sets g['betas'] = (0, cur_beta2) and g['lr'] = cur_lr every step)
    schedules    config.anneal over decay_nimg (2e7 images; 2e8 for ImageNet), each from its base value
                 to its final value by cosine_decay_with_warmup (training_loop.py): lr 2e-4 -> 5e-5,
                 beta2 0.9 -> 0.99, gamma (r1 and r2) by preset, augmentation p 0 -> the preset's, the
                 EMA's half-life 0 -> ema_nimg (beta = 0.5 ** (batch / ema_nimg), training_loop.py)
    augmentation train.py's augment_kwargs for --aug=1: AugmentPipe's blit and geometric transforms at
                 p, its colour ones (brightness, contrast, lumaflip, hue, saturation) at 0.5 p, then
                 cutout at p with cutout_size 0.5 (training/augment.py, stylegan2-ada's but for a
                 broadcast in cutout): config.augment.kind='fixed', pipeline 'bgc', multipliers 'c=0.5',
                 cutout 1, cutout_size 0.5, p scheduled
    data         --mirror=1 (config.data.flip), --cond=1 for CIFAR10 and ImageNet

What differs from the official run, and why:
    - augmentation's resampling: the transforms, their probabilities, order and constants are the
      official's, but jaxgan.augment samples the geometric ones bilinearly with reflection, where
      AugmentPipe upsamples 2x with a 'sym6' wavelet filter, samples and downsamples again (less
      aliasing); and each image's random draws are jaxgan's (the same distributions, not the same
      numbers).
    - length: the official command runs until stopped (train.py --kimg defaults to 10,000,000); these
      configs stop at decay_nimg, where every schedule has reached its final value.
    - G's update draws neither fresh latents nor a fresh real batch: the engine's last D update and G's
      update share one forward pass of G and one real batch (core.step), where the official loop draws
      G's phase its own z and its own real images (training_loop.py: all_gen_z and phase_real_img per
      phase).
    - precision: float32 here by default, where the official computes its FP16Stages in bfloat16
      (training/networks.py sets their DataType to torch.bfloat16; config.r3gan.bf16_stages with
      --config.compute_dtype=bfloat16 does the same).
"""

from __future__ import annotations

import ml_collections

from jaxgan import config as config_lib
from jaxgan.models import r3gan

# train.py, main(): per preset (ema_nimg / 1000, decay_nimg / 1000, the final augmentation p,
# gamma's base and final values)
SCHEDULES = {
    'CIFAR10': dict(ema_kimg=5000.0, decay_kimg=20_000.0, aug_p=0.55, gamma=(0.05, 0.005)),
    'FFHQ-64': dict(ema_kimg=500.0, decay_kimg=20_000.0, aug_p=0.3, gamma=(2.0, 0.2)),
    'FFHQ-256': dict(ema_kimg=500.0, decay_kimg=20_000.0, aug_p=0.3, gamma=(150.0, 15.0)),
    'ImageNet-32': dict(ema_kimg=50_000.0, decay_kimg=200_000.0, aug_p=0.5, gamma=(0.5, 0.05)),
    'ImageNet-64': dict(ema_kimg=50_000.0, decay_kimg=200_000.0, aug_p=0.4, gamma=(1.0, 0.1)),
}
LR = (2e-4, 5e-5)  # every preset's lr_scheduler base and final values
BETA2 = (0.9, 0.99)  # every preset's beta2_scheduler
# The README's commands: --batch per preset
BATCH = {'CIFAR10': 512, 'FFHQ-64': 256, 'FFHQ-256': 256, 'ImageNet-32': 4096, 'ImageNet-64': 4096}


def r3gan_config(preset: str, dataset: str, *, conditional: bool, batch_size: int | None = None,
                 schedule: dict | None = None) -> ml_collections.ConfigDict:
    """The official recipe of `preset` on `dataset` (see the module docstring); schedule: SCHEDULES'
    fields to replace (a shorter run's)."""
    p = r3gan.preset(preset)
    s = {**SCHEDULES[preset], **(schedule or {})}
    c = config_lib.base_config()
    c.dataset = dataset
    c.model.name = 'r3gan'
    c.model.z_dim = p.pop('z_dim')
    c.image_size = p.pop('image_size')
    for field, value in p.items():
        c.r3gan[field] = value
    c.data.crop = 0
    c.data.flip = True  # --mirror=1
    if conditional:  # --cond=1: G embeds the label beside z, D projects its output on the label's embedding
        c.conditioning.g, c.conditioning.d = 'embedding', 'projection'
    c.loss = 'rpgan'
    gamma, final_gamma = s['gamma']
    c.penalties.r1 = c.penalties.r2 = gamma
    c.batch_size = batch_size or BATCH[preset]
    for opt in (c.g_optimizer, c.d_optimizer):
        opt.name, opt.learning_rate, opt.b1, opt.b2, opt.eps = 'adam', LR[0], 0.0, BETA2[0], 1e-8
    c.augment.kind, c.augment.pipeline, c.augment.p = 'fixed', 'bgc', 0.0  # --aug=1, p scheduled from 0
    # train.py's augment_kwargs: brightness=contrast=lumaflip=hue=saturation=0.5, cutout=1 (size 0.5)
    c.augment.multipliers, c.augment.cutout, c.augment.cutout_size = 'c=0.5', 1.0, 0.5
    c.ema.half_life_kimg, c.ema.rampup = 0.0, 0.0  # from 0: the EMA ramp is the schedule's
    c.anneal.kimg = s['decay_kimg']
    c.anneal.to = ';'.join(f'{field}={value!r}' for field, value in (
        ('g_optimizer.learning_rate', LR[1]), ('d_optimizer.learning_rate', LR[1]),
        ('g_optimizer.b2', BETA2[1]), ('d_optimizer.b2', BETA2[1]),
        ('penalties.r1', final_gamma), ('penalties.r2', final_gamma),
        ('augment.p', s['aug_p']), ('ema.half_life_kimg', s['ema_kimg'])))
    c.num_steps = int(s['decay_kimg'] * 1000) // c.batch_size
    c.log_every = 100
    c.sample_every = 2000
    c.checkpoint_every = 2000
    return c
