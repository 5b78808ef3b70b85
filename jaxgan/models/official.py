"""Ports of official networks onto jaxgan's, keyed by the pickled class (module, name).

A `Port` says, for one official network class, what jaxgan config describes it (`config`, from the
network's init_kwargs) and how its state dict (torch's names, numpy arrays) becomes jaxgan's variables
(`variables`: params and the model state). jaxgan.network_pickle reads the pickles; this registry is
what maps them, so the loop, the tools and transfer meet every official format through `find`.

Registered (each by the architecture's own port module, imported by jaxgan.models):

    training.networks.Generator / .Discriminator            StyleGAN2-ADA (NVlabs/stylegan2-ada-pytorch)
    training.networks_stylegan2.Generator / .Discriminator  the same networks as stylegan3 pickles them
                                                            (models.stylegan2_official)

    R3GAN.Networks.Generator / .Discriminator               R3GAN (brownvc/R3GAN), inside its
                                                            training.networks wrappers, which
                                                            jaxgan.pretrained.network_class looks
                                                            through (models.r3gan_official)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from jaxgan.errors import UserError

StateDict = dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Port:
    """One official network class's port.

    role: 'G' or 'D'. architecture: config.model.name of the jaxgan networks it maps onto.
    config(kwargs, state_dict) -> {config field, dotted: value} that jaxgan's networks need to have its
      shapes and outputs (a one-line UserError for kwargs jaxgan's networks cannot reproduce); kwargs are
      the network's init_kwargs (persistent classes keep them) or else its plain attributes (R3GAN's
      wrapper: z_dim, c_dim, img_resolution), so a port may read sizes off the state dict's shapes.
      Beside config fields it gives 'channels' and 'classes', the data's.
    variables(state_dict, role) -> (params, model_state) of jaxgan's network (a UserError for a name it
      cannot place)."""

    module: str
    name: str
    role: str
    architecture: str
    config: Callable[[dict, StateDict], dict[str, Any]]
    variables: Callable[[StateDict, str], tuple[dict, dict]]

    @property
    def key(self) -> tuple[str, str]:
        return self.module, self.name


_PORTS: dict[tuple[str, str], Port] = {}


def register(port: Port) -> Port:
    _PORTS[port.key] = port
    return port


def ports() -> tuple[Port, ...]:
    return tuple(_PORTS.values())


def find(module: str, name: str, role: str, where: str) -> Port:
    """The port of the class module.name as network `role`; a one-line UserError naming the class, and
    the classes that have ports, where there is none."""
    port = _PORTS.get((module, name))
    if port is None or port.role != role:
        known = ', '.join(sorted(f'{p.module}.{p.name}' for p in _PORTS.values() if p.role == role))
        raise UserError(f'{where}: its {role} is a {module}.{name}, which jaxgan has no port of (it maps {known})')
    return port


def put(tree: dict, path: tuple[str, ...], value: Any, name: str) -> None:
    """tree[path[0]][path[1]]... = value, refusing a second value for one place."""
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    if path[-1] in tree:
        raise UserError(f'{name}: two arrays for {"/".join(path)}')
    tree[path[-1]] = value
