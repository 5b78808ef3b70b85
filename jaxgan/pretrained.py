"""Official network pickles as a jaxgan config and state: what `--config.init_from=pkl:PATH`,
`jaxgan.load('PATH.pkl')` and `jaxgan.sample --from=PATH.pkl` use.

    official = read('ffhq.pkl')          # the pickle (jaxgan.network_pickle), its ports and config fields
    config, spec = official.config()     # a jaxgan config and data spec that build the same networks
    state = official.state(gan, fresh)   # `fresh` (a RunState of that gan) with the official networks in it

The official G becomes params['G'], G_ema ema['G'] (and its buffers, w_avg and noise_const, model_state['G']:
training copies G's buffers into G_ema's, so they are the same), D params['D']. Each network's class is
looked up in jaxgan.models.official's registry (looking through R3GAN's `Model` wrapper); every array of
the port's result must be one of jaxgan's networks', of its shape, and every one of theirs must be filled.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections

from jaxgan import config as config_lib
from jaxgan.checks import lookup
from jaxgan import network_pickle
from jaxgan.checkpoint import layout_of
from jaxgan.core.state import RunState, init_state
from jaxgan.data.spec import DataSpec
from jaxgan.errors import UserError
from jaxgan.models import official

PREFIX = 'pkl:'  # config.init_from=pkl:PATH
DATA_FIELDS = ('channels', 'classes')  # what a port's config says of the data, not of the config


def is_pickle(text: str) -> bool:
    """Whether config.init_from names a network pickle (pkl:PATH)."""
    return text.startswith(PREFIX)


def network_class(record: network_pickle.Module) -> tuple[str, str]:
    """The (module, name) a network's port is registered under: its own class, or for R3GAN's
    training.networks wrapper (no arrays of its own, one submodule `Model`) the class of its Model."""
    inner = record.modules.get('Model')
    if isinstance(inner, network_pickle.Module) and set(record.modules) == {'Model'} and not record.parameters:
        return inner.key
    return record.key


def _kwargs(record: network_pickle.Module) -> dict:
    """How the network was built: its init_kwargs (persistent classes keep them), else its attributes."""
    return dict(record.init_kwargs) if record.init_kwargs else dict(record.attributes)


@dataclasses.dataclass(frozen=True)
class Official:
    """A read network pickle with the ports of its G and D and the jaxgan config fields they need."""

    pickle: network_pickle.NetworkPickle
    ports: dict[str, official.Port]
    fields: dict[str, Any]

    @property
    def path(self) -> str:
        return self.pickle.path

    def config(self, base: ml_collections.ConfigDict | None = None) -> tuple[ml_collections.ConfigDict, DataSpec]:
        """`base` (the default config) with the fields set, and the spec of images the networks make."""
        config = config_lib.base_config() if base is None else ml_collections.ConfigDict(base.to_dict())
        for field, value in self.fields.items():
            if field not in DATA_FIELDS:
                _set(config, field, value)
        size, channels = self.fields['image_size'], self.fields['channels']
        spec = DataSpec('image', (size, size, channels), 0, f'{PREFIX}{os.path.basename(self.path)}',
                        num_classes=self.fields['classes'])
        return config, spec

    def mismatches(self, config: ml_collections.ConfigDict, spec: DataSpec) -> list[tuple[str, Any, Any]]:
        """(field, the config's value, the pickle's) where they differ; the data's channels and classes
        as data.channels and classes."""
        out = []
        for field, want in self.fields.items():
            if field == 'channels':
                have, field = spec.shape[-1], 'data.channels'
            elif field == 'classes':
                if not want:
                    continue  # unconditional networks: labels, if any, unused
                have = spec.num_classes
            else:
                have = lookup(config, field)
            if have != want:
                out.append((field, have, want))
        return out

    def networks(self, gan: Any) -> dict[str, dict]:
        """`arrays` as JAX arrays."""
        return jax.tree.map(jnp.asarray, self.arrays(gan))

    def arrays(self, gan: Any) -> dict[str, dict]:
        """{'params': {'G', 'D'}, 'model_state': {'G', 'D'}, 'ema': {'G'}} from the pickle (float32 numpy),
        converted by the ports and checked against the layout of `gan`'s state (a one-line UserError naming
        what differs)."""
        pkl = self.pickle
        g_params, _ = self._variables('G', pkl.G)
        ema_params, g_state = self._variables('G', pkl.G_ema)
        d_params, d_state = self._variables('D', pkl.D)
        moved = dict(params={'G': g_params, 'D': d_params}, model_state={'G': g_state, 'D': d_state},
                     ema={'G': ema_params})
        expected = jax.eval_shape(lambda: init_state(gan.game, 0))
        for part in moved:
            diffs = _diff(layout_of(moved[part]), layout_of(getattr(expected, part)))
            if diffs:
                raise UserError(f'{self.path}: its networks do not fit jaxgan\'s {self.fields["model.name"]} of '
                                f'this config ({part}: {"; ".join(diffs)})')
        return moved

    def state(self, gan: Any, fresh: RunState) -> RunState:
        """`fresh`, one GAN's state, with the pickle's networks (`networks`) in place of its own."""
        return fresh.replace(**self.networks(gan))

    def _variables(self, role: str, record: network_pickle.Module) -> tuple[dict, dict]:
        try:
            return self.ports[role].variables(record.state_dict(), role)
        except UserError as e:
            raise UserError(f'{self.path}: {e}') from None
        except network_pickle.DAMAGED as e:  # arrays of a damaged file that the port cannot map
            raise UserError(f'{self.path}: its {role} is damaged ({type(e).__name__}: {e})') from None


def _set(config: ml_collections.ConfigDict, field: str, value: Any) -> None:
    *parents, last = field.split('.')
    node = config
    for key in parents:
        node = node[key]
    node[last] = value


def _diff(got: dict[str, tuple], want: dict[str, tuple], limit: int = 3) -> list[str]:
    """Where the ported arrays differ from jaxgan's: shape, missing, extra (dtypes are cast)."""
    diffs = [f'{n}: {got[n][0]} in the pickle, {want[n][0]} in jaxgan' for n in sorted(got.keys() & want.keys())
             if got[n][0] != want[n][0]]
    diffs += [f'{n}: not in the pickle' for n in sorted(want.keys() - got.keys())]
    diffs += [f'{n}: not in jaxgan\'s networks' for n in sorted(got.keys() - want.keys())]
    return diffs[:limit] + ([f'{len(diffs) - limit} more'] if len(diffs) > limit else [])


def read(path: str) -> Official:
    """The pickle at `path` with the ports of its G (G_ema's class) and D, and their config fields
    (a one-line UserError where a class has no port, or G and D disagree on a field they share)."""
    return ported(network_pickle.read(path))


def ported(pkl: network_pickle.NetworkPickle) -> Official:
    """`read`'s work on a pickle already read."""
    path = pkl.path
    ports, fields = {}, {}
    for role, record in (('G', pkl.G_ema), ('D', pkl.D)):
        port = ports[role] = official.find(*network_class(record), role, path)
        try:
            got = port.config(_kwargs(record), record.state_dict())
        except UserError as e:
            raise UserError(f'{path}: its {role}: {e}') from None
        except network_pickle.DAMAGED as e:  # sizes read off a damaged state dict (IndexError, ZeroDivisionError...)
            raise UserError(f'{path}: its {role} is damaged ({type(e).__name__}: {e})') from None
        for field, value in got.items():
            if field in fields and fields[field] != value:
                raise UserError(f'{path}: its G and D differ in {field} ({fields[field]!r} and {value!r}), which '
                                f'jaxgan\'s {port.architecture} shares between them')
        fields.update(got)
    if network_class(pkl.G) != network_class(pkl.G_ema):
        raise UserError(f'{path}: its G is a {".".join(network_class(pkl.G))}, its G_ema a '
                        f'{".".join(network_class(pkl.G_ema))}')
    return Official(pkl, ports, fields)


def check(config: ml_collections.ConfigDict, spec: DataSpec, official_: Official, where: str) -> None:
    """Refuses a config whose architecture fields differ from the pickle's, in one line naming each field
    with both values and the flags that match them."""
    diffs = official_.mismatches(config, spec)
    if diffs:
        named = ', '.join(f'{f} ({have!r} here, {want!r} in the pickle)' for f, have, want in diffs)
        flags = ' '.join(f'--config.{f}={_flag(v)}' for f, _, v in diffs if f != 'classes')
        raise UserError(f'{where}: the config differs from the pickle\'s networks in {named}'
                        + (f'; set {flags}' if flags else ''))


def _flag(value: Any) -> str:
    """A value as a shell word that --config.FIELD= parses back: tuples without spaces, quoted."""
    if isinstance(value, (tuple, list)):
        return shlex.quote('(' + ','.join(map(_flag, value)) + (',)' if len(value) == 1 else ')'))
    return str(value) if not isinstance(value, float) or value != int(value) else str(int(value))
