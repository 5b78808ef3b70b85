"""Differential privacy: DP-SGD of the critic (jaxgan.core.private), its accounting (jaxgan.privacy) and a
private table run (docs/privacy.md)."""

import json
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest
from jax.sharding import PartitionSpec as P

from jaxgan import config as config_lib, privacy, sample, train
from jaxgan.core import losses, parallel, private, terms as T
from jaxgan.core.game import Game, Network, Player
from jaxgan.core.state import create_state
from jaxgan.core.step import make_train_step
from jaxgan.data import table_privacy
from jaxgan.errors import UserError
from tests.conftest import set_fields
from tests.test_tabular import tiny_ctgan

def private_ctgan(**overrides):
    c = tiny_ctgan(None, n_critic=1, correlation=0.0)  # as experiments.ctgan's PRIVATE_DEFAULTS
    c.privacy.epsilon, c.privacy.delta = 3.0, 1e-5  # the embedded table's public bounds (table_privacy)
    set_fields(c, overrides)
    return c


# --- DP-SGD ---------------------------------------------------------------------------------------------


def gradient_on(mesh, units, dp, key):
    """private_gradient of the loss w . u on each unit u (its gradient is u itself), over `mesh`."""
    loss = lambda mine, unit, unit_key: (jnp.sum(mine['w'] * unit[0]), {})
    fn = jax.shard_map(lambda u: private.private_gradient(loss, {'w': jnp.zeros(3)}, u, key, dp)[::3],
                       mesh=mesh, in_specs=P(parallel.DATA), out_specs=P())
    return jax.tree.map(np.asarray, jax.jit(fn)(units))


def test_each_unit_is_clipped_and_the_noise_is_one_draw_whatever_the_devices():
    units = np.zeros((8, 1, 3), np.float32)
    units[:, 0, 0] = 0.5  # small gradients, left as they are
    units[3, 0] = [300.0, -400.0, 0.0]  # one huge unit: norm 500, clipped to C = 2
    eight, one = parallel.make_mesh(), parallel.make_mesh(jax.devices()[:1])
    key = jax.random.key(7)
    (grad, clipped) = gradient_on(eight, units, private.DPSGD(2.0, 0.0), key)
    expected = np.array([7 * 0.5 + 2.0 * 0.6, -2.0 * 0.8, 0.0]) / 8
    np.testing.assert_allclose(grad['w'], expected, rtol=1e-6)
    assert clipped == pytest.approx(1 / 8)
    noisy8, _ = gradient_on(eight, units, private.DPSGD(2.0, 1.5), key)
    noisy1, _ = gradient_on(one, units, private.DPSGD(2.0, 1.5), key)
    np.testing.assert_allclose(noisy8['w'], noisy1['w'], rtol=1e-5, atol=1e-6)  # one draw, not one per device
    assert not np.allclose(noisy8['w'], expected)
    np.testing.assert_allclose(noisy8['w'] - expected, noisy8['w'] - grad['w'], atol=1e-6)


class Dense(nn.Module):
    out: int
    norm: bool = False

    @nn.compact
    def __call__(self, x, *, train):
        x = nn.Dense(self.out)(x)
        return nn.BatchNorm(use_running_average=not train)(x) if self.norm else x


def toy_game(pack=2, d_norm=False, clip=1.0, sigma=1.0):
    d_module = Dense(1, norm=d_norm)
    networks = {'G': Network(Dense(4), lambda: (jnp.zeros((2, 3)),)),
                'D': Network(d_module, lambda: (jnp.zeros((2, 4 * pack)),))}
    packed = lambda x: x.reshape(x.shape[0] // pack, -1)
    quantities = {'d_real': lambda v: {'logits': v.nets('D', packed(v.real['x']))[:, 0]},
                  'd_fake': lambda v: {'logits': v.nets('D', packed(v.generated['x']))[:, 0]},
                  'd_of_x': lambda v: lambda x: v.nets('D', packed(x), update=False)[:, 0]}
    loss = losses.get('wasserstein')
    critic = Player('d', ('D',), optax.sgd(0.1), (T.DiscriminatorLoss('adv', 1.0, loss),
                                                  T.GradientPenalty('gp', 10.0, pack=pack)),
                    private=private.DPSGD(clip, sigma, unit=pack))
    generator = Player('g', ('G',), optax.sgd(0.1), (T.GeneratorLoss('g_adv', 1.0, loss),))
    noise = lambda key, n, b: {'z': jax.random.normal(key, (n, b, 3))}
    return Game(networks, generator, critic, noise, lambda nets, real, noise: {'x': nets('G', noise['z'])},
                quantities)


def test_a_private_step_is_the_same_on_one_device_and_on_eight():
    game = toy_game()
    x = jax.random.normal(jax.random.key(1), (1, 16, 4))
    out = []
    for devices in (jax.devices()[:1], jax.devices()):
        mesh = parallel.make_mesh(devices)
        state = create_state(game, 0, parallel.replicated(mesh))
        state, metrics = make_train_step(game, mesh)(state, {'x': parallel.place_batch(np.asarray(x), mesh, 1)})
        out.append(parallel.to_host((state.params, metrics)))
    for a, b in zip(jax.tree.leaves(out[0]), jax.tree.leaves(out[1])):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)


def test_a_critic_that_mixes_rows_is_refused():
    with pytest.raises(UserError, match=r'^config.privacy: the discriminator D keeps batch statistics'):
        private.check_game(toy_game(d_norm=True))
    game = toy_game()
    relativistic = Player('d', ('D',), optax.sgd(0.1), (T.DiscriminatorLoss('adv', 1.0, losses.get('ra_hinge')),))
    with pytest.raises(UserError, match=r"^config.privacy: the discriminator term 'adv' mixes examples"):
        private.check_game(Game(game.networks, game.generator, relativistic, game.noise, game.generate,
                                game.quantities))


# --- accounting -----------------------------------------------------------------------------------------


def rdp_epsilon(rows, batch, sigma, updates, count_noise, delta):
    """The same events through dp-accounting directly, with its own default orders."""
    from dp_accounting import dp_event as e
    from dp_accounting.rdp import rdp_privacy_accountant as rdp
    accountant = rdp.RdpAccountant(neighboring_relation=rdp.NeighborRel.REPLACE_ONE)
    step = e.SampledWithoutReplacementDpEvent(rows, batch, e.GaussianDpEvent(sigma / 2))
    accountant.compose(e.ComposedDpEvent([e.GaussianDpEvent(count_noise), e.SelfComposedDpEvent(step, updates)]))
    return accountant.get_epsilon(delta)


def test_the_calibrated_noise_spends_the_budget_and_no_less_noise_would_do():
    sigma, count_noise, _ = privacy.calibrate(3.0, 1e-5, 353, 50, 300, 0.1)  # no bounds estimated
    assert rdp_epsilon(353, 50, sigma, 300, count_noise, 1e-5) <= 3.0 * 1.001  # the default orders: within 0.1 %
    assert privacy.epsilon_of(353, 50, sigma, 300, count_noise, 1e-5) <= 3.0
    assert privacy.epsilon_of(353, 50, sigma * 0.995, 300, count_noise, 1e-5) > 3.0
    assert privacy.epsilon_of(353, 50, 1.0, 0, count_noise, 1e-5) == pytest.approx(0.3, rel=0.01)  # the counts' share
    # A second accountant: the PLD accountant on the counts' Gaussian mechanism, which it holds exactly (PLD
    # has no event for a sample without replacement); RDP's bound is above it, and not far.
    from dp_accounting import dp_event as e
    from dp_accounting.pld import pld_privacy_accountant as pld
    accountant = pld.PLDAccountant()
    accountant.compose(e.GaussianDpEvent(count_noise))
    assert 0.5 * 0.3 < accountant.get_epsilon(1e-5) <= 0.3


def test_a_budget_too_small_delta_too_large_or_epsilon_not_positive_is_refused(tmp_path):
    for overrides, message in [
            ({'privacy__epsilon': 0.0}, r'^config.privacy.epsilon=0.0 must be positive'),
            ({'privacy__delta': 0.01}, r'^config.privacy.delta=0.01 must be below 1 / training rows = 1/354'),
            ({'privacy__epsilon': 0.01}, r'^config.privacy.epsilon=0.01: too small for 4 critic updates of 80 of 354 '
                                         r'rows: even at the largest noise multiplier 200'),
            ({'ensemble__size': 2}, r'^config.privacy: config.ensemble.size=2'),
            ({'data__limit': 100}, r'^config.privacy: config.data.limit=100'),
            ({'loss': 'ra_hinge'}, r"^config.privacy: the discriminator term 'd_adversarial' mixes"),
            ({'batch_size': 400}, r'^config.batch_size=400: a private run samples its batch')]:
        workdir = tmp_path / str(len(os.listdir(tmp_path)))
        with pytest.raises(UserError, match=message):
            train.train(private_ctgan(**overrides), str(workdir))
        assert not (workdir / 'checkpoints').exists() and not (workdir / 'config.json').exists()
    with pytest.raises(UserError, match=r"^config.privacy.bounds: 'a=2:1' must be COLUMN=LOW:HIGH"):
        privacy.parse_bounds('a=2:1')
    with pytest.raises(UserError, match=r'^config.privacy.epsilon: differential privacy is built for tables'):
        config_lib.validate(_dcgan_private(), num_devices=1)


def _schema(**fields) -> table_privacy.Schema:
    c = private_ctgan()
    set_fields(c, {f'privacy__{k}': v for k, v in fields.items()})
    return table_privacy.Schema.of(c, 'csv:x', ['a', 'b', 'c', 'g', 'flag', 'sex'])


def test_the_schema_is_declared_not_read_from_the_rows():
    """A private run's columns, kinds, category sets and missing cells come from the declaration: two tables
    that differ in a category present, a missing cell or an integer column's values give the same transform
    (counts apart), and rows the declaration does not cover are refused in one line."""
    schema = _schema(bounds='a=0:10', categories='g=x|y|z;flag=true|false', missing='a,g')
    kinds = schema.kinds(['a', 'g', 'flag'])
    assert kinds == {'a': 'continuous', 'g': 'categorical', 'flag': 'boolean'}
    fit = lambda df: table_privacy.fit(df, schema, kinds, count_std=0.0, uniform=True, seed=0, secret=1, modes=4)
    one = fit(pd.DataFrame({'a': [1.0, 2.5, None], 'g': ['x', 'x', None], 'flag': [True, False, True]}))
    two = fit(pd.DataFrame({'a': [9.0, 3.0, 4.0], 'g': ['y', 'z', 'x'], 'flag': [False, False, False]}))
    assert one.to_json() == two.to_json()
    by_name = {info.name: info for info in one.columns}
    assert by_name['g'].categories == ('x', 'y', 'z', None) and by_name['flag'].categories == (True, False)
    assert by_name['a'].missing and (by_name['a'].minimum, by_name['a'].maximum) == (0.0, 10.0)
    for rows, message in [({'a': [1.0], 'g': ['w'], 'flag': [True]}, r"^config.privacy.categories: column 'g' holds 'w'"),
                          ({'a': [1.0], 'g': ['x'], 'flag': [None]}, r"^config.privacy.missing: column 'flag' has missing"),
                          ({'a': [1.0], 'g': ['x'], 'flag': ['maybe']}, r"^column 'flag' is boolean")]:
        with pytest.raises(UserError, match=message):
            fit(pd.DataFrame(rows))
    for fields, columns, message in [
            ({'bounds': 'a=0:1'}, ['a', 'b', 'c'], r"^config.privacy: columns 'b', 'c' declared neither numerical"),
            ({'bounds': 'a=0:1', 'categories': 'a=1|2'}, ['a'], r"^config.privacy: column 'a' is declared both"),
            ({'bounds': 'a=0:1;q=1:2'}, ['a'], r"^config.privacy.bounds: the table has no column 'q'"),
            ({'bounds': 'a=0:1', 'missing': 'q'}, ['a'], r"^config.privacy.missing: the table has no column 'q'")]:
        with pytest.raises(UserError, match=message):
            _schema(**fields).kinds(columns)
    with pytest.raises(UserError, match=r"^config.privacy.categories: 'g=x\|x' must be COLUMN=A\|B"):
        privacy.parse_categories('g=x|x')
    with pytest.raises(UserError, match=r"^config.privacy.categories: column 'sex': 1\|1.0 name the same number twice"):
        table_privacy.fit(pd.DataFrame({'sex': [1]}), _schema(categories='sex=1|1.0'), {'sex': 'categorical'},
                          count_std=0.0, uniform=True, seed=0, secret=1)
    numbers = _schema(categories='sex=1|2')
    info = table_privacy.fit(pd.DataFrame({'sex': [2.0, 2.0]}), numbers, {'sex': 'categorical'}, count_std=0.0,
                             uniform=False, seed=0, secret=1).columns[0]
    assert info.categories == (1, 2) and info.counts == (1, 2)  # 1 is declared, absent, and kept (count at least 1)
    # The output type comes from the declaration, not from the rows (a missing cell would make them floats).
    assert info.dtype == 'int64' and by_name['g'].dtype == 'object' and by_name['flag'].dtype == 'bool'
    c = private_ctgan(table__drop='sex')  # a dropped column leaves the embedded table's schema with it
    assert 'sex' not in table_privacy.Schema.of(c, 'table:diabetes', ['age', 'bmi']).categories


def test_the_bins_of_a_numerical_column_are_released_as_its_mode_weights_where_g_matches_them():
    schema = _schema(bounds='a=0:10')
    rows = pd.DataFrame({'a': [0.5, 1.5, 1.7, 9.9, 12.0]})  # bins of 2.5: 3 in the first, 2 in the last (12 clipped)
    fit = lambda **kw: table_privacy.fit(rows, schema, {'a': 'continuous'}, seed=0, secret=1, modes=4, **kw).columns[0]
    assert fit(count_std=0.0, uniform=False, bins=True).weights == (0.6, 0.0, 0.0, 0.4)
    assert fit(count_std=0.0, uniform=False).weights == (0.25,) * 4  # no marginals: nothing released
    assert fit(count_std=0.0, uniform=True, bins=True).weights == (0.25,) * 4  # no counts released at all
    noisy = fit(count_std=3.0, uniform=False, bins=True).weights
    assert noisy != (0.6, 0.0, 0.0, 0.4) and min(noisy) >= 0 and abs(sum(noisy) - 1) < 1e-9
    c = private_ctgan()
    assert privacy.histograms(c, 1, 10) == 1
    c.table.marginals = 1.0
    assert privacy.histograms(c, 1, 10) == 11  # the counts' noise grows with sqrt(2 k)


def _dcgan_private():
    c = config_lib.base_config()
    c.privacy.epsilon, c.privacy.delta = 1.0, 1e-5
    return c


# --- a private run --------------------------------------------------------------------------------------


def test_a_private_run_logs_saves_and_publishes_its_epsilon_and_stops_at_its_budget(tmp_path):
    config = private_ctgan()
    workdir = tmp_path / 'run'
    trained = train.train(config, str(workdir))
    plan = trained.gan.privacy
    metrics = [json.loads(line) for line in open(workdir / 'metrics.jsonl')]
    assert [m['privacy_epsilon'] for m in metrics] == pytest.approx([plan.spent(2), plan.spent(4)])
    assert metrics[0]['privacy_epsilon'] < metrics[1]['privacy_epsilon'] <= 3.0
    assert 0 <= metrics[-1]['d_clipped'] <= 1

    from jaxgan.checkpoint import Checkpoints
    checkpoints = Checkpoints(str(workdir), read_only=True)
    record = checkpoints.read_meta(4)['privacy']
    checkpoints.close()
    assert (record['critic_updates_done'], record['noise_multiplier']) == (4, plan.sigma)
    assert record['epsilon_spent'] == pytest.approx(metrics[-1]['privacy_epsilon'])

    out = tmp_path / 'rows.csv'
    sidecar = sample.write_privacy(trained.gan, 4, str(out))
    meta = json.load(open(sidecar))['differential_privacy']
    assert (meta['epsilon'], meta['delta']) == (pytest.approx(record['epsilon_spent']), 1e-5)

    # Resuming goes on within the plan; a plan of more steps would spend more than the budget: refused.
    plan.check_resume(record, 4)
    longer = private_ctgan(num_steps=40)
    with pytest.raises(UserError, match=r'^config.privacy: the checkpoint at step 4 spent epsilon 3 of 3 .* would '
                                        r'make it [\d.]+: a private run goes on only within the budget'):
        train.train(longer, str(workdir))
    with pytest.raises(UserError, match=r'^config.privacy: the checkpoint at step 4 was trained without privacy'):
        plan.check_resume(None, 4)
    older = {k: v for k, v in record.items() if k != 'histograms'}  # a record written before the marginals
    plan.check_resume({**older, 'discrete_columns': record['histograms']}, 4)
    # Another release of the counts (more columns released, or the same noise on another schema): refused.
    with pytest.raises(UserError, match=r'^config.privacy: the checkpoint at step 4 spent epsilon 3 of 3'):
        train.train(private_ctgan(table__marginals=1.0), str(workdir))
    with pytest.raises(UserError, match=r'^config.privacy: the checkpoint at step 4 was trained on another release'):
        train.train(private_ctgan(privacy__bounds='age=0:150'), str(workdir))


def test_a_private_runs_noise_is_drawn_with_its_secret_and_a_resume_reads_it_back(tmp_path):
    params = lambda trained: np.concatenate([np.ravel(a) for a in jax.tree.leaves(trained.state.params)])
    first = train.train(private_ctgan(), str(tmp_path / 'a'))
    secret = privacy.read_secret(str(tmp_path / 'a'))
    assert secret and os.stat(tmp_path / 'a' / privacy.SECRET_FILE).st_mode & 0o777 == 0o600
    assert 'secret' not in json.load(open(tmp_path / 'a' / 'config.json'))['config']['privacy']  # the config is shared
    # The same seed with another secret: other noise, other rows, other params (a known seed replays nothing);
    # a secret left in a workdir without checkpoints is not reused by a fresh run.
    os.makedirs(tmp_path / 'b')
    privacy.write_secret(str(tmp_path / 'b'), secret)
    other = train.train(private_ctgan(), str(tmp_path / 'b'))
    assert privacy.read_secret(str(tmp_path / 'b')) not in (secret, None)
    assert not np.allclose(params(first), params(other))
    # The last checkpoint set aside, the run resumes at step 2 with the secret it drew: its params, bit for bit.
    from jaxgan.checkpoint import Checkpoints
    checkpoints = Checkpoints(str(tmp_path / 'a'))
    checkpoints.set_aside(4)
    checkpoints.close()
    resumed = train.train(private_ctgan(), str(tmp_path / 'a'))
    assert int(resumed.state.step) == 4 and privacy.read_secret(str(tmp_path / 'a')) == secret
    np.testing.assert_array_equal(params(resumed), params(first))


def test_a_private_run_refuses_the_correlation_loss_which_reads_the_real_rows(tmp_path):
    with pytest.raises(UserError, match=r"^config.table.correlation=1.0: G's correlation loss reads the real rows, "
                                        r"which DP-SGD does not cover; set it to 0"):
        train.train(private_ctgan(table__correlation=1.0), str(tmp_path / 'run'))
    assert not (tmp_path / 'run').exists()


def test_the_private_defaults_apply_under_privacy_alone_and_leave_the_fields_the_user_set():
    from experiments import ctgan
    plain = ctgan.get_config()
    assert ctgan.private_defaults(plain) is plain  # no privacy: CTGAN's packs, critic updates and epochs
    private = ctgan.get_config()
    private.privacy.epsilon, private.privacy.delta = 3.0, 1e-5
    tuned = ctgan.private_defaults(private, kept={'model.pack'})
    assert (tuned.model.pack, tuned.n_critic, tuned.table.epochs) == (10, 1, ctgan.PRIVATE_DEFAULTS['table.epochs'])
    assert (private.n_critic, private.table.epochs) == (5, 300)  # a copy: the config given is untouched
