"""R3GAN's official networks (brownvc/R3GAN: training/networks.py's Generator and Discriminator wrappers,
whose `Model` is an R3GAN/Networks.py Generator or Discriminator) ported onto models.r3gan, registered in
models.official.

Config: R3GAN's wrappers keep no init_kwargs (training/networks.py deletes FP16Stages, c_dim and
img_resolution before building the Model, and the D wrapper keeps no attributes at all), so the sizes are
read off the state dict's shapes, with R3GAN/Networks.py's names:

    G  MainLayers.0.Layers.0.Basis [W0, 4, 4]          the first stage's width
       MainLayers.0.Layers.0.LinearLayer.weight [W0, Z + E]   z_dim = Z, beside the label embedding E
       MainLayers.i.Layers.0.LinearLayer.weight [Wi, W(i-1), 1, 1]   a stage whose width changes
       MainLayers.i.Layers.j.LinearLayer{1,2,3}   j >= 1: residual blocks; expansion = LinearLayer1's out / Wi,
                                                  cardinality = Wi * expansion / LinearLayer2's in, kernel
       AggregationLayer.Layer.weight [C, W, 1, 1]  the image's channels
       EmbeddingLayer.weight [E, classes]          a conditional G (conditioning.g=embedding, g_embedding E)
    D  ExtractionLayer.Layer.weight [W, C, 1, 1]; MainLayers.i.Layers.j for j before the last: blocks; the
       last stage's DiscriminativeBasis; EmbeddingLayer.weight [E, classes] (conditioning.d=projection,
       d_embedding E). D's stages run from the image down: reversed, they are G's order (train.py).

The number of stages gives the image size (4 * 2 ** (stages - 1)). FP16Stages are precision only (a
DataType attribute, not in the state dict): jaxgan computes in float32 unless config.compute_dtype says
bfloat16 (config.r3gan.bf16_stages). Variables: models.r3gan.from_official.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from jaxgan.errors import UserError
from jaxgan.models import official, r3gan

_LAYER = re.compile(r'(?:Model\.)?MainLayers\.(\d+)\.Layers\.(\d+)\.(.+)')


def _stages(state_dict: official.StateDict) -> dict[int, dict[int, dict[str, tuple[int, ...]]]]:
    """{stage: {layer: {rest of the name: shape}}}."""
    stages: dict = {}
    for name, value in state_dict.items():
        found = _LAYER.fullmatch(name)
        if found:
            stage, layer, rest = int(found[1]), int(found[2]), found[3]
            stages.setdefault(stage, {}).setdefault(layer, {})[rest] = tuple(np.shape(value))
    if not stages or sorted(stages) != list(range(len(stages))):
        raise UserError('its state dict has no R3GAN stages (Model.MainLayers.N.Layers.M...)')
    return stages


def _blocks(layers: dict[int, dict[str, tuple]]) -> list[dict[str, tuple]]:
    return [layer for _, layer in sorted(layers.items()) if 'LinearLayer1.Layer.weight' in layer]


def _stage_shape(blocks: list[dict[str, tuple]], stage: int) -> tuple[int, int, int, int]:
    """(width, cardinality, expansion, kernel) of a stage, from its first residual block."""
    if not blocks:
        raise UserError(f'its stage {stage} has no residual block (jaxgan\'s R3GAN needs at least one per stage)')
    first, second = blocks[0]['LinearLayer1.Layer.weight'], blocks[0]['LinearLayer2.Layer.weight']
    expanded, width, kernel = first[0], first[1], second[-1]
    return width, expanded // second[1], expanded // width, kernel


def _shared(stage_shapes: list[tuple], blocks: list[int]) -> dict[str, Any]:
    """The fields G and D share, from stages in G's order."""
    expansions, kernels = {s[2] for s in stage_shapes}, {s[3] for s in stage_shapes}
    if len(expansions) != 1 or len(kernels) != 1:
        raise UserError(f'its stages have expansion factors {sorted(expansions)} and kernel sizes {sorted(kernels)}; '
                        'R3GAN\'s networks have one of each')
    return {'model.name': 'r3gan', 'image_size': 4 * 2 ** (len(stage_shapes) - 1),
            'r3gan.widths': tuple(int(s[0]) for s in stage_shapes),
            'r3gan.cardinalities': tuple(int(s[1]) for s in stage_shapes),
            'r3gan.blocks': tuple(int(b) for b in blocks),
            'r3gan.expansion': int(expansions.pop()), 'r3gan.kernel_size': int(kernels.pop())}


def generator_config(kwargs: dict, state_dict: official.StateDict) -> dict[str, Any]:
    """The config fields of an official R3GAN Generator (see the module's docstring)."""
    stages = _stages(state_dict)
    blocks = [_blocks(stages[i]) for i in range(len(stages))]
    fields = _shared([_stage_shape(b, i) for i, b in enumerate(blocks)], [len(b) for b in blocks])
    embedding = state_dict.get('Model.EmbeddingLayer.weight', state_dict.get('EmbeddingLayer.weight'))
    aggregation = state_dict.get('Model.AggregationLayer.Layer.weight', state_dict.get('AggregationLayer.Layer.weight'))
    if aggregation is None:
        raise UserError('its G has no AggregationLayer')
    embedded, classes = (0, 0) if embedding is None else np.shape(embedding)
    z_dim = stages[0][0]['LinearLayer.weight'][1] - embedded
    fields.update({'model.z_dim': int(z_dim), 'channels': int(np.shape(aggregation)[0]), 'classes': int(classes),
                   'conditioning.g': 'embedding' if classes else 'none'})
    if classes:
        fields['r3gan.g_embedding'] = int(embedded)
    return fields


def discriminator_config(kwargs: dict, state_dict: official.StateDict) -> dict[str, Any]:
    """The config fields of an official R3GAN Discriminator (see the module's docstring)."""
    stages = _stages(state_dict)
    blocks = [_blocks(stages[i]) for i in range(len(stages))][::-1]  # G's order
    fields = _shared([_stage_shape(b, i) for i, b in enumerate(blocks)], [len(b) for b in blocks])
    extraction = state_dict.get('Model.ExtractionLayer.Layer.weight', state_dict.get('ExtractionLayer.Layer.weight'))
    if extraction is None:
        raise UserError('its D has no ExtractionLayer')
    embedding = state_dict.get('Model.EmbeddingLayer.weight', state_dict.get('EmbeddingLayer.weight'))
    embedded, classes = (0, 0) if embedding is None else np.shape(embedding)
    fields.update({'channels': int(np.shape(extraction)[1]), 'classes': int(classes),
                   'conditioning.d': 'projection' if classes else 'none'})
    if classes:
        fields['r3gan.d_embedding'] = int(embedded)
    return fields


def variables(state_dict: official.StateDict, role: str) -> tuple[dict, dict]:
    """(params, model state) of jaxgan's R3GAN `role` from the official state dict (no model state)."""
    try:
        return r3gan.from_official(state_dict, role), {}
    except ValueError as e:
        raise UserError(f'official {role}: {e}') from None


official.register(official.Port('R3GAN.Networks', 'Generator', 'G', 'r3gan', generator_config, variables))
official.register(official.Port('R3GAN.Networks', 'Discriminator', 'D', 'r3gan', discriminator_config, variables))
