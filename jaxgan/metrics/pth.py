"""PyTorch's `.pth` files read without PyTorch: a state dict of tensors as {name: numpy array}.

    read_state_dict('pt_inception-2015-12-05-6726825d.pth')  # {'Conv2d_1a_3x3.conv.weight': array, ...}

The formats, from PyTorch's `torch/serialization.py` (`_load`, `_legacy_load`) and `torch/_utils.py`:

zip, torch.save's format since PyTorch 1.6: a zip archive whose members share one folder, NAME/:
    NAME/data.pkl       the saved object as a pickle
    NAME/data/KEY       the bytes of storage KEY, in the byte order of NAME/byteorder (little where absent)
  A storage is a pickle persistent id ('storage', StorageType, KEY, location, numel).

legacy, before PyTorch 1.6 (and torch.save(..., _use_new_zipfile_serialization=False)): pickles one after
another in one file: the magic number 0x1950a86a20f9469cfc6c, the protocol version 1001, a dict of
system information, the saved object, then the list of storage keys in the order their data follow; the
data of each storage is its element count (int64) then its elements, both little-endian. A storage is a
persistent id ('storage', StorageType, KEY, location, numel, view), view None or (VIEW_KEY, offset, numel).
The older tar format (PyTorch before 0.4) is refused with a message.

In both, a tensor is `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
hooks[, metadata])` (offset and stride in elements), a parameter `torch._utils._rebuild_parameter(tensor,
requires_grad, hooks)`, and a state dict a `collections.OrderedDict`. Those names and the storage types
`torch.FloatStorage` and kin are the only globals the unpickler resolves, each to a function of this
module that builds no PyTorch object: a `.pth` is a pickle, and resolving any other name could run code
(`os.system` included), so any other is refused with a one-line error. Nothing of the file is executed.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import math
import os
import pickle
import struct
import zipfile
import zlib
from typing import Any, Callable

import numpy as np

from jaxgan.errors import UserError

LEGACY_MAGIC = 0x1950a86a20f9469cfc6c  # torch/serialization.py: MAGIC_NUMBER
LEGACY_PROTOCOL = 1001  # torch/serialization.py: PROTOCOL_VERSION

# torch/_utils.py, _get_dtype_from_pickle_storage_type: the storage type a pickle names, as a numpy dtype
# (little-endian; bfloat16 from ml_dtypes, which JAX depends on).
STORAGE_DTYPES = {
    'DoubleStorage': '<f8', 'FloatStorage': '<f4', 'HalfStorage': '<f2', 'BFloat16Storage': 'bfloat16',
    'LongStorage': '<i8', 'IntStorage': '<i4', 'ShortStorage': '<i2', 'CharStorage': 'i1',
    'ByteStorage': 'u1', 'BoolStorage': '?', 'ComplexFloatStorage': '<c8', 'ComplexDoubleStorage': '<c16',
    'UntypedStorage': 'u1',
}


# What reading a damaged pickle raises (besides UserError and a refused name): each becomes one line.
DAMAGED = (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
           ArithmeticError, struct.error, UnicodeDecodeError, MemoryError, RecursionError)
# Bytes of arrays a read may make beyond its file's size: PyTorch's files and the official network pickles
# hold each tensor's bytes once, so a read that makes more is of a file that repeats a storage (a stride 0
# view over a huge size, one storage rebuilt many times): refused before the copy.
MARGIN = 1 << 20


def _dtype(name: str) -> np.dtype:
    if name == 'bfloat16':
        import ml_dtypes
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


@dataclasses.dataclass(frozen=True)
class _Storage:
    """A storage named in the pickle: its key, element type and count; `offset` into its root (legacy
    storage views)."""

    key: str
    dtype: np.dtype
    numel: int
    offset: int = 0


@dataclasses.dataclass(frozen=True)
class _Tensor:
    """A tensor named in the pickle, built once the storages' bytes are read."""

    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


class Budget:
    """The bytes of arrays one read may still make: its file's size plus MARGIN. Each copy is charged
    before it is made; past the budget, a one-line UserError."""

    def __init__(self, file_size: int, path: str):
        self.left, self.limit, self.path = file_size + MARGIN, file_size + MARGIN, path

    def spend(self, nbytes: int, what: str) -> None:
        if nbytes > self.left:
            raise UserError(f'{self.path} is damaged or crafted: {what} would make the arrays read from it '
                            f'exceed {self.limit} bytes (its size plus {MARGIN}), and each tensor\'s bytes are in '
                            'the file once')
        self.left -= nbytes


class _Refused(Exception):
    pass


class BaseUnpickler(pickle.Unpickler):
    """What the unpicklers of `.pth` files and network pickles share: OrderedDicts and parameters of the
    tensors of `tensor_type`."""

    tensor_type: type = object

    def _ordered_dict(self, *args: Any) -> collections.OrderedDict:
        return collections.OrderedDict(*args)

    def _parameter(self, data: Any, *rest: Any) -> Any:
        if not isinstance(data, self.tensor_type):
            raise pickle.UnpicklingError(f'a parameter whose data is a {type(data).__name__}')
        return data


class _Unpickler(BaseUnpickler):
    """Resolves only the globals of a PyTorch state dict, to functions that build `_Tensor` records."""

    def __init__(self, file, persistent: Callable[[tuple], Any]):
        super().__init__(file)
        self._persistent = persistent

    def find_class(self, module: str, name: str) -> Any:
        # Each allowed name resolves to a bound method or a tuple, which a crafted pickle's BUILD opcode
        # cannot give attributes that change how anything behaves.
        if module == 'collections' and name == 'OrderedDict':
            return self._ordered_dict
        if module == 'torch._utils' and name in ('_rebuild_tensor', '_rebuild_tensor_v2'):
            return self._rebuild_tensor
        if module == 'torch._utils' and name == '_rebuild_parameter':
            return self._parameter
        if module in ('torch', 'torch.storage') and name in STORAGE_DTYPES:
            return ('storage type', name)
        raise _Refused(f'{module}.{name}')

    def persistent_load(self, pid: Any) -> Any:
        return self._persistent(pid)

    def _rebuild_tensor(self, storage, offset, size, stride, *rest) -> _Tensor:
        if not isinstance(storage, _Storage):
            raise pickle.UnpicklingError(f'a tensor whose storage is a {type(storage).__name__}')
        return _Tensor(storage, int(offset), tuple(int(n) for n in size), tuple(int(s) for s in stride))


_Unpickler.tensor_type = _Tensor


def _ascii(value: Any) -> Any:
    return value.decode('ascii') if isinstance(value, bytes) else value


def _no_persistent_ids(pid: Any) -> Any:
    raise pickle.UnpicklingError(f'unexpected persistent id {pid!r}')


def _storage_type(value: Any) -> np.dtype:
    if not (isinstance(value, tuple) and len(value) == 2 and value[0] == 'storage type'):
        raise pickle.UnpicklingError(f'a storage of type {value!r}')
    return _dtype(STORAGE_DTYPES[value[1]])


def _unpickle(file, persistent: Callable[[tuple], Any], path: str) -> Any:
    try:
        return _Unpickler(file, persistent).load()
    except _Refused as e:
        raise UserError(f'{path}: refused to load {e}: only tensors and state dicts are read (a .pth file is '
                        'a pickle, and other names in it could run code); save the model\'s state_dict()') from None
    except UserError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            struct.error, UnicodeDecodeError, MemoryError, RecursionError) as e:
        raise UserError(f'{path} is truncated or damaged, or not a PyTorch file '
                        f'({type(e).__name__}: {e})') from None


def _element_array(data: bytes, storage: _Storage, byteorder: str, where: str, path: str) -> np.ndarray:
    """The storage's elements, of its declared count, from its bytes, in the machine's byte order."""
    need = storage.numel * storage.dtype.itemsize
    if storage.numel < 0:
        raise UserError(f'{path} is damaged: {where} has {storage.numel} elements')
    if len(data) < need:
        raise UserError(f'{path} is truncated or damaged: {where} holds {len(data)} bytes, its '
                        f'{storage.numel} elements of {storage.dtype.name} need {need}')
    order = '<' if byteorder == 'little' else '>'
    if storage.dtype.name == 'bfloat16':  # ml_dtypes' type: its bits read as 16-bit integers
        return np.frombuffer(data, f'{order}u2', count=storage.numel).astype('=u2').view(storage.dtype)
    dtype = storage.dtype.newbyteorder(order) if storage.dtype.itemsize > 1 else storage.dtype
    return np.frombuffer(data, dtype, count=storage.numel).astype(storage.dtype.newbyteorder('='))


def _materialise(tensor: _Tensor, elements: np.ndarray, name: str, path: str, budget: Budget) -> np.ndarray:
    """The tensor's strided window onto its storage's elements, copied into a native array (its bytes
    charged to `budget`)."""
    size, stride = tensor.size, tensor.stride
    what = f'tensor {name!r}' if name else 'a tensor'  # a network pickle's tensors have no names
    offset = tensor.offset + tensor.storage.offset
    if len(size) != len(stride) or min(size, default=0) < 0 or min(stride, default=0) < 0 or offset < 0:
        raise UserError(f'{path} is damaged: {what} has size {size}, stride {stride}, offset {offset}')
    if 0 in size:
        return np.zeros(size, elements.dtype)
    count = math.prod(size)
    if count > len(elements):  # zero strides repeating a storage's elements: no official file has them
        raise UserError(f'{path} is damaged or crafted: {what} of size {size}, stride {stride} has '
                        f'{count} elements, more than its storage\'s {len(elements)}')
    end = offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1
    if end > len(elements):
        raise UserError(f'{path} is damaged: {what} of size {size}, stride {stride}, offset {offset} '
                        f'reaches element {end} of a storage of {len(elements)}')
    view = np.lib.stride_tricks.as_strided(elements[offset:], size, [s * elements.itemsize for s in stride],
                                           writeable=False)
    budget.spend(count * elements.itemsize, f'{what} of size {size}')
    return np.array(view)


def _made(tensor: _Tensor, elements: np.ndarray, name: str, path: str, budget: Budget,
          made: dict[int, np.ndarray]) -> np.ndarray:
    """`_materialise` once per tensor of the pickle: names of one tensor (tied weights, which the pickle's
    memo shares) get one array, as torch.load gives them one tensor."""
    if id(tensor) not in made:
        made[id(tensor)] = _materialise(tensor, elements, name, path, budget)
    return made[id(tensor)]


def _state_dict(obj: Any, path: str) -> dict[str, _Tensor]:
    if isinstance(obj, _Tensor) or not isinstance(obj, dict):
        raise UserError(f'{path} holds a {"tensor" if isinstance(obj, _Tensor) else type(obj).__name__}, not a '
                        'state dict (names to tensors)')
    for name, value in obj.items():
        if not isinstance(name, str) or not isinstance(value, _Tensor):
            raise UserError(f'{path}: entry {name!r} is a {type(value).__name__}, not a tensor; only a state '
                            'dict (names to tensors) is read')
    return obj


def _read_zip(path: str, archive: zipfile.ZipFile, size: int) -> dict[str, np.ndarray]:
    names = archive.namelist()
    pickles = [n for n in names if n.count('/') == 1 and n.endswith('/data.pkl')]
    if len(pickles) != 1:
        raise UserError(f'{path} is a zip archive but not a PyTorch file: it has '
                        f'{"no" if not pickles else len(pickles)} NAME/data.pkl '
                        f'({len(names)} members, such as {", ".join(names[:3]) or "none"})')
    prefix = pickles[0][:-len('data.pkl')]
    if prefix + 'constants.pkl' in names:
        raise UserError(f'{path} is a TorchScript archive (torch.jit.save), not a state dict (torch.save); '
                        'load it with torch.jit.load and torch.save its state_dict()')
    byteorder = 'little'
    if prefix + 'byteorder' in names:
        byteorder = archive.read(prefix + 'byteorder').decode('ascii', 'replace').strip()
        if byteorder not in ('little', 'big'):
            raise UserError(f'{path} is damaged: its byteorder record says {byteorder!r}')

    def persistent(pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and _ascii(pid[0]) == 'storage'):
            raise pickle.UnpicklingError(f'persistent id {pid!r}')
        return _Storage(str(_ascii(pid[2])), _storage_type(pid[1]), int(pid[4]))

    storages, tensors = Budget(size, path), Budget(size, path)  # a compressed member could unpack to any size
    storages.spend(archive.getinfo(pickles[0]).file_size, pickles[0])
    obj = _unpickle(io.BytesIO(archive.read(pickles[0])), persistent, path)
    state = _state_dict(obj, path)
    elements: dict[str, np.ndarray] = {}
    out, made = {}, {}
    for name, tensor in state.items():
        key = tensor.storage.key
        if key not in elements:
            member = f'{prefix}data/{key}'
            if member not in names:
                raise UserError(f'{path} is truncated or damaged: tensor {name!r} needs {member}, which it lacks')
            storages.spend(archive.getinfo(member).file_size, member)
            elements[key] = _element_array(archive.read(member), tensor.storage, byteorder, member, path)
        out[name] = _made(tensor, elements[key], name, path, tensors, made)
    return out


def _read_legacy_object(path: str, f) -> tuple[Any, dict[str, np.ndarray]]:
    """(the saved object, with `_Storage` and `_Tensor` records in it; {storage key: its elements}) of a
    legacy archive."""
    if _unpickle(f, _no_persistent_ids, path) != LEGACY_MAGIC:
        raise UserError(f'{path} is not a PyTorch file: neither a zip archive (torch.save since PyTorch 1.6) '
                        'nor the legacy format before it')
    protocol = _unpickle(f, _no_persistent_ids, path)
    if protocol != LEGACY_PROTOCOL:
        raise UserError(f'{path}: PyTorch legacy format of protocol {protocol!r}, not {LEGACY_PROTOCOL}')
    sys_info = _unpickle(f, _no_persistent_ids, path)
    if isinstance(sys_info, dict) and sys_info.get('little_endian') is False:
        raise UserError(f'{path} was written on a big-endian machine; its legacy format is not read here')
    roots: dict[str, _Storage] = {}

    def persistent(pid: Any) -> Any:
        if not isinstance(pid, tuple) or not pid:
            raise pickle.UnpicklingError(f'persistent id {pid!r}')
        if _ascii(pid[0]) == 'module':
            raise UserError(f'{path} holds a whole module (torch.save(model)), not a state dict; '
                            'torch.save(model.state_dict(), ...) instead')
        if _ascii(pid[0]) != 'storage' or len(pid) != 6:
            raise pickle.UnpicklingError(f'persistent id {pid!r}')
        _, storage_type, key, _, numel, view = pid
        root = roots.setdefault(str(key), _Storage(str(key), _storage_type(storage_type), int(numel)))
        if view is None:
            return root
        _, view_offset, view_numel = view
        return dataclasses.replace(root, numel=int(view_numel), offset=int(view_offset))

    obj = _unpickle(f, persistent, path)
    if isinstance(obj, dict) and not isinstance(obj, _Tensor):
        _state_dict(obj, path)  # a dict that is no state dict: refused before its data are read
    keys = _unpickle(f, _no_persistent_ids, path)
    if not isinstance(keys, list):
        raise UserError(f'{path} is damaged: no list of storage keys after the saved object')
    position = f.tell()
    size = f.seek(0, io.SEEK_END)  # a file or bytes in memory alike
    f.seek(position)
    elements = {}
    for key in map(str, keys):
        if key not in roots:
            raise UserError(f'{path} is damaged: it stores data of storage {key}, which no tensor uses')
        head = f.read(8)
        if len(head) < 8:
            raise UserError(f'{path} is truncated: the data of storage {key} ({len(elements)} of {len(keys)}) '
                            'is missing')
        (numel,) = struct.unpack('<q', head)
        storage = roots[key]
        if numel != storage.numel:
            raise UserError(f'{path} is damaged: storage {key} has {numel} elements, the pickle says {storage.numel}')
        need, left = numel * storage.dtype.itemsize, size - f.tell()
        data = f.read(need) if 0 <= need <= left else f.read(max(left, 0))  # never more than the file holds
        elements[key] = _element_array(data, storage, 'little', f'the data of storage {key}', path)
    return obj, elements


def _read_legacy(path: str, f, size: int) -> dict[str, np.ndarray]:
    obj, elements = _read_legacy_object(path, f)  # each storage's bytes read from the file once
    state = _state_dict(obj, path)
    budget = Budget(size, path)
    out, made = {}, {}
    for name, tensor in state.items():
        if tensor.storage.key not in elements:
            raise UserError(f'{path} is truncated or damaged: no data for tensor {name!r}')
        out[name] = _made(tensor, elements[tensor.storage.key], name, path, budget, made)
    return out


def read_storage(data: bytes, path: str, budget: Budget) -> np.ndarray:
    """The elements (1-D, native byte order) of the one storage that `data`, a legacy torch.save archive,
    holds: how a tensor inside a plain pickle keeps its data (torch/storage.py, TypedStorage.__reduce__:
    `_load_from_bytes` of `torch.save(storage, _use_new_zipfile_serialization=False)`). `path` names
    where it came from in messages; the bytes decoded are charged to `budget` (one `data` object that a
    pickle's memo hands to many calls is decoded, and charged, each time)."""
    budget.spend(len(data), 'a tensor\'s data')
    obj, elements = _read_legacy_object(path, io.BytesIO(data))
    if not isinstance(obj, _Storage) or obj.key not in elements:
        raise UserError(f'{path} is damaged: a tensor\'s data hold a {type(obj).__name__}, not a storage')
    return elements[obj.key][obj.offset:obj.offset + obj.numel]


def tensor(storage: np.ndarray, offset: int, size: tuple, stride: tuple, path: str, budget: Budget) -> np.ndarray:
    """The tensor torch._utils._rebuild_tensor_v2 makes of a storage's elements, as a native array (its
    bytes charged to `budget`, the read's)."""
    record = _Tensor(_Storage('', storage.dtype, len(storage)), int(offset), tuple(int(n) for n in size),
                     tuple(int(s) for s in stride))
    return _materialise(record, storage, '', path, budget)


def read_state_dict(path: str) -> dict[str, np.ndarray]:
    """{name: array} of a state dict that torch.save wrote to `path` (either format), without PyTorch.

    Bad input (not a PyTorch file, truncated or damaged, a whole pickled model, any name the unpickler
    does not allow) is a one-line UserError that names `path`."""
    path = os.fspath(path)
    try:
        with open(path, 'rb') as f:
            start = f.read(512)
            size = f.seek(0, io.SEEK_END)
            f.seek(0)
            if start[:4] == b'PK\x03\x04':  # a zip's first local header, as torch.serialization._is_zipfile
                try:
                    with zipfile.ZipFile(f) as archive:
                        return _read_zip(path, archive, size)
                except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError) as e:
                    raise UserError(f'{path} is a truncated or damaged zip archive ({e})') from None
            if len(start) >= 262 and start[257:262] == b'ustar':
                raise UserError(f'{path} is in the tar format of PyTorch before 0.4, which is not read here: '
                                'load it with torch.load and torch.save it again')
            return _read_legacy(path, f, size)
    except FileNotFoundError:
        raise UserError(f'{path} does not exist') from None
    except IsADirectoryError:
        raise UserError(f'{path} is a directory, not a PyTorch file') from None
    except PermissionError:
        raise UserError(f'{path} cannot be read: permission denied') from None
