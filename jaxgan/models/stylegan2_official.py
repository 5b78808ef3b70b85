"""StyleGAN2-ADA's official networks (NVlabs/stylegan2-ada-pytorch, training/networks.py; stylegan3's
training/networks_stylegan2.py) ported onto models.stylegan2, registered in models.official.

Config: the init_kwargs that train.py gives (z_dim, w_dim, c_dim, img_resolution, img_channels;
mapping_kwargs.num_layers; synthesis_kwargs and D's channel_base, channel_max, num_fp16_res, conv_clamp;
D's architecture and epilogue_kwargs.mbstd_group_size) become config.model.z_dim, config.stylegan2.*,
config.image_size, the channels and the classes; any other keyword at a value other than the official
default (G's 'orig' or 'resnet' architecture, another resample filter, a mapping's lr_multiplier...) is
refused in one line naming it. num_fp16_res is precision only: jaxgan computes in float32 unless
config.compute_dtype=bfloat16, so it is reported, not required.

Variables (models.stylegan2's docstring): `weight` [out, in] -> `kernel` [in, out]; [out, in, k, k] ->
HWIO; the 4x4 `const` [C, 4, 4] -> [4, 4, C]; biases and noise strengths as they are; the buffers w_avg
and noise_const into the STATS collection; every `resample_filter` buffer must be the [1, 3, 3, 1] filter
that jaxgan's layers hold as a constant (checked, then dropped).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxgan.errors import UserError
from jaxgan.models import official
from jaxgan.models.stylegan2 import STATS
from jaxgan.models.stylegan2_layers import FIR

# Official keywords jaxgan's StyleGAN2 reproduces only at their defaults (training/networks.py).
G_MAPPING_DEFAULTS = dict(embed_features=None, layer_features=None, activation='lrelu', lr_multiplier=0.01,
                          w_avg_beta=0.995)
G_SYNTHESIS_DEFAULTS = dict(architecture='skip', resample_filter=[1, 3, 3, 1], use_noise=True, activation='lrelu',
                            kernel_size=3, channels_last=False, fp16_channels_last=False)
D_DEFAULTS = dict(cmap_dim=None)
D_BLOCK_DEFAULTS = dict(activation='lrelu', resample_filter=[1, 3, 3, 1], fp16_channels_last=False, freeze_layers=0)
D_MAPPING_DEFAULTS = dict(num_layers=8, embed_features=None, layer_features=None, activation='lrelu',
                          lr_multiplier=0.01)
D_EPILOGUE_DEFAULTS = dict(mbstd_num_channels=1, activation='lrelu')
KNOWN_G = {'z_dim', 'w_dim', 'c_dim', 'img_resolution', 'img_channels', 'mapping_kwargs', 'synthesis_kwargs'}
KNOWN_D = {'c_dim', 'img_resolution', 'img_channels', 'architecture', 'channel_base', 'channel_max', 'num_fp16_res',
           'conv_clamp', 'cmap_dim', 'block_kwargs', 'mapping_kwargs', 'epilogue_kwargs'}


def _section(kwargs: dict, key: str, role: str) -> dict:
    value = kwargs.get(key) or {}
    if not isinstance(value, dict):
        raise UserError(f'the official {role}\'s {key} is a {type(value).__name__}, not a dict')
    return value


def _defaults_only(given: dict, defaults: dict, where: str, known: set[str] = frozenset()) -> None:
    """Refuses keywords at other than their defaults, and keywords neither default nor known."""
    odd = [f'{where}{k}={v!r}' for k, v in given.items()
           if (k in defaults and v != defaults[k]) or (k not in defaults and k not in known)]
    if odd:
        raise UserError(f'the official network has {", ".join(sorted(odd))}, which jaxgan\'s StyleGAN2 does not '
                        'reproduce (it ports train.py\'s configs)')


def _clamp(value: Any) -> float:
    return 0.0 if value is None else float(value)  # config.stylegan2.conv_clamp: 0 none


def generator_config(kwargs: dict, state_dict: official.StateDict | None = None) -> dict[str, Any]:
    """networks.py, Generator(z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs,
    synthesis_kwargs) as jaxgan config fields (the state dict is not needed: the kwargs say it all)."""
    mapping, synthesis = _section(kwargs, 'mapping_kwargs', 'G'), _section(kwargs, 'synthesis_kwargs', 'G')
    _defaults_only({k: v for k, v in kwargs.items() if k not in KNOWN_G}, {}, '')
    _defaults_only(mapping, G_MAPPING_DEFAULTS, 'mapping_kwargs.', {'num_layers'})
    _defaults_only(synthesis, G_SYNTHESIS_DEFAULTS, 'synthesis_kwargs.',
                   {'channel_base', 'channel_max', 'num_fp16_res', 'conv_clamp'})
    c_dim = int(kwargs.get('c_dim') or 0)
    return {
        'model.name': 'stylegan2', 'image_size': int(kwargs['img_resolution']), 'channels': int(kwargs['img_channels']),
        'classes': c_dim, 'conditioning.g': 'concat' if c_dim else 'none',
        'model.z_dim': int(kwargs['z_dim']), 'stylegan2.w_dim': int(kwargs['w_dim']),
        'stylegan2.mapping_layers': int(mapping.get('num_layers', 8)),
        'stylegan2.channel_base': int(synthesis.get('channel_base', 32768)),
        'stylegan2.channel_max': int(synthesis.get('channel_max', 512)),
        'stylegan2.conv_clamp': _clamp(synthesis.get('conv_clamp')),
    }


def discriminator_config(kwargs: dict, state_dict: official.StateDict | None = None) -> dict[str, Any]:
    """networks.py, Discriminator(c_dim, img_resolution, img_channels, architecture, channel_base, ...)
    as jaxgan config fields."""
    _defaults_only({k: v for k, v in kwargs.items() if k not in KNOWN_D or k == 'cmap_dim'}, D_DEFAULTS, '')
    _defaults_only(_section(kwargs, 'block_kwargs', 'D'), D_BLOCK_DEFAULTS, 'block_kwargs.')
    _defaults_only(_section(kwargs, 'mapping_kwargs', 'D'), D_MAPPING_DEFAULTS, 'mapping_kwargs.')
    epilogue = _section(kwargs, 'epilogue_kwargs', 'D')
    _defaults_only(epilogue, D_EPILOGUE_DEFAULTS, 'epilogue_kwargs.', {'mbstd_group_size'})
    architecture = kwargs.get('architecture', 'resnet')
    if architecture not in ('resnet', 'orig'):
        raise UserError(f'the official D has architecture={architecture!r}; jaxgan\'s StyleGAN2 D is resnet or orig')
    group = epilogue.get('mbstd_group_size', 4)
    if group is None:
        raise UserError('the official D has epilogue_kwargs.mbstd_group_size=None (the whole batch); jaxgan '
                        'needs a group size')
    c_dim = int(kwargs.get('c_dim') or 0)
    return {
        'model.name': 'stylegan2', 'image_size': int(kwargs['img_resolution']), 'channels': int(kwargs['img_channels']),
        'classes': c_dim, 'conditioning.d': 'projection' if c_dim else 'none',
        'stylegan2.channel_base': int(kwargs.get('channel_base', 32768)),
        'stylegan2.channel_max': int(kwargs.get('channel_max', 512)),
        'stylegan2.conv_clamp': _clamp(kwargs.get('conv_clamp')),
        'stylegan2.d_architecture': architecture, 'stylegan2.mbstd_group': int(group),
    }


def from_official(state_dict: official.StateDict, role: str) -> tuple[dict, dict]:
    """(params, model_state) of jaxgan's StyleGAN2 `role` ('G' or 'D') from the official state dict."""
    params: dict = {}
    stats: dict = {}
    for name, value in state_dict.items():
        parts = tuple(name.split('.'))
        last = parts[-1]
        value = np.asarray(value)
        if last == 'resample_filter':
            if value.shape != FIR.shape or not np.allclose(value, FIR):
                raise UserError(f'official {role} {name}: a resample filter other than [1, 3, 3, 1], which jaxgan\'s '
                                'StyleGAN2 holds as a constant')
            continue
        if last in ('w_avg', 'noise_const'):
            official.put(stats, parts, value.astype(np.float32), f'official {role} {name}')
            continue
        if last == 'weight' and value.ndim == 2:
            parts, value = parts[:-1] + ('kernel',), value.T
        elif last == 'weight' and value.ndim == 4:
            parts, value = parts[:-1] + ('kernel',), value.transpose(2, 3, 1, 0)
        elif last == 'const' and value.ndim == 3:
            value = value.transpose(1, 2, 0)
        elif last not in ('bias', 'noise_strength'):
            raise UserError(f'official {role} {name} of shape {list(value.shape)}: not a StyleGAN2 array')
        official.put(params, parts, np.array(value, np.float32, order='C'), f'official {role} {name}')
    return params, ({STATS: stats} if stats else {})


for _module in ('training.networks', 'training.networks_stylegan2'):
    official.register(official.Port(_module, 'Generator', 'G', 'stylegan2', generator_config, from_official))
    official.register(official.Port(_module, 'Discriminator', 'D', 'stylegan2', discriminator_config,
                                    from_official))
