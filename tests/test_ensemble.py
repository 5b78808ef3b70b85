"""Ensembles: N GANs of one config in one jitted step (jaxgan.ensemble)."""

import json
import os

import jax
import ml_collections
import numpy as np
import pytest

from jaxgan import batches, ensemble, monitor, train
from jaxgan.checkpoint import load_run
from jaxgan.core import parallel
from jaxgan.errors import UserError
from tests.conftest import run_cli, tiny_config


def leaves(state):
    return jax.tree.leaves(parallel.to_host(state))


def assert_close(a, b, rtol=2e-4, atol=2e-5):
    for x, y in zip(leaves(a), leaves(b), strict=True):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def test_each_member_trains_as_the_single_run_of_its_seed_and_values(tmp_path):
    # Member i: seed 0 + i, and the i-th learning rate of the list; its own data order.
    config = tiny_config(num_steps=2, ensemble__size=2, ensemble__sweep_kind='list',
                         ensemble__sweep='d_optimizer.learning_rate=2e-4,1e-3')
    both = train.train(config, str(tmp_path / 'ensemble')).state
    assert parallel.to_host(both.step).tolist() == [2, 2]
    first = train.train(tiny_config(num_steps=2), str(tmp_path / 'seed0')).state
    second = train.train(tiny_config(num_steps=2, seed=1, d_optimizer__learning_rate=1e-3),
                         str(tmp_path / 'seed1')).state
    assert_close(ensemble.member_state(both, 0), first)
    assert_close(ensemble.member_state(both, 1), second)
    # The members did differ: another seed, another learning rate.
    assert not np.allclose(leaves(both.params)[0][0], leaves(both.params)[0][1])


def test_resume_is_exact_for_every_member_logs_are_per_member_and_tools_take_a_member(tmp_path, python_env):
    config = lambda steps: tiny_config(num_steps=steps, ensemble__size=3, ensemble__shared_data=True,
                                       ensemble__sweep='g_optimizer.learning_rate=1e-4,2e-4,4e-4')
    straight = train.train(config(4), str(tmp_path / 'a')).state
    train.train(config(2), str(tmp_path / 'b'))
    resumed = train.train(config(4), str(tmp_path / 'b')).state
    for x, y in zip(leaves(straight), leaves(resumed), strict=True):
        assert np.array_equal(x, y)
    rows = [json.loads(line) for line in open(tmp_path / 'b' / 'metrics.jsonl')]
    assert [(r['step'], r['member']) for r in rows] == [(2, 0), (2, 1), (2, 2), (4, 0), (4, 1), (4, 2)]
    assert sorted(os.listdir(tmp_path / 'b' / 'tensorboard')) == [
        *sorted(f for f in os.listdir(tmp_path / 'b' / 'tensorboard') if f.startswith('events')),
        'member_0', 'member_1', 'member_2']
    samples = sorted(os.listdir(tmp_path / 'b' / 'samples'))
    assert samples == [f'member_{i}_step_0000000{s}.png' for i in range(3) for s in (2, 4)]
    _tools_take_a_member_by_index_or_by_its_evaluation(tmp_path / 'b', tmp_path, python_env)


def _tools_take_a_member_by_index_or_by_its_evaluation(workdir, tmp_path, python_env):
    config, gan, state = load_run(str(workdir), member='1')
    assert (config.seed, config.g_optimizer.learning_rate, int(parallel.to_host(state.step))) == (1, 2e-4, 4)
    assert leaves(state.params)[0].shape == leaves(gan.game.init(jax.random.key(0))[0])[0].shape
    with pytest.raises(UserError, match=r'holds an ensemble of 3 members: pass --member=I \(0 to 2\)'):
        load_run(str(workdir))
    with pytest.raises(UserError, match='needs evaluations of the members with fid on record'):
        load_run(str(workdir), member='best')
    os.makedirs(workdir / 'eval')
    for member, fid in ((0, 30.0), (1, 20.0), (2, 25.0)):
        (workdir / 'eval' / f'step_00000004_member_{member}.json').write_text(
            json.dumps({'member': member, 'metrics': {'fid': fid, 'is': 3.0 - member}, 'protocol': {'step': 4}}))
    assert ensemble.best_member(str(workdir)) == 1
    assert ensemble.best_member(str(workdir), 'is') == 0
    out = tmp_path / 'member.npy'
    result = run_cli(['-m', 'jaxgan.sample', f'--workdir={workdir}', '--member=best', '--num=4', f'--out={out}'],
                     python_env, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert np.load(out).shape == (4, 16, 16, 1)
    bad = run_cli(['-m', 'jaxgan.sample', f'--workdir={workdir}', '--member=3', '--num=4', f'--out={out}'],
                  python_env, tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].endswith(
        '--member=3: the ensemble has members 0 to 2')


def test_shared_data_is_one_stream_and_own_data_one_per_seed(tmp_path):
    from jaxgan import data
    config = tiny_config(ensemble__size=3, seed=5)
    dataset = data.load(config)
    gan = ensemble.member_gan(config, dataset.spec)
    own = batches.member_batchers(config, dataset, gan)
    shared = batches.member_batchers(tiny_config(ensemble__size=3, ensemble__shared_data=True), dataset, gan)
    try:
        assert [s[''].seed for s in own] == [5, 6, 7] and len(shared) == 1
        assert not np.array_equal(own[0][''].batch(0)['x'], own[1][''].batch(0)['x'])
    finally:
        for b in [*own, *shared]:
            b[''].close()


def test_a_diverging_member_is_frozen_and_the_others_train_on(tmp_path, caplog):
    config = tiny_config(num_steps=4, ensemble__size=2, ensemble__sweep_kind='list',
                         ensemble__sweep='d_optimizer.learning_rate=2e-4,1e38')
    with caplog.at_level('WARNING'):
        state = train.train(config, str(tmp_path)).state
    assert 'member 1: non-finite' in caplog.text and 'member frozen' in caplog.text
    assert 'member 0: non-finite' not in caplog.text
    assert all(np.isfinite(x).all() for x in leaves(state.params))  # frozen at its last finite state
    assert ensemble.halted(state, config).tolist() == [False, True]
    assert parallel.to_host(state.nonfinite_skips)[0] == 0
    # Every member diverging stops the run.
    with pytest.raises(monitor.NonFiniteError, match='every member of the ensemble is frozen'):
        train.train(tiny_config(num_steps=4, ensemble__size=2, d_optimizer__learning_rate=1e38),
                    str(tmp_path / 'all'))


def _config_with(**overrides) -> ml_collections.ConfigDict:
    return tiny_config(ensemble__size=2, **overrides)


@pytest.mark.parametrize('overrides, message', [
    (dict(ensemble__sweep='g_optimizer.learnig_rate=1e-4,2e-4'),
     r'no field config.g_optimizer.learnig_rate \(did you mean g_optimizer.learning_rate'),
    (dict(ensemble__sweep='n_critic=1,2'), r'config.n_critic=1 cannot differ between members: only real-valued'),
    (dict(ensemble__sweep='seed=1,2'), r'config.seed cannot be swept'),
    (dict(ensemble__sweep='ema.decay=0.9,x'), r'the values of ema.decay \(0.9,x\) are not all numbers'),
    (dict(ensemble__sweep='ema.decay'), r"'ema.decay' is not FIELD=VALUE"),
    (dict(ensemble__sweep='ema.decay=0.9,0.99,0.999', ensemble__sweep_kind='list'),
     r'each needs config.ensemble.size=2 values, but ema.decay has 3'),
    (dict(ensemble__sweep='ema.decay=0.9,0.99,0.999'), r'a grid of 3 combinations: config.ensemble.size=2 must be'),
    (dict(ensemble__sweep='penalties.r1=0,1', model__d_norm='layer'), r'member 1 .* trains the terms'),
    (dict(ensemble__sweep='g_optimizer.grad_clip=0,1'),  # member 0 clips no gradient, member 1 does
     r'config.g_optimizer.grad_clip cannot differ between members: the program branches on its value'),
    (dict(ensemble__sweep='ema.decay=0.9,1.5'), r'config.ema.decay=1.5 must be in \[0, 1\)'),
])
def test_a_sweep_that_is_not_one_program_is_refused(tmp_path, overrides, message):
    with pytest.raises(UserError, match=message):
        train.train(_config_with(**overrides), str(tmp_path))
    assert not os.path.exists(tmp_path / 'checkpoints')  # refused before anything is written


def test_a_field_the_step_does_not_read_is_refused(tmp_path):
    config = _config_with(ensemble__sweep='host_only=0.5,1.5')
    with config.unlocked():
        config.host_only = 1.0  # a real-valued field that nothing in the step reads
    with pytest.raises(UserError, match='config.host_only is not a value in the train step'):
        train.train(config, str(tmp_path))


def test_a_sweep_without_an_ensemble_is_refused():
    with pytest.raises(UserError, match='needs config.ensemble.size >= 2'):
        ensemble.member_values(tiny_config(ensemble__sweep='ema.decay=0.9'))


def test_grid_members_cycle_through_the_combinations():
    config = tiny_config(ensemble__size=8, ensemble__sweep='g_optimizer.learning_rate=1,2;ema.decay=0.1,0.2')
    values = ensemble.member_values(config)
    assert values['g_optimizer.learning_rate'].tolist() == [1, 1, 2, 2] * 2
    assert values['ema.decay'].tolist() == [0.1, 0.2, 0.1, 0.2] * 2
    member = ensemble.member_config(config, 6)
    assert (member.seed, member.g_optimizer.learning_rate, member.ema.decay, member.ensemble.size) == (6, 2.0, 0.1, 1)




def test_an_ensemble_of_no_members_is_refused(tmp_path):
    with pytest.raises(UserError, match=r'config.ensemble.size=0 must be an integer >= 1'):
        train.train(tiny_config(ensemble__size=0), str(tmp_path))


def test_a_swept_value_computes_with_each_members_number_and_decides_only_what_every_member_shares():
    values = {'penalties.r1': np.array([1.0, 10.0]), 'g_optimizer.grad_clip': np.array([0.0, 1.0])}
    config = ensemble.swept_config(tiny_config(), {'penalties.r1': jax.numpy.float32(1.0),
                                                   'g_optimizer.grad_clip': jax.numpy.float32(0.0)}, values)
    r1 = config.penalties.r1
    assert bool(r1 > 0) and float(0.5 * r1) == 0.5  # every member has r1 > 0; the arithmetic is traced's
    with pytest.raises(ensemble.SweptBranch, match=r'config.g_optimizer.grad_clip cannot differ between members'):
        bool(config.g_optimizer.grad_clip > 0)  # member 0 would clip, member 1 not: not one program
    with pytest.raises(ensemble.SweptBranch):
        float(r1)  # a Python number of its own: the members' differ

    def per_member(v):
        swept = ensemble.swept_config(tiny_config(), {'penalties.r1': v}, {'penalties.r1': values['penalties.r1']})
        return 2.0 * swept.penalties.r1 + jax.numpy.ones(()) * swept.penalties.r1
    assert jax.vmap(per_member)(jax.numpy.asarray(values['penalties.r1'])).tolist() == [3.0, 30.0]


def test_a_value_every_member_decides_alike_on_is_swept():
    """grad_clip=1,2: both members clip (the decision), each at its own norm (the number): one program."""
    from jaxgan import data
    from jaxgan.core import parallel
    config = tiny_config(ensemble__size=2, ensemble__sweep='g_optimizer.grad_clip=1,2')
    ensemble.check(config, data.load(config).spec, parallel.make_mesh())  # refused before Swept values


@pytest.mark.parametrize('sweep', ['ema.decay=0.9,0.99', 'g_optimizer.b1=0.5,0.9', 'd_optimizer.b2=0.99,0.999',
                                   'g_optimizer.learning_rate=1e-4,2e-4', 'penalties.r1=1,10'])
def test_the_documented_sweeps_are_one_program(sweep):
    """docs/ensembles.md's sweepable fields (learning rates, betas, loss and penalty weights, the EMA decay)
    through optax's jitted helpers and jnp functions: each member computes with its own number."""
    from jaxgan import data
    from jaxgan.core import parallel
    config = tiny_config(ensemble__size=2, ensemble__sweep_kind='list', ensemble__sweep=sweep, model__d_norm='layer')
    ensemble.check(config, data.load(config).spec, parallel.make_mesh())


def test_a_swept_value_is_a_pytree_leaf_and_compares_member_by_member():
    a = ensemble.Swept(jax.numpy.float32(1.0), (1.0, 2.0), 'a')
    b = ensemble.Swept(jax.numpy.float32(2.0), (2.0, 3.0), 'b')
    assert bool(a < b)  # member 0: 1 < 2, member 1: 2 < 3 (not every pairing: 2 < 2 is false)
    assert f'{a:.1f}' == '(1.0, 2.0)' and jax.tree.leaves(a) == [a.traced]
    assert float(jax.jit(lambda s: s * 2)(a)) == 2.0 and float(jax.numpy.minimum(a, 0.5)) == 0.5
