"""What a dataset's examples look like, and the map between the data's units and the model's."""

from __future__ import annotations

import dataclasses
import json

import jax.numpy as jnp
import numpy as np

from jaxgan.data import fingerprint as fingerprints


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """The examples a pipeline yields, as the model sees them.

    kind: 'image' (uint8 [H, W, C] in [0, 255], scaled to [-1, 1] on the device), 'vector'
      (float32 [D], standardised on the host with `mean` and `std`) or 'table' (float32 rows [D] in
      CTGAN's encoding; `table` holds the fitted transform as JSON, jaxgan.data.tables.TableTransform).
    fingerprint: what the data are made of (`jaxgan.data.fingerprint`), so that a resumed run can tell
      data that changed since its checkpoint (`changed_source`); '' in specs saved before it existed.
    """

    kind: str
    shape: tuple[int, ...]
    num_examples: int
    source: str
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    num_classes: int = 0  # where the data have labels
    class_names: tuple[str, ...] = ()
    table: str = ''  # a table's fitted transform, JSON (TableTransform.to_json)
    fingerprint: str = ''  # the source's content (jaxgan.data.fingerprint)

    @property
    def host_dtype(self) -> np.dtype:
        return np.dtype(np.uint8) if self.kind == 'image' else np.dtype(np.float32)

    def model_input(self, x):
        """Device side: a host batch to the model's input range ([-1, 1] for images)."""
        if self.kind == 'image':
            return x.astype(jnp.float32) / 127.5 - 1.0
        return x.astype(jnp.float32)

    def to_data_units(self, x: np.ndarray) -> np.ndarray:
        """Host side: model outputs back to the data's own range and units."""
        x = np.asarray(x, np.float32)
        if self.kind == 'image':
            return np.clip(np.round((x + 1.0) * 127.5), 0, 255).astype(np.uint8)
        return x * np.asarray(self.std, np.float32) + np.asarray(self.mean, np.float32)

    def to_json(self) -> dict:
        """The fields as JSON values; `table` and `fingerprint` only where they are set."""
        d = dataclasses.asdict(self)
        for key in ('table', 'fingerprint'):
            if not d[key]:
                del d[key]
        return d

    @classmethod
    def from_json(cls, d: dict) -> 'DataSpec':
        """A spec from `to_json`'s fields; those a spec of an older release lacks take their defaults."""
        d = dict(d)
        for key in ('shape', 'mean', 'std', 'class_names'):
            d[key] = tuple(d.get(key, ()))
        return cls(**d)

    def __str__(self) -> str:
        """The spec as JSON for a log line, with long lists summarised: '1000 classes: 000, 001, ..., 999'
        for the class names, and the first and last of a long mean and std (to_json() has them all)."""
        shown = {key: _summary(key, value) for key, value in self.to_json().items()}
        if self.table:
            shown['table'] = f'{len(self.table)} characters of JSON: the fitted transform'
        if self.fingerprint:
            shown['fingerprint'] = fingerprints.describe(self.fingerprint)
        return json.dumps(shown)


def changed_source(saved: dict, spec: DataSpec) -> str | None:
    """One line saying how the data of `spec` differ from those of the spec `saved` (a checkpoint's
    meta['data'], `to_json`'s dict); None where they are the same, or where either spec has no
    fingerprint (saved by a release before fingerprints)."""
    before = saved.get('fingerprint', '')
    if not before or not spec.fingerprint or before == spec.fingerprint:
        return None
    return (f'{spec.source}: the data changed since the checkpoint was written '
            f'(then {fingerprints.describe(before)}; now {fingerprints.describe(spec.fingerprint)})')


SUMMARY_ITEMS = 16  # lists longer than this are summarised in str(spec)


def _summary(key: str, value):
    if not isinstance(value, (list, tuple)) or len(value) <= SUMMARY_ITEMS:
        return value
    noun = 'classes' if key == 'class_names' else 'values'
    return f'{len(value)} {noun}: ' + ', '.join(map(str, [*value[:2], '...', value[-1]]))
