"""Official network pickles (jaxgan.network_pickle, jaxgan.pretrained, models.stylegan2_official): read
without running them, mapped onto jaxgan's StyleGAN2 with the official outputs, refused when bad.

The fixtures are written by the official code (tests/fixtures/make_stylegan2_pkl.py, PyTorch on a CPU):
two snapshots as the official training loop pickles them and the official outputs on fixed inputs.
"""

import json
import os
import pickle
import struct
import sys
import types

import jax
import numpy as np
import pytest

import jaxgan
from jaxgan import data, network_pickle, pretrained, train, transfer
from jaxgan.batches import make_batchers
from jaxgan.core import parallel
from jaxgan.family import make_train_step
from jaxgan.core.state import init_state
from jaxgan.checkpoint import layout_of
from jaxgan.errors import UserError
from jaxgan.metrics import pth
from jaxgan.families.gan import build_gan
from jaxgan.models import official, stylegan2_official
from jaxgan.models.stylegan2 import STATS
from jaxgan.models.stylegan2_layers import FIR
from tests.conftest import tiny_config
from tests.test_step import _Merged, batch

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
COND, UNCOND = (os.path.join(FIXTURES, f'stylegan2_{n}16.pkl') for n in ('cond', 'uncond'))


@pytest.fixture(scope='module')
def outputs():
    return dict(np.load(os.path.join(FIXTURES, 'stylegan2_outputs.npz')))


# ---------------------------------------------------------------- the official outputs

@pytest.mark.parametrize('name', ['cond', 'uncond'])
def test_official_outputs_from_jaxgan_load(name, outputs):
    """jaxgan.load of the pickle gives the official G_ema (truncation 1 and 0.7, constant noise), G and
    D outputs to ~1e-5 (largest outputs ~10)."""
    run = jaxgan.load(os.path.join(FIXTURES, f'stylegan2_{name}16.pkl'))
    out = lambda key: outputs[f'{name}16_{key}']  # noqa: E731
    gan, state = run.model, run.state
    y = out('labels') if gan.g_conditioned else None
    assert run.config.model.name == 'stylegan2' and gan.spec.shape == (16, 16, 3)
    assert gan.num_classes == (3 if name == 'cond' else 0)
    @jax.jit
    def official_outputs(state):
        g = lambda params, psi: gan.generator.apply({'params': params['G'], **state.model_state['G']},  # noqa: E731
                                                    out('z'), y, noise_mode='const', truncation_psi=psi)
        return {'g_ema': g(state.ema, 1.0), 'g_ema_psi07': g(state.ema, 0.7), 'g': g(state.params, 1.0),
                'd': gan.discriminator.apply({'params': state.params['D']}, out('x'), y)['logits']}

    for key, value in official_outputs(state.replace(opt_state={}, terms={})).items():
        np.testing.assert_allclose(value, out(key), rtol=1e-5, atol=2e-5, err_msg=key)
    images = run.images(4, seed=0, truncation=0.7, batch_size=4)
    assert images.shape == (4, 16, 16, 3) and images.dtype == np.uint8 and images.std() > 0


def test_the_reader_gives_records_of_the_snapshot():
    pkl = network_pickle.read(COND)
    assert pkl.G.key == pkl.D.key[:1] + ('Generator',) == ('training.networks', 'Generator')
    assert pkl.G_ema.init_kwargs['synthesis_kwargs'] == dict(channel_base=128, channel_max=16, num_fp16_res=4,
                                                             conv_clamp=256)
    assert pkl.D.init_kwargs['epilogue_kwargs'] == {'mbstd_group_size': 4} and pkl.D.init_kwargs['c_dim'] == 3
    assert pkl.training_set_kwargs['use_labels'] is True and pkl.augment_pipe.key == ('training.augment', 'AugmentPipe')
    assert float(pkl.augment_pipe.buffers['p']) == 0.25
    sd = pkl.G_ema.state_dict()
    assert sd['mapping.w_avg'].shape == (16,) and sd['synthesis.b16.conv0.weight'].shape == (8, 16, 3, 3)
    assert sd['synthesis.b4.conv1.noise_strength'].shape == ()
    np.testing.assert_array_equal(sd['mapping.w_avg'], pkl.G.state_dict()['mapping.w_avg'])  # buffers shared
    layer = pkl.G_ema.modules['synthesis'].modules['b8'].modules['conv0']
    assert layer.attributes['act_gain'] == pytest.approx(np.sqrt(2))  # a numpy scalar, read as data


# ---------------------------------------------------------------- config f at 1024 pixels: names and shapes

def test_config_f_at_1024_maps_every_name_onto_jaxgan_shapes():
    with open(os.path.join(FIXTURES, 'stylegan2_config_f_1024.json')) as f:
        layout = json.load(f)
    zeros = lambda shapes: {n: FIR if n.endswith('resample_filter') else np.broadcast_to(np.float32(0), s)  # noqa: E731
                            for n, s in shapes.items()}
    g = network_pickle.Module('training.networks', 'Generator', init_kwargs=layout['init_kwargs']['G'],
                              parameters=zeros(layout['G']))
    d = network_pickle.Module('training.networks', 'Discriminator', init_kwargs=layout['init_kwargs']['D'],
                              parameters=zeros(layout['D']))
    ported = pretrained.ported(network_pickle.NetworkPickle('config-f.pkl', g, d, g, None, None))
    assert ported.fields['stylegan2.channel_base'] == 32768 and ported.fields['image_size'] == 1024
    config, spec = ported.config()
    gan = build_gan(config, spec)
    arrays = ported.arrays(gan)  # every jaxgan array filled, of its shape; every official name placed
    expected = jax.eval_shape(lambda: init_state(gan.game, 0))
    for part in ('params', 'model_state', 'ema'):
        got = {k: v[0] for k, v in layout_of(arrays[part]).items()}
        assert got == {k: v[0] for k, v in layout_of(getattr(expected, part)).items()}
    filters = sum(n.endswith('resample_filter') for role in 'GD' for n in layout[role])
    assert len(layout_of(arrays['params'])) + len(layout_of(arrays['model_state'])) == \
        len(layout['G']) + len(layout['D']) - filters
    count = sum(int(np.prod(s)) for s, _ in layout_of(arrays['params']).values())
    assert count == 30_370_060 + 29_012_513  # the official parameter counts (w_avg a buffer, not counted)
    assert arrays['model_state']['G'][STATS]['mapping']['w_avg'].shape == (512,)


# ---------------------------------------------------------------- bad pickles

class _Reduce:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def test_a_pickle_naming_other_globals_is_refused_and_nothing_runs(tmp_path):
    mark = tmp_path / 'ran'
    for fn, arg in ((os.system, f'touch {mark}'), (eval, f'open({str(mark)!r}, "w")')):
        bad = tmp_path / 'bad.pkl'
        bad.write_bytes(pickle.dumps({'G': _Reduce(fn, arg)}))
        with pytest.raises(UserError, match=rf'refused to load ({fn.__module__}|posix|nt|builtins)\.'
                                            rf'{fn.__name__}') as e:
            network_pickle.read(str(bad))
        assert '\n' not in str(e.value) and not mark.exists()


def test_the_source_in_a_persistent_class_is_never_run(tmp_path, monkeypatch):
    """A pickle whose persistent class carries source that would write a file if the official loader
    ran it: read as a record, refused for want of a port, and the file never appears."""
    mark = tmp_path / 'ran'
    persistence = types.ModuleType('torch_utils.persistence')
    def stand_in(meta):  # what the pickle names; the reader never calls it
        raise AssertionError('called')
    stand_in.__module__, stand_in.__name__ = 'torch_utils.persistence', '_reconstruct_persistent_obj'
    stand_in.__qualname__ = stand_in.__name__
    persistence._reconstruct_persistent_obj = stand_in
    monkeypatch.setitem(sys.modules, 'torch_utils', types.ModuleType('torch_utils'))
    monkeypatch.setitem(sys.modules, 'torch_utils.persistence', persistence)
    meta = dict(type='class', version=6, module_src=f'open({str(mark)!r}, "w").close()\nclass Generator: pass\n',
                class_name='Generator', state={'_parameters': {}, '_buffers': {}, '_modules': {}})
    net = _Reduce(persistence._reconstruct_persistent_obj, meta)
    bad = tmp_path / 'evil.pkl'
    bad.write_bytes(pickle.dumps({'G': net, 'D': net, 'G_ema': net}))
    monkeypatch.delitem(sys.modules, 'torch_utils.persistence')
    assert network_pickle.read(str(bad)).G.key == ('unknown module', 'Generator')
    with pytest.raises(UserError, match=r'its G is a unknown module\.Generator, which jaxgan has no port of'):
        pretrained.read(str(bad))
    assert not mark.exists()


def test_truncated_and_other_files_are_refused(tmp_path):
    data = open(COND, 'rb').read()
    for cut in (len(data) // 2, len(data) - 3, 40):
        short = tmp_path / f'short{cut}.pkl'
        short.write_bytes(data[:cut])
        with pytest.raises(UserError, match='truncated or damaged') as e:
            network_pickle.read(str(short))
        assert '\n' not in str(e.value)
    other = tmp_path / 'list.pkl'
    other.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(UserError, match='not a network pickle: it holds list'):
        network_pickle.read(str(other))
    with pytest.raises(UserError, match='does not exist'):
        network_pickle.read(str(tmp_path / 'none.pkl'))


def test_official_keywords_jaxgan_does_not_reproduce_are_refused():
    with pytest.raises(UserError, match=r"synthesis_kwargs.architecture='resnet'"):
        stylegan2_official.generator_config(dict(z_dim=8, w_dim=8, c_dim=0, img_resolution=16, img_channels=3,
                                                 synthesis_kwargs=dict(architecture='resnet')))
    with pytest.raises(UserError, match='a resample filter other than'):
        stylegan2_official.from_official({'b16.resample_filter': np.ones((4, 4), np.float32)}, 'D')
    with pytest.raises(UserError, match='has no port of'):
        official.find('training.networks_stylegan3', 'Generator', 'G', 'x.pkl')


# ---------------------------------------------------------------- config.init_from=pkl:PATH

def pkl_config(**overrides):
    fields = dict(model__name='stylegan2', image_size=16, data__channels=3, model__z_dim=8, stylegan2__w_dim=16,
                  stylegan2__mapping_layers=2, stylegan2__channel_base=128, stylegan2__channel_max=16,
                  stylegan2__conv_clamp=256.0, stylegan2__d_architecture='orig', stylegan2__pl_weight=0.0,
                  stylegan2__style_mixing=0.0, init_from=f'pkl:{UNCOND}', freeze_d=1, batch_size=8, penalties__r1=0.0)
    fields.update(overrides)
    return tiny_config(**fields)


def start(tmp_path):
    """(config, mesh, gan, batcher, the run's first state) of a run with init_from=pkl:UNCOND."""
    config = pkl_config()
    mesh = parallel.make_mesh()
    dataset = data.load(config)
    gan = build_gan(config, dataset.spec)
    transfer.check(config, str(tmp_path / 'run'), gan)
    return config, mesh, gan, dataset, transfer.initial_state(gan, config, parallel.replicated(mesh))


def test_init_from_a_pickle_starts_from_its_networks(tmp_path, monkeypatch):
    """The run's first state (transfer.initial_state, as resume calls it) holds the pickle's G, D and
    G_ema, with G_ema's buffers as G's model state; the pickle is read once (check and initial_state)."""
    reads, real = [], network_pickle.read
    monkeypatch.setattr(network_pickle, 'read', lambda path: reads.append(path) or real(path))
    _, _, _, _, state = start(tmp_path)
    assert reads == [UNCOND]
    monkeypatch.undo()
    pkl = network_pickle.read(UNCOND)
    g, d, g_ema = pkl.G.state_dict(), pkl.D.state_dict(), pkl.G_ema.state_dict()
    np.testing.assert_array_equal(state.ema['G']['mapping']['fc1']['kernel'], g_ema['mapping.fc1.weight'].T)
    np.testing.assert_array_equal(state.params['G']['mapping']['fc1']['kernel'], g['mapping.fc1.weight'].T)
    np.testing.assert_array_equal(state.params['D']['b8']['conv1']['kernel'],
                                  d['b8.conv1.weight'].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(state.model_state['G'][STATS]['mapping']['w_avg'], g_ema['mapping.w_avg'])
    assert int(state.step) == 0


@pytest.mark.slow  # the StyleGAN2 step's compilation: ~20 s on one core
def test_init_from_a_pickle_trains_one_step_with_freeze_d(tmp_path):
    config, mesh, gan, dataset, state = start(tmp_path)
    batcher = _Merged(make_batchers(config, dataset, gan))
    state, _ = make_train_step(gan, config, mesh)(state, batch(batcher, mesh, config, 0))
    state = parallel.to_host(state)
    d = network_pickle.read(UNCOND).D.state_dict()
    assert int(state.step) == 1
    frozen = state.params['D']['b16']['fromrgb']['kernel']  # FreezeD: D's first block unchanged
    np.testing.assert_array_equal(frozen, d['b16.fromrgb.weight'].transpose(2, 3, 1, 0))
    assert not np.array_equal(state.params['D']['b4']['out']['kernel'], d['b4.out.weight'].T)


def test_init_from_a_pickle_refuses_other_architecture_fields(tmp_path):
    with pytest.raises(UserError, match=r'differs from the pickle.s networks in stylegan2.channel_base \(256 here, '
                                        r'128 in the pickle\).*set --config.stylegan2.channel_base=128') as e:
        train.train(pkl_config(stylegan2__channel_base=256), str(tmp_path / 'run'))
    assert '\n' not in str(e.value) and not os.path.exists(tmp_path / 'run' / 'checkpoints')


# ---------------------------------------------------------------- R3GAN's pickles (brownvc/R3GAN)

R3GAN_PKL = os.path.join(FIXTURES, 'r3gan_cond8.pkl')


def test_an_official_r3gan_pickle_gives_the_official_outputs():
    """R3GAN's snapshot (training/networks.py wrappers around R3GAN/Networks.py, made by
    fixtures/make_r3gan_pkl.py from the official code): its sizes are read off the state dict, and jaxgan's
    G_ema and D give the official outputs."""
    out = np.load(os.path.join(FIXTURES, 'r3gan_outputs.npz'))
    run = jaxgan.load(R3GAN_PKL)
    s = run.config.r3gan
    assert run.config.model.name == 'r3gan' and run.model.spec.shape == (8, 8, 3) and run.model.num_classes == 3
    assert (s.widths, s.cardinalities, s.blocks, s.expansion, s.g_embedding, s.d_embedding) == \
        ((16, 16), (2, 2), (1, 1), 2, 8, 16)
    assert run.config.model.z_dim == 8 and run.config.conditioning.d == 'projection'
    gan, state = run.model, run.state
    images = gan.generator.apply({'params': state.ema['G']}, out['z'], out['y'])
    logits = gan.discriminator.apply({'params': state.params['D']}, out['x_nhwc'], out['y'])['logits']
    np.testing.assert_allclose(images, out['images_nhwc'], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(logits, out['logits'], rtol=1e-5, atol=1e-5)
    assert not np.allclose(state.ema['G']['embedding']['kernel'], state.params['G']['embedding']['kernel'])


def test_an_r3gan_pickle_and_a_config_of_other_sizes_are_refused_naming_the_fields():
    official_ = pretrained.read(R3GAN_PKL)
    config, spec = official_.config()
    config.r3gan.widths, config.r3gan.blocks = (32, 16), (2, 1)
    with pytest.raises(UserError, match=r'r3gan\.widths \(\(32, 16\) here, \(16, 16\) in the pickle\).*'
                                        r"r3gan\.blocks .*--config\.r3gan\.widths='\(16,16\)' --config\.r3gan\.blocks='\(1,1\)'$"):
        pretrained.check(config, spec, official_, 'init_from')


# ---------------------------------------------------------------- crafted files: memory, time, recursion

def _s(text):  # BINUNICODE
    raw = text.encode()
    return b'X' + struct.pack('<I', len(raw)) + raw


def _g(module, name):  # GLOBAL
    return f'c{module}\n{name}\n'.encode()


def _storage_bytes(values):
    """A legacy torch.save archive of one float32 storage: what torch.storage._load_from_bytes reads."""
    pid = b'(' + _s('storage') + _g('torch', 'FloatStorage') + _s('0') + _s('cpu') + b'J' + \
        struct.pack('<i', len(values)) + b'Nt' + b'Q'
    return (pickle.dumps(0x1950a86a20f9469cfc6c, 2) + pickle.dumps(1001, 2) + pickle.dumps({'little_endian': True}, 2)
            + b'\x80\x02' + pid + b'.' + pickle.dumps(['0'], 2) + struct.pack('<q', len(values))
            + np.asarray(values, '<f4').tobytes())


def _tensor(storage_ops, size, stride):
    """_rebuild_tensor_v2(storage, 0, size, stride) of the ops that push the storage."""
    ints = lambda xs: b'(' + b''.join(b'J' + struct.pack('<i', x) for x in xs) + b't'  # noqa: E731
    return _g('torch._utils', '_rebuild_tensor_v2') + b'(' + storage_ops + b'J\0\0\0\0' + ints(size) + \
        ints(stride) + b'tR'


def _load_from_bytes(values, memo=None):
    put = b'r' + struct.pack('<I', memo) if memo is not None else b''
    data = _storage_bytes(values)
    return _g('torch.storage', '_load_from_bytes') + b'(B' + struct.pack('<I', len(data)) + data + put + b'tR'


def _list(items):
    return b'](' + b''.join(items) + b'e'


def test_a_zero_stride_tensor_over_more_than_its_storage_is_refused(tmp_path):
    """Before: 4000x4000 copies of one element (64 MiB from a file of 300 bytes; the size is the file's
    choice). Network pickles and .pth files alike."""
    bad = tmp_path / 'zero.pkl'
    bad.write_bytes(b'\x80\x03' + _tensor(_load_from_bytes([1.0]), (4000, 4000), (0, 0)) + b'.')
    with pytest.raises(UserError, match=r'damaged or crafted: a tensor of size \(4000, 4000\), stride \(0, 0\) has '
                                        r'16000000 elements, more than its storage.s 1') as e:
        network_pickle.read(str(bad))
    assert '\n' not in str(e.value) and os.path.getsize(bad) < 400
    pth_file = tmp_path / 'zero.pth'
    state = _g('collections', 'OrderedDict') + b')R' + _s('w') + \
        _tensor(b'(' + _s('storage') + _g('torch', 'FloatStorage') + _s('0') + _s('cpu') + b'J\1\0\0\0Nt' + b'Q',
                (4000, 4000), (0, 0)) + b's'
    pth_file.write_bytes(pickle.dumps(0x1950a86a20f9469cfc6c, 2) + pickle.dumps(1001, 2)
                         + pickle.dumps({'little_endian': True}, 2) + b'\x80\x02' + state + b'.'
                         + pickle.dumps(['0'], 2) + struct.pack('<q', 1) + struct.pack('<f', 1.0))
    with pytest.raises(UserError, match=r'tensor .w. of size \(4000, 4000\), stride \(0, 0\) has 16000000 elements'):
        pth.read_state_dict(str(pth_file))


def test_one_storage_rebuilt_many_times_is_refused_past_the_file_size(tmp_path):
    """A storage (4 KiB) the memo hands to 3000 tensors, and one tensor's data decoded 3000 times: each
    copy is within its storage, their sum (12 MiB) past the file's size plus the margin."""
    storage = _load_from_bytes([0.5] * 1024) + b'r\x84\x03\0\0'  # the storage's array, memoised as 900
    tensors = _list([_tensor(storage, (1024,), (1,))] + [_tensor(b'j\x84\x03\0\0', (1024,), (1,))] * 2999)
    decoded = _list([_load_from_bytes([0.5] * 1024, memo=0)]  # its bytes, memoised as 0
                    + [_g('torch.storage', '_load_from_bytes') + b'(h\x00tR'] * 2999)
    for name, ops in (('tensors', tensors), ('decoded', decoded)):
        bad = tmp_path / f'{name}.pkl'
        bad.write_bytes(b'\x80\x03' + ops + b'.')
        with pytest.raises(UserError, match=r'would make the arrays read from it exceed \d+ bytes') as e:
            network_pickle.read(str(bad))
        assert '\n' not in str(e.value) and os.path.getsize(bad) < 200_000, name
    pid = b'(' + _s('storage') + _g('torch', 'FloatStorage') + _s('0') + _s('cpu') + b'J\0\4\0\0Nt' + b'Q'
    items = b''.join(_s(f'w{i}') + _tensor(pid if i == 0 else b'h\x00', (1024,), (1,)) for i in range(3000))
    pth_file = tmp_path / 'many.pth'  # 3000 tensors (not one tensor under many names) over one storage
    pth_file.write_bytes(pickle.dumps(0x1950a86a20f9469cfc6c, 2) + pickle.dumps(1001, 2)
                         + pickle.dumps({'little_endian': True}, 2) + b'\x80\x02' + _g('collections', 'OrderedDict')
                         + b')R(' + items.replace(b'Q', b'Qq\x00', 1) + b'u.' + pickle.dumps(['0'], 2)
                         + struct.pack('<q', 1024) + np.zeros(1024, '<f4').tobytes())
    with pytest.raises(UserError, match=r"tensor 'w\d+' of size \(1024,\) would make the arrays read from it exceed"):
        pth.read_state_dict(str(pth_file))


def test_shared_and_self_holding_values_are_walked_once_or_refused(tmp_path):
    """40 tuples each holding the previous twice (2^40 paths: hung before) are walked once; a list that
    holds itself, and nesting deeper than MAX_DEPTH, are refused in one line (RecursionError before)."""
    dag = ()
    for _ in range(40):
        dag = (dag, dag)
    loop = []
    loop.append(loop)
    deep = b'\x80\x02' + b']' * 3000 + b'a' * 2999 + b'.'  # lists 3000 deep (too deep for pickle.dumps)
    cases = ((dag, 'not a network pickle: it holds tuple'), (loop, 'damaged.*a list that holds itself'),
             (deep, 'damaged.*nested deeper than 64'))
    for i, (value, message) in enumerate(cases):
        bad = tmp_path / f'{i}.pkl'
        bad.write_bytes(value if isinstance(value, bytes) else pickle.dumps(value))
        with pytest.raises(UserError, match=message) as e:
            network_pickle.read(str(bad))
        assert '\n' not in str(e.value)


def _persistent(state_ops, build=b'', source=''):
    """A persistent Generator (torch_utils.persistence) of the state the ops push, then BUILD of `build`."""
    return (_g('torch_utils.persistence', '_reconstruct_persistent_obj') + b'(}(' + _s('type') + _s('class')
            + _s('module_src') + _s(source) + _s('class_name') + _s('Generator') + _s('state') + state_ops
            + b'utR' + b'r\xe8\x03\0\0' + build)


def _networks(record):
    return b'}(' + _s('G') + record + _s('D') + b'j\xe8\x03\0\0' + _s('G_ema') + b'j\xe8\x03\0\0' + b'u.'


def test_records_refuse_a_pickle_that_sets_their_state_or_gives_them_other_types(tmp_path):
    """BUILD of a Module record (modules={'self': itself}: RecursionError in state_dict() before), a
    Generator whose _parameters is a list (a traceback before), and submodules reached twice in one network
    are refused in one line, by read and by pretrained.read."""
    empty = b'}(' + _s('_parameters') + b'}' + _s('_modules') + b'}u'
    self_holding = _persistent(empty, b'}(' + _s('modules') + b'}(' + _s('self') + b'j\xe8\x03\0\0' + b'uub',
                               source='def modulated_conv2d(\nclass SynthesisBlock(\n')  # a module with a port
    listed = (_g('training.networks', 'Generator') + b')\x81' + b'r\xe8\x03\0\0'  # R3GAN's wrapper, NEWOBJ
              + b'}(' + _s('_parameters') + b'](J\x01\0\0\0eu' + b'b')
    twice = _persistent(b'}(' + _s('_modules') + b'}(' + _s('a') + _persistent(empty) + _s('b')
                        + b'j\xe8\x03\0\0' + b'uu')
    cases = ((self_holding, 'sets the state of training.networks.Generator'),
             (listed, 'training.networks.Generator: its _parameters is a list'),
             (twice, 'its G holds the submodule unknown module.Generator twice'))
    for i, (record, message) in enumerate(cases):
        bad = tmp_path / f'{i}.pkl'
        bad.write_bytes(b'\x80\x03' + _networks(record))
        for read in (network_pickle.read, pretrained.read):
            with pytest.raises(UserError, match=rf'damaged.*{message}') as e:
                read(str(bad))
            assert '\n' not in str(e.value)


def test_a_damaged_r3gan_state_dict_is_one_line_not_a_traceback():
    """Shapes r3gan_official reads the sizes off (an IndexError and a ZeroDivisionError before)."""
    for shape in ((), (16, 0, 1, 1)):
        pkl = network_pickle.read(R3GAN_PKL)
        name = 'LinearLayer1.Layer.weight' if shape == () else 'LinearLayer2.Layer.weight'
        pkl.D.modules['Model'].modules['MainLayers'].modules['0'].modules['Layers'].modules['0'] \
            .modules[name.split('.')[0]].modules['Layer'].parameters['weight'] = np.zeros(shape, np.float32)
        with pytest.raises(UserError, match=r'r3gan_cond8.pkl: its D is damaged \((IndexError|ZeroDivisionError)'):
            pretrained.ported(pkl)


def test_fixtures_hold_no_official_source():
    """The StyleGAN2 pickles carry stubs for module_src (the markers of network_pickle.SOURCES only)."""
    files = [os.path.join(folder, name) for folder, _, names in os.walk(FIXTURES) for name in names]
    for path in files:
        if path.endswith('.py'):
            continue  # the scripts that write them import torch
        with open(path, 'rb') as f:
            data = f.read()
        assert b'NVIDIA CORPORATION' not in data and b'import torch' not in data, path
    sources = [s for s in pickle_strings(COND) if 'class SynthesisBlock(' in s]
    assert sources and all(len(s) < 500 for s in sources)


def pickle_strings(path):
    import pickletools
    with open(path, 'rb') as f:
        return [arg for op, arg, _ in pickletools.genops(f.read()) if isinstance(arg, str)]


def test_the_r3gan_snapshot_holds_the_optimizer_states_as_official_ones_do():
    strings = pickle_strings(R3GAN_PKL)
    assert {'G_opt_state', 'D_opt_state', 'exp_avg_sq', 'param_groups'} <= set(strings)
    assert network_pickle.read(R3GAN_PKL).G_ema.key == ('training.networks', 'Generator')
