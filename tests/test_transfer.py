"""Transfer: config.init_from (a new run from another run's networks) and FreezeD (config.freeze_d)."""

import logging
import os

import flax.linen as nn
import jax
import numpy as np
import pytest

from jaxgan import data, ensemble, models, optim, resume, train, transfer
from jaxgan.checkpoint import Checkpoints, load_run
from jaxgan.core import parallel
from jaxgan.errors import UserError
from jaxgan.families.gan import build_gan
from tests.conftest import tiny_config


def tree_equal(a, b):
    a, b = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def host(tree):
    return parallel.to_host(tree)


# ---- FreezeD's blocks ----

BLOCK_CASES = {
    'dcgan': dict(),
    'dcgan_layer_sn': dict(model__d_norm='layer', model__spectral_norm=True, image_size=32),
    'dcgan_minibatch': dict(model__minibatch_discrimination=4, model__d_norm='none'),
    'dcgan_projection': dict(conditioning__d='projection', conditioning__g='concat'),
    'resnet': dict(model__name='resnet', model__d_norm='layer'),
    'resnet_deep': dict(model__name='resnet', image_size=128, model__d_width=2, model__g_width=2,
                        model__d_norm='batch'),
    'mlp_maxout_acgan': dict(model__name='mlp', model__d_activation='maxout', model__d_hidden=(16, 8, 8),
                             conditioning__d='acgan', model__g_hidden=(8,)),
}


@pytest.mark.parametrize('case', sorted(BLOCK_CASES))
def test_discriminator_blocks_are_its_body_in_order_from_the_input(case):
    """Every param of D is in one block or in the head, and block i's layers all run before block i+1's:
    checked against the module itself (the layers' order of calls), so that a change to a model that
    renumbers its layers fails here."""
    config = tiny_config(**BLOCK_CASES[case])
    spec = data.load(config).spec
    d = build_gan(config, spec).discriminator
    blocks = models.discriminator_blocks(d)
    calls = []

    def record(next_fun, args, kwargs, context):
        path = context.module.scope.path if context.module.scope else ()
        if len(path) == 1 and path[0] not in calls:
            calls.append(path[0])
        return next_fun(*args, **kwargs)

    x = np.zeros((2, *spec.shape), np.float32)
    y = np.zeros((2,), np.int32) if config.conditioning.d != 'none' else None
    with nn.intercept_methods(record):
        variables = jax.eval_shape(lambda: d.init(jax.random.key(0), x, y, train=False))
    top = set(variables['params'])
    named = [name for block in blocks for name in block]
    assert len(named) == len(set(named)) and set(named) <= top, (blocks, sorted(top))
    head = top - set(named)
    assert head and all(h.startswith(('Heads_', 'MinibatchDiscrimination_')) or h == f'Conv_{len(blocks)}'
                        for h in head), head
    order = [[calls.index(name) for name in block] for block in blocks]
    assert all(max(a) < min(b) for a, b in zip(order, order[1:])), (blocks, calls)
    assert max(order[-1]) < min(calls.index(h) for h in head if h in calls)


def test_freeze_d_more_blocks_than_d_has_is_one_line_naming_the_count():
    config = tiny_config(freeze_d=3)  # DCGAN at 16 pixels: 2 blocks
    with pytest.raises(UserError, match='freeze_d=3: the discriminator .dcgan. has 2 blocks') as e:
        build_gan(config, data.load(config).spec)
    assert '\n' not in str(e.value)
    assert models.frozen_layers(build_gan(tiny_config(), data.load(config).spec).discriminator, 2) == (
        'Conv_0', 'Conv_1', 'BatchNorm_0')


def test_freeze_keeps_the_optimizer_state_layout():
    """A checkpoint's optimizer state does not depend on freeze_d (resumed with another k, it still reads)."""
    spec = data.load(tiny_config()).spec
    layouts = [jax.tree.structure(jax.eval_shape(lambda: gan.game.critic.optimizer.init({'D': gan.game.init(
        jax.random.key(0))[0]['D']}))) for gan in (build_gan(tiny_config(freeze_d=k), spec) for k in (0, 2))]
    assert layouts[0] == layouts[1]


def test_freeze_is_tx_itself_when_nothing_is_frozen():
    tx = optim.make(tiny_config().d_optimizer, 10)
    assert optim.freeze(tx, ()) is tx


# ---- init_from ----

@pytest.fixture(scope='module')
def source(tmp_path_factory):
    """A trained single run with checkpoints at steps 2 and 4."""
    workdir = str(tmp_path_factory.mktemp('source'))
    train.train(tiny_config(num_steps=4), workdir)
    return workdir


def test_init_from_copies_the_networks_at_step_with_fresh_optimizers_terms_and_step(source):
    config = tiny_config(init_from=f'{source}:2', seed=7, penalties__historical_averaging=0.1)
    mesh = parallel.make_mesh()
    gan = build_gan(config, data.load(config).spec)
    state = host(transfer.initial_state(gan, config, parallel.replicated(mesh)))
    _, _, at2 = load_run(source, 2, mesh)
    _, _, at4 = load_run(source, 4, mesh)
    at2, at4 = host(at2), host(at4)
    for part in ('params', 'model_state', 'ema'):
        assert tree_equal(getattr(state, part), getattr(at2, part)), part
    assert not tree_equal(state.params, at4.params)  # STEP chose the checkpoint
    assert not tree_equal(state.ema['G'], state.params['G'])  # the source's EMA, not a copy of G
    fresh = host(ensemble.fresh_state(gan, config, parallel.replicated(mesh)))
    assert int(state.step) == 0 and int(state.nonfinite_skips) == 0
    assert np.array_equal(state.rng, fresh.rng)  # the new run's own seed
    assert tree_equal(state.opt_state, fresh.opt_state)  # Adam's count 0 and moments 0
    assert not tree_equal(at2.opt_state, fresh.opt_state)
    # historical averaging's average starts from the transferred params, not from a fresh init
    assert tree_equal(state.terms['d_historical_averaging']['average'], {'D': at2.params['D']})


@pytest.mark.parametrize('init_from, overrides, message', [
    ('{tmp}/nowhere', {}, r'config.init_from=.*nowhere: there is no directory'),
    ('{tmp}', {}, r'holds no checkpoint'),
    ('{source}:3', {}, r'no checkpoint at step 3 in .*; there are \[2, 4\]'),
    ('{source}', {'model__d_width': 16}, r'holds another architecture or size \(params\.D\.'),
    ('{source}', {'init_member': '1'}, r'config.init_member=1: .* holds a single GAN'),
], ids=['missing', 'empty', 'step', 'architecture', 'member'])
def test_init_from_refuses_bad_sources_in_one_line_writing_nothing(source, tmp_path, init_from, overrides, message):
    workdir = tmp_path / 'new'
    config = tiny_config(init_from=init_from.format(tmp=tmp_path, source=source), **overrides)
    with pytest.raises(UserError, match=message) as e:
        train.train(config, str(workdir))
    assert '\n' not in str(e.value)
    assert not workdir.exists()


def test_init_from_names_the_arrays_of_another_architecture(source, tmp_path):
    config = tiny_config(init_from=source, model__d_width=16)
    with pytest.raises(UserError) as e:
        train.train(config, str(tmp_path / 'new'))
    assert 'params.D.Conv_0.kernel: (4, 4, 1, 8) in the checkpoint, (4, 4, 1, 16) now' in str(e.value)


def test_an_ensemble_source_needs_a_member_and_an_ensemble_starts_every_member_from_it(tmp_path):
    """A source that is an ensemble (saved by hand: no training needed) and a new run that is one."""
    mesh = parallel.make_mesh()
    rep = parallel.replicated(mesh)
    source_config = tiny_config(ensemble__size=2)
    gan = ensemble.member_gan(source_config, data.load(source_config).spec)
    stacked = ensemble.fresh_state(gan, source_config, rep)
    checkpoints = Checkpoints(str(tmp_path / 'src'), async_save=False)
    checkpoints.save(5, stacked, resume.meta(source_config, gan))
    checkpoints.close()
    config = tiny_config(init_from=str(tmp_path / 'src'))
    with pytest.raises(UserError, match=r'an ensemble of 2 members: .*--config.init_member=I \(0 to 1\)'):
        transfer.check(config, str(tmp_path / 'new'), gan)
    with pytest.raises(UserError, match=r'init_member=2: the ensemble in .* has members 0 to 1'):
        transfer.check(tiny_config(init_from=config.init_from, init_member='2'), str(tmp_path / 'new'), gan)
    config = tiny_config(init_from=config.init_from, init_member='1', ensemble__size=2)
    state = host(transfer.initial_state(gan, config, rep))
    member1 = host(ensemble.member_state(stacked, 1))
    for i in range(2):
        one = ensemble.member_state(state, i)
        for part in ('params', 'model_state', 'ema'):
            assert tree_equal(getattr(one, part), getattr(member1, part)), (i, part)
    assert not np.array_equal(state.rng[0], state.rng[1])  # each member its own seed


def test_init_from_with_freeze_d_trains_end_to_end_then_resumes_ignoring_init_from(source, tmp_path, caplog):
    workdir = str(tmp_path / 'new')
    _, _, start = load_run(source, None, parallel.make_mesh())
    start = host(start)
    # adamw's weight decay and the WGAN weight clip would move every param: the frozen block's stay bit for
    # bit, the rest (the next block, the head, G) move.
    config = tiny_config(init_from=source, freeze_d=1, num_steps=2, d_optimizer__name='adamw',
                         d_optimizer__weight_decay=0.5, d_optimizer__weight_clip=0.05)
    trained = host(train.train(config, workdir).state)
    checkpoints = Checkpoints(workdir, read_only=True)
    assert int(trained.step) == 2 and checkpoints.all_steps() == [2]
    checkpoints.close()
    assert tree_equal(trained.params['D']['Conv_0'], start.params['D']['Conv_0'])  # frozen
    for name in ('Conv_1', 'BatchNorm_0', 'Conv_2'):
        assert not tree_equal(trained.params['D'][name], start.params['D'][name]), name
    assert not tree_equal(trained.params['G'], start.params['G'])
    # Resumed from its own checkpoint: the source is no longer read (here it is gone), and a log line says so.
    caplog.set_level(logging.INFO)
    config.init_from = str(tmp_path / 'gone')
    resumed = host(train.train(config, workdir).state)
    assert tree_equal(resumed.params, trained.params)
    assert any('init_from' in r.getMessage() and 'ignored' in r.getMessage() for r in caplog.records)
    assert os.path.isdir(source)
