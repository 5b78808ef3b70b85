"""Official network pickles read without running them: StyleGAN2-ADA's and StyleGAN3's `.pkl` files.

    pkl = read('ffhq.pkl')         # NetworkPickle: G, D, G_ema (Module records), augment_pipe, training_set_kwargs
    pkl.G_ema.init_kwargs          # {'z_dim': 512, 'w_dim': 512, 'mapping_kwargs': {...}, ...}
    pkl.G_ema.state_dict()         # {'mapping.fc0.weight': array [512, 512], ..., 'mapping.w_avg': array [512]}

The format (NVlabs/stylegan2-ada-pytorch, training/training_loop.py and torch_utils/persistence.py; the same in
stylegan3): `pickle.dump(dict(training_set_kwargs=..., G=..., D=..., G_ema=..., augment_pipe=...))`, each network
a persistent class pickled as `torch_utils.persistence._reconstruct_persistent_obj(meta)`, meta = dict(type=
'class', version, module_src=the source of its whole module, class_name, state=its __dict__: training,
_parameters, _buffers, _modules, _init_args, _init_kwargs, ...). The official loader `exec`s module_src:
loading such a pickle runs whatever source it carries. Here nothing of the file runs. The unpickler resolves
only the globals a network pickle holds, each to a function of this module that builds plain records:

    torch_utils.persistence._reconstruct_persistent_obj   a `Module` record (module_src is never run: it
                                                          only tells which official module the class is of)
    torch.storage._load_from_bytes                        a tensor's data: a nested legacy torch.save archive,
                                                          read by jaxgan.metrics.pth
    torch._utils._rebuild_tensor(_v2), _rebuild_parameter(_with_state)   numpy arrays
    collections.OrderedDict, builtins.set/frozenset, dnnlib.util.EasyDict   dicts and sets
    numpy's scalar and dtype                              numpy scalars (e.g. an activation's gain)
    torch.float32, torch.bfloat16, ...                    their names (a layer's DataType)
    copyreg._reconstructor and the classes of PLAIN_CLASSES   records of modules pickled without
                                                          persistence (R3GAN's training.networks wrappers)

Any other global (os.system, builtins.eval, a class of the file's choosing...) is refused in one line that
names it, before anything of the file is used; so is a truncated or damaged file, and TensorFlow's pickles
of the original StyleGAN2 (convert them with the official legacy.py first). What a crafted file can make is
bounded by its size: the arrays made (tensors' data decoded, tensors copied) are charged to budgets of the
file's size plus pth.MARGIN; the records are walked once, each object once, and an object that holds itself,
nesting past MAX_DEPTH, a network's submodule reached twice or a BUILD of a record are refused as damaged.
Mapping the records onto jaxgan's networks is jaxgan.models.official's registry (`port`).
"""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
from typing import Any

import numpy as np

from jaxgan.errors import UserError
from jaxgan.metrics import pth

# Classes pickled by name (without torch_utils.persistence) that a network pickle may hold: R3GAN's
# training.networks wrappers and the modules inside them. Each becomes a `Module` record, never the class.
PLAIN_CLASSES = ('training.networks.', 'R3GAN.', 'torch.nn.modules.container.', 'torch.nn.modules.linear.',
                 'torch.nn.modules.conv.', 'torch.nn.modules.activation.')
TORCH_DTYPES = ('float32', 'float16', 'bfloat16', 'float64')  # torch.bfloat16 &c. as attributes: their names

# Which official module a persistent class's source is, from what its source defines (the meta names
# only the class). The first whose markers all occur in the source wins.
SOURCES = (
    ('training.networks_stylegan3', ('class SynthesisInput(',)),
    ('training.networks_stylegan2', ('def modulated_conv2d(', 'class SynthesisBlock(', 'update_emas')),
    ('training.networks', ('def modulated_conv2d(', 'class SynthesisBlock(')),  # stylegan2-ada-pytorch
    ('training.augment', ('class AugmentPipe(',)),
)
NETWORKS = ('G', 'D', 'G_ema')
SCALAR_DTYPES = frozenset('?bBhHiIlLqQefdgFD')  # numpy scalars of these kinds only (no objects)
DAMAGED = pth.DAMAGED  # what reading, porting or mapping a damaged file's records may raise
MAX_DEPTH = 64  # nesting of records and values; official networks nest a few levels (module, block, layer)


@dataclasses.dataclass
class Module:
    """A torch.nn.Module of the pickle, as data: its class (module, name), how it was built, and its state."""

    module: str
    name: str
    init_args: tuple = ()
    init_kwargs: dict = dataclasses.field(default_factory=dict)
    parameters: dict = dataclasses.field(default_factory=dict)
    buffers: dict = dataclasses.field(default_factory=dict)
    modules: dict = dataclasses.field(default_factory=dict)
    non_persistent: frozenset = frozenset()
    attributes: dict = dataclasses.field(default_factory=dict)  # the other plain values of its __dict__

    @property
    def key(self) -> tuple[str, str]:
        return self.module, self.name

    def __setstate__(self, state: Any) -> None:
        # A record is built from a module's state by the reader alone: a pickle's BUILD of one is refused.
        raise pickle.UnpicklingError(f'the pickle sets the state of {self.module}.{self.name} a second time')

    def __repr__(self) -> str:
        return f'<{self.module}.{self.name}: {len(self.state_dict())} arrays>'

    def state_dict(self, prefix: str = '') -> dict[str, np.ndarray]:
        """{name: array} as torch's state_dict(): parameters, persistent buffers, then the submodules'."""
        out = {prefix + k: v for k, v in self.parameters.items() if v is not None}
        out.update({prefix + k: v for k, v in self.buffers.items() if v is not None and k not in self.non_persistent})
        for name, sub in self.modules.items():
            if isinstance(sub, Module):
                out.update(sub.state_dict(f'{prefix}{name}.'))
        return out


@dataclasses.dataclass(frozen=True)
class NetworkPickle:
    """What an official snapshot holds: the networks as records, the augmentation pipe, the data's kwargs."""

    path: str
    G: Module
    D: Module
    G_ema: Module
    augment_pipe: Module | None
    training_set_kwargs: dict | None


class _Refused(Exception):
    pass


class _EasyDict(dict):
    """dnnlib.util.EasyDict's data: a dict (NEWOBJ needs a class; this one runs nothing of the file)."""

    def __setstate__(self, state: Any) -> None:
        if state:
            raise pickle.UnpicklingError('an EasyDict with attributes')


class _Plain:
    """An instance of a class of PLAIN_CLASSES, as pickled: its __dict__ kept as data."""

    pickled_module = pickled_name = ''

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (__dict__, slots)
            state = state[0]
        if not isinstance(state, dict):
            raise pickle.UnpicklingError(f'the state of {self.pickled_module}.{self.pickled_name} is a '
                                         f'{type(state).__name__}')
        self.__dict__['state'] = dict(state)


class _DType:
    """numpy.dtype(name, align, copy) with the byte order its BUILD state gives."""

    def __init__(self, name: str):
        self.name, self.order = name, '='

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ('<', '>', '|', '='):
            self.order = state[1]

    def dtype(self) -> np.dtype:
        kind = np.dtype(self.name)
        if kind.char not in SCALAR_DTYPES:
            raise pickle.UnpicklingError(f'a numpy scalar of type {self.name}')
        return kind.newbyteorder(self.order) if self.order in '<>' else kind


class _Unpickler(pth.BaseUnpickler):
    """Resolves only what a network pickle holds (the module docstring's list), each to data. The arrays it
    makes are charged to budgets of the file's size (pth.Budget): tensors' data decoded, tensors copied."""

    tensor_type = np.ndarray

    def __init__(self, file, path: str, size: int):
        super().__init__(file)
        self._path = path
        self._plain: dict[tuple[str, str], type] = {}
        self._storages, self._tensors = pth.Budget(size, path), pth.Budget(size, path)

    def find_class(self, module: str, name: str) -> Any:
        found = {
            ('torch_utils.persistence', '_reconstruct_persistent_obj'): self._persistent,
            ('torch.storage', '_load_from_bytes'): self._storage,
            ('torch._utils', '_rebuild_tensor'): self._tensor,
            ('torch._utils', '_rebuild_tensor_v2'): self._tensor,
            ('torch._utils', '_rebuild_parameter'): self._parameter,
            ('torch._utils', '_rebuild_parameter_with_state'): self._parameter,
            ('collections', 'OrderedDict'): self._ordered_dict,
            ('builtins', 'set'): self._set,
            ('builtins', 'frozenset'): self._set,
            ('copyreg', '_reconstructor'): self._reconstructor,
            ('dnnlib.util', 'EasyDict'): _EasyDict,
            ('dnnlib', 'EasyDict'): _EasyDict,
            ('numpy', 'dtype'): self._dtype,
            ('numpy.core.multiarray', 'scalar'): self._scalar,
            ('numpy._core.multiarray', 'scalar'): self._scalar,
        }.get((module, name))
        if found is not None:
            return found
        if module == 'torch' and name in TORCH_DTYPES:
            return f'torch.{name}'
        if module == 'dnnlib.tflib.network' and name == 'Network':
            raise UserError(f'{self._path} is a TensorFlow pickle of the original StyleGAN2 (dnnlib.tflib): '
                            'convert it with the official legacy.py (stylegan2-ada-pytorch) first')
        if module.startswith(PLAIN_CLASSES) or f'{module}.'.startswith(PLAIN_CLASSES):
            if (module, name) not in self._plain:
                self._plain[module, name] = type(name, (_Plain,), {'pickled_module': module, 'pickled_name': name})
            return self._plain[module, name]
        raise _Refused(f'{module}.{name}')

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError(f'unexpected persistent id {pid!r}')

    def _persistent(self, meta: Any) -> Module:
        """torch_utils/persistence.py, _reconstruct_persistent_obj, without _src_to_module's exec."""
        if not isinstance(meta, dict) or meta.get('type') != 'class' or not isinstance(meta.get('state'), dict):
            raise pickle.UnpicklingError('a persistent object that is not a class instance with its state')
        source, name = meta.get('module_src'), meta.get('class_name')
        if not isinstance(source, str) or not isinstance(name, str):
            raise pickle.UnpicklingError('a persistent object without its source or class name')
        module = next((m for m, marks in SOURCES if all(k in source for k in marks)), 'unknown module')
        return _record(module, name, meta['state'])

    def _storage(self, data: Any) -> np.ndarray:
        if not isinstance(data, (bytes, bytearray)):
            raise pickle.UnpicklingError(f'tensor data of type {type(data).__name__}')
        return pth.read_storage(data, f'{self._path} (a tensor\'s data)', self._storages)

    def _tensor(self, storage: Any, offset: Any, size: Any, stride: Any, *rest: Any) -> np.ndarray:
        if not isinstance(storage, np.ndarray):
            raise pickle.UnpicklingError(f'a tensor whose storage is a {type(storage).__name__}')
        return pth.tensor(storage, offset, tuple(size), tuple(stride), self._path, self._tensors)

    def _set(self, items: Any = ()) -> set:
        return set(items)

    def _reconstructor(self, cls: Any, base: Any, state: Any) -> Any:
        if not (isinstance(cls, type) and issubclass(cls, (_Plain, _EasyDict)) and base in (object, dict)):
            raise pickle.UnpicklingError(f'copyreg._reconstructor of {cls!r}')
        return cls.__new__(cls)

    def _dtype(self, name: Any, *rest: Any) -> _DType:
        if not isinstance(name, str):
            raise pickle.UnpicklingError(f'a numpy dtype named {name!r}')
        return _DType(name)

    def _scalar(self, dtype: Any, data: Any = b'') -> Any:
        if not isinstance(dtype, _DType) or not isinstance(data, bytes):
            raise pickle.UnpicklingError('a numpy scalar of an unexpected form')
        kind = dtype.dtype()
        if len(data) != kind.itemsize:
            raise pickle.UnpicklingError(f'a numpy {kind} scalar of {len(data)} bytes')
        return np.frombuffer(data, kind)[0].astype(kind.newbyteorder('=')).item()


# The __dict__ entries of torch.nn.Module that are hooks and flags, not state.
_MODULE_INTERNALS = ('_parameters', '_buffers', '_modules', '_non_persistent_buffers_set', '_init_args',
                     '_init_kwargs')


def _record(module: str, name: str, state: dict) -> Module:
    """A Module record of a module's __dict__."""
    def mapping(key: str) -> dict:
        value = state.get(key) or {}
        if not isinstance(value, dict):
            raise pickle.UnpicklingError(f'{module}.{name}: its {key} is a {type(value).__name__}')
        return dict(value)

    for key in ('_parameters', '_buffers'):
        for k, v in mapping(key).items():
            if not (v is None or isinstance(v, np.ndarray) and not v.dtype.hasobject):  # BUILD can make objects
                raise pickle.UnpicklingError(f'{module}.{name}: {key[1:-1]} {k!r} is a {type(v).__name__}')
    attributes = {k: v for k, v in state.items() if k not in _MODULE_INTERNALS and not k.endswith('_hooks')
                  and not k.startswith('_')}
    return Module(module, name, tuple(state.get('_init_args') or ()), dict(state.get('_init_kwargs') or {}),
                  mapping('_parameters'), mapping('_buffers'), mapping('_modules'),
                  frozenset(state.get('_non_persistent_buffers_set') or ()), attributes)


class _Records:
    """Turns what the unpickler made into records: every _Plain instance into a Module record (R3GAN's
    modules), each object once. Values reached twice (a DAG) are memoised, so the walk is linear; an
    object that holds itself, or nesting past MAX_DEPTH, is refused (pickle.UnpicklingError)."""

    def __init__(self):
        self.done: dict[int, Any] = {}
        self.active: set[int] = set()

    def __call__(self, obj: Any, depth: int = 0) -> Any:
        if not isinstance(obj, (_Plain, Module, dict, list, tuple)):
            return obj
        if id(obj) in self.done:
            return self.done[id(obj)]
        if id(obj) in self.active:
            raise pickle.UnpicklingError(f'a {type(obj).__name__} that holds itself')
        if depth > MAX_DEPTH:
            raise pickle.UnpicklingError(f'values nested deeper than {MAX_DEPTH} levels')
        self.active.add(id(obj))
        self.done[id(obj)] = out = self._convert(obj, depth + 1)
        self.active.discard(id(obj))
        return out

    def _convert(self, obj: Any, depth: int) -> Any:
        if isinstance(obj, (_Plain, Module)):
            record = obj if isinstance(obj, Module) else _record(obj.pickled_module, obj.pickled_name,
                                                                  obj.__dict__.get('state', {}))
            record.modules = {k: self(v, depth) for k, v in record.modules.items()}
            record.init_kwargs = self(record.init_kwargs, depth)
            record.attributes = self(record.attributes, depth)
            return record
        if isinstance(obj, dict):
            return {k: self(v, depth) for k, v in obj.items()}
        return type(obj)(self(v, depth) for v in obj)


def _check_tree(network: Module, role: str) -> None:
    """Refuses a network whose submodules are no tree (one reached twice): state_dict() would walk it twice,
    and a chain of them doubling is exponential."""
    seen, stack = set(), [network]
    while stack:
        module = stack.pop()
        if id(module) in seen:
            raise pickle.UnpicklingError(f'its {role} holds the submodule {module.module}.{module.name} twice')
        seen.add(id(module))
        stack.extend(v for v in module.modules.values() if isinstance(v, Module))


def _networks(obj: Any, path: str) -> NetworkPickle:
    """The NetworkPickle of what the unpickler made."""
    obj = _Records()(obj)
    if not isinstance(obj, dict) or not all(isinstance(obj.get(k), Module) for k in NETWORKS):
        what = sorted(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
        raise UserError(f'{path} is not a network pickle: it holds {what}, not a dict with the networks '
                        f'{", ".join(NETWORKS)}')
    for role in NETWORKS:
        _check_tree(obj[role], role)
    augment = obj.get('augment_pipe')
    kwargs = obj.get('training_set_kwargs')
    return NetworkPickle(path, obj['G'], obj['D'], obj['G_ema'], augment if isinstance(augment, Module) else None,
                         dict(kwargs) if isinstance(kwargs, dict) else None)


def read(path: str) -> NetworkPickle:
    """The official network pickle at `path`, as records; every problem a one-line UserError naming it."""
    path = os.fspath(path)
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except FileNotFoundError:
        raise UserError(f'{path} does not exist') from None
    except IsADirectoryError:
        raise UserError(f'{path} is a directory, not a network pickle') from None
    except PermissionError:
        raise UserError(f'{path} cannot be read: permission denied') from None
    if data[:4] == b'PK\x03\x04':
        raise UserError(f'{path} is a torch.save archive, not a network pickle (pickle.dump of the official '
                        'training loop\'s snapshot)')
    try:
        return _networks(_Unpickler(io.BytesIO(data), path, len(data)).load(), path)
    except _Refused as e:
        raise UserError(f'{path}: refused to load {e}: a network pickle holds networks, tensors and plain values, '
                        'and this name could run code (nothing of the file was run)') from None
    except UserError:
        raise
    except pth.DAMAGED as e:
        raise UserError(f'{path} is truncated or damaged, or not a network pickle ({type(e).__name__}: {e})') from None
