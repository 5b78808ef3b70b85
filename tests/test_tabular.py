"""CTGAN as a game (jaxgan.families.tables): its pieces against their closed forms, and a tiny run end to end:
train, resume, sample rows in the input's schema, condition them, evaluate them."""

import dataclasses
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest

from jaxgan import train
from jaxgan.families import tables as tabular
from jaxgan.core import terms as T
from jaxgan.data import tables
from tests.conftest import run_cli
from tests.test_step import tree_equal


@dataclasses.dataclass(frozen=True)
class Layout:
    """What `activate` reads of a TableTransform: its spans."""

    spans: tuple


LAYOUT = Layout((tables.Span(0, 1, 'tanh'), tables.Span(1, 3, 'softmax'), tables.Span(4, 2, 'softmax')))


def test_activate_is_tanh_on_scalars_and_gumbel_softmax_on_one_hot_blocks():
    raw = jax.random.normal(jax.random.key(0), (5, 6)) * 3
    gumbel = jax.random.gumbel(jax.random.key(1), (5, 6))
    out = np.asarray(tabular.activate(raw, gumbel, LAYOUT, tau=0.2))
    np.testing.assert_allclose(out[:, 0], np.tanh(raw[:, 0]), rtol=1e-6)
    expected = jax.nn.softmax((raw[:, 1:4] + gumbel[:, 1:4]) / 0.2, axis=-1)
    np.testing.assert_allclose(out[:, 1:4], expected, rtol=1e-5)
    np.testing.assert_allclose(out[:, 1:4].sum(1), 1, rtol=1e-5)
    np.testing.assert_allclose(out[:, 4:].sum(1), 1, rtol=1e-5)


def test_activate_and_the_conditional_loss_have_the_gradients_of_a_softmax_per_block():
    """The blocks go through one segment log-softmax; its values and gradients are those of a softmax
    (and cross-entropy) taken block by block, extreme logits included."""
    raw = jax.random.normal(jax.random.key(5), (2, 3, 6)) * jnp.array([1, 40, 1, 1, 1, 30.0])
    gumbel = jax.random.gumbel(jax.random.key(6), raw.shape)
    weights = jax.random.normal(jax.random.key(7), raw.shape)

    def per_block(raw):
        parts = [jnp.tanh(raw[..., :1])] + [jax.nn.softmax((raw[..., a:b] + gumbel[..., a:b]) / 0.2, axis=-1)
                                            for a, b in ((1, 4), (4, 6))]
        return jnp.concatenate(parts, axis=-1)

    fused = lambda raw: tabular.activate(raw, gumbel, LAYOUT, tau=0.2)
    np.testing.assert_allclose(fused(raw), per_block(raw), rtol=1e-5, atol=1e-7)
    grad = lambda f: jax.grad(lambda r: jnp.sum(f(r) * weights))(raw)
    np.testing.assert_allclose(grad(fused), grad(per_block), rtol=1e-4, atol=1e-6)

    c = jnp.zeros((2, 3, 5)).at[..., 1].set(1.0).at[1, :, :3].set(0.0).at[1, :, 4].set(1.0)
    term = tabular.ConditionalLoss('conditional', 1.0, ((4, 2, 3), (1, 3, 0)))  # in any order
    reference = lambda r: jnp.mean(optax.softmax_cross_entropy(r[..., 1:4], c[..., :3])
                                   + optax.softmax_cross_entropy(r[..., 4:6], c[..., 3:]))
    loss = lambda r: term(_View({'raw': r}, {'c': c}))
    np.testing.assert_allclose(loss(raw), reference(raw), rtol=1e-6)
    np.testing.assert_allclose(jax.grad(loss)(raw), jax.grad(reference)(raw), rtol=1e-5, atol=1e-7)


def test_gumbel_softmax_samples_categories_by_their_softmax():
    """The argmax of a Gumbel-perturbed block is a draw from softmax(logits): how sampling picks categories."""
    logits = jnp.log(jnp.array([0.6, 0.3, 0.1]))
    raw = jnp.tile(jnp.concatenate([jnp.zeros(1), logits, jnp.zeros(2)]), (20_000, 1))
    out = tabular.activate(raw, jax.random.gumbel(jax.random.key(2), raw.shape), LAYOUT, tau=0.2)
    freq = np.bincount(np.asarray(out[:, 1:4]).argmax(1), minlength=3) / len(raw)
    np.testing.assert_allclose(freq, [0.6, 0.3, 0.1], atol=0.015)


class _View:
    def __init__(self, generated, real):
        self.generated, self.real = generated, real


def test_conditional_loss_is_the_cross_entropy_of_the_conditioned_column_only():
    raw = jax.random.normal(jax.random.key(3), (4, 6))
    # Column spans: rows [1:4) (cond [0:3)) and [4:6) (cond [3:5)). Rows 0, 1 conditioned on column 1, rows 2, 3 on 2.
    c = jnp.array([[0, 1, 0, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 1, 0]], jnp.float32)
    term = tabular.ConditionalLoss('conditional', 2.0, ((1, 3, 0), (4, 2, 3)))
    ce = lambda logits, k: -jax.nn.log_softmax(logits)[k]
    expected = 2.0 * (ce(raw[0, 1:4], 1) + ce(raw[1, 1:4], 0) + ce(raw[2, 4:6], 1) + ce(raw[3, 4:6], 0)) / 4
    np.testing.assert_allclose(term(_View({'raw': raw}, {'c': c})), expected, rtol=1e-6)


def test_the_marginal_loss_is_the_kl_from_the_targets_to_the_batch_marginal_of_each_mode_block():
    """Spans: a tanh scalar [0], a mode block [1:4) with targets, a category block [4:6) without."""
    blocks, targets = (0, 1, 1, 1, 2, 2), (0.0, 0.5, 0.5, 0.0, 0.0, 0.0)
    term = tabular.MarginalLoss('marginals', 2.0, blocks, targets, matched=1)
    raw = jax.random.normal(jax.random.key(5), (8, 6))
    q = jnp.mean(jax.nn.softmax(raw[:, 1:4]), axis=0)
    expected = 2.0 * (0.5 * np.log(0.5 / q[0]) + 0.5 * np.log(0.5 / q[1]))
    np.testing.assert_allclose(term(_View({'raw': raw}, {})), expected, rtol=1e-5)
    matched = jnp.zeros((8, 6)).at[:4, 1].set(30.0).at[4:, 2].set(30.0)  # half the rows in mode 0, half in 1
    np.testing.assert_allclose(term(_View({'raw': matched}, {})), 0.0, atol=1e-6)
    assert float(term(_View({'raw': jnp.zeros((8, 6)).at[:, 1].set(30.0)}, {}))) > 1.0  # every row in mode 0


def _dependent_table(n=1500, seed=0):
    """Three numbers (a bimodal one, one linear in it with missing cells, one exponential in that) and a category."""
    rng = np.random.default_rng(seed)
    a = np.concatenate([rng.normal(0, 1, n // 2), rng.normal(6, 1, n - n // 2)])
    b = 0.5 * a + rng.normal(0, 1, n)
    c = np.exp(b / 2) + rng.normal(0, 0.1, n)
    b[rng.random(n) < 0.1] = np.nan
    df = pd.DataFrame({'a': a, 'b': b, 'c': c, 'g': rng.choice(['x', 'y'], n)})
    kinds = {'a': 'continuous', 'b': 'continuous', 'c': 'continuous', 'g': 'categorical'}
    return df, tables.TableTransform.fit(df, kinds, seed=0)


def _on_one_device(fn):
    """fn under the data axis the step's shard_map names, on one device."""
    from jaxgan.core.parallel import DATA
    return lambda *args: jax.tree.map(lambda a: a[0], jax.vmap(fn, axis_name=DATA)(*(a[None] for a in args)))


def test_the_correlation_loss_reads_pearson_and_rank_correlations_as_the_decoded_rows_have_them():
    """The term decodes each number as `inverse` does (a missing cell weighted out of its pairs): its
    correlations of encoded rows are pandas' pairwise Pearson, and those of the mixture's CDF scores
    Spearman's, of the decoded table."""
    df, transform = _dependent_table()
    x = jnp.asarray(transform.transform(df, seed=0))
    term = tabular.correlation_loss('correlation', 3.0, transform)
    pearson, scores, held = _on_one_device(term.correlations)(x)
    assert np.all(held)
    decoded = transform.inverse(np.asarray(x), seed=0)[['a', 'b', 'c']]
    np.testing.assert_allclose(pearson, decoded.corr().values, atol=2e-4)
    np.testing.assert_allclose(scores, decoded.corr('spearman').values, atol=0.01)
    assert decoded.corr().values[1, 2] < decoded.corr('spearman').values[1, 2] - 0.05  # the two differ here

    loss = _on_one_device(lambda real, fake: term(_View({'x': fake}, {'x': real})))
    assert float(loss(x, x)) == pytest.approx(0.0, abs=1e-6)
    shuffled = df.assign(b=df['b'].sample(frac=1, random_state=1).values)  # b's pairs broken, its marginal kept
    fake = jnp.asarray(transform.transform(shuffled, seed=0))
    p_fake, s_fake, _ = _on_one_device(term.correlations)(fake)
    upper = np.triu_indices(3, 1)
    expected = 3.0 * (np.sum(np.square(p_fake - pearson)[upper]) + np.sum(np.square(s_fake - scores)[upper])) / 6
    np.testing.assert_allclose(loss(x, fake), expected, rtol=1e-5)
    assert float(loss(x, fake)) > 0.1
    grad = jax.grad(lambda f: loss(x, f))(fake)
    alphas = np.asarray(term.alphas)
    assert np.all(np.abs(np.asarray(grad)[:, alphas]).sum(0) > 0)  # it reaches every number's value

    # A batch whose rows all miss b: its pairs are left out (the loss of the pair a, c alone), finite, with a
    # finite gradient.
    missing = np.asarray(x).copy()
    flag = term.present[1]
    missing[:, flag], missing[:, flag + 1] = 0.0, 1.0
    missing = jnp.asarray(missing)
    p_miss, s_miss, held = _on_one_device(term.correlations)(missing)
    assert not held[0, 1] and not held[1, 2] and held[0, 2]
    only_ac = 3.0 * (np.square(p_miss[0, 2] - pearson[0, 2]) + np.square(s_miss[0, 2] - scores[0, 2])) / 6
    np.testing.assert_allclose(loss(missing, x), only_ac, rtol=1e-5, atol=1e-9)
    assert np.isfinite(np.asarray(jax.grad(lambda f: loss(missing, f))(fake))).all()

    # Over 8 devices, each with an eighth of the rows, the correlations are the whole batch's.
    from jax.sharding import PartitionSpec as P
    from jaxgan.core import parallel
    rows = 8 * (len(df) // 8)
    sharded = jax.jit(jax.shard_map(lambda r, f: term(_View({'x': f}, {'x': r})), mesh=parallel.make_mesh(),
                                    in_specs=(P(parallel.DATA), P(parallel.DATA)), out_specs=P()))
    np.testing.assert_allclose(sharded(x[:rows], fake[:rows]), loss(x[:rows], fake[:rows]), rtol=1e-4)


def test_the_gradient_penalty_draws_one_interpolation_weight_per_pack():
    term = tabular.PackedGradientPenalty('gradient_penalty', 10.0, pack=5)
    e = np.asarray(term.noise(jax.random.key(4), 2, 20))
    assert e.shape == (2, 20)
    packs = e.reshape(2, 4, 5)
    assert (packs == packs[..., :1]).all() and len(np.unique(packs[..., 0])) == 8
    assert isinstance(term, T.GradientPenalty)


def test_linear_layers_start_as_torch_nn_linear():
    """ctgan keeps torch's nn.Linear initialisation: weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    from jaxgan.models import tabular as models
    params = models.Generator(out=7, widths=(256, 256)).init(jax.random.key(0), jnp.zeros((4, 40)), train=False)['params']
    for name, fan_in in (('Residual_0', 40), ('Residual_1', 296), ('Dense_0', 552)):
        layer = params[name]['Dense_0'] if name.startswith('Residual') else params[name]
        bound = 1 / np.sqrt(fan_in)
        kernel, bias = np.asarray(layer['kernel']), np.asarray(layer['bias'])
        assert np.abs(kernel).max() <= bound and np.abs(kernel).max() > 0.99 * bound
        assert np.abs(bias).max() <= bound and (bias != 0).all()  # not flax's zeros
        assert abs(kernel.std() - bound / np.sqrt(3)) < 0.05 * bound  # uniform's spread, not LeCun's sqrt(3) more


def test_adam_weight_decay_is_l2_added_to_the_gradient():
    """CTGAN's optimisers are torch's Adam with weight_decay: the decay joins the gradient before Adam's moments."""
    from jaxgan import config as config_lib, optim
    c = config_lib.optimizer_config(learning_rate=0.1, b1=0.5, b2=0.9)
    c.weight_decay = 0.5
    params, grads = {'w': jnp.array([2.0, -1.0])}, {'w': jnp.array([0.0, 0.0])}
    updates, _ = optim.make(c, 10).update(grads, optim.make(c, 10).init(params), params)
    reference = optax.adam(0.1, b1=0.5, b2=0.9)
    expected, _ = reference.update({'w': 0.5 * params['w']}, reference.init(params), params)
    np.testing.assert_allclose(updates['w'], expected['w'], rtol=1e-6)


def tiny_ctgan(tmp_path, **overrides):
    from experiments import ctgan
    c = ctgan.get_config()
    c.model.g_hidden, c.model.d_hidden, c.model.z_dim = (16,), (16,), 8
    c.batch_size, c.table.epochs, c.num_steps = 80, 0, 4
    c.log_every = c.checkpoint_every = c.sample_every = 2
    c.num_samples, c.async_checkpoints, c.data.workers = 20, False, 1
    for field, value in overrides.items():
        setattr(c.table if field in c.table else c, field, value)
    return c


def test_a_tiny_ctgan_trains_resumes_exactly_and_writes_sample_rows(tmp_path):
    config = tiny_ctgan(tmp_path)
    straight = train.train(config, str(tmp_path / 'straight'))
    assert sorted(os.listdir(tmp_path / 'straight' / 'samples')) == ['step_00000002.csv', 'step_00000004.csv']
    rows = pd.read_csv(tmp_path / 'straight' / 'samples' / 'step_00000004.csv')
    assert list(rows.columns) == ['age', 'sex', 'bmi', 'bp', 's1', 's2', 's3', 's4', 's5', 's6', 'progression']
    assert len(rows) == 20 and set(rows['sex']) <= {1, 2}
    metrics = [json.loads(line) for line in open(tmp_path / 'straight' / 'metrics.jsonl')]
    assert {'d_loss', 'g_loss', 'gradient_penalty', 'conditional'} <= set(metrics[-1])
    assert all(np.isfinite(m['d_loss']) and np.isfinite(m['g_loss']) for m in metrics)

    first = config.copy_and_resolve_references()
    first.num_steps = 2
    train.train(first, str(tmp_path / 'resumed'))
    resumed = train.train(config, str(tmp_path / 'resumed'))
    assert tree_equal(straight.state.params, resumed.state.params)
    # Rows come from an average of G (experiments.ctgan's addition to the package's recipe), not the
    # last G; the average resumes exactly too.
    assert not tree_equal(straight.state.ema['G'], straight.state.params['G'])
    assert tree_equal(straight.state.ema, resumed.state.ema)


def test_argmax_modes_take_gs_most_probable_mode_and_leave_the_rest_of_the_row_as_drawn(tmp_path):
    """config.table.sample_modes=argmax: a numerical column's mode is the argmax of G's
    logits, without the Gumbel noise that draws it independently of the other columns; scalars and the
    categories are as the package draws them."""
    trained = train.train(tiny_ctgan(tmp_path, num_steps=2), str(tmp_path / 'run'))
    gan, state = trained.gan, trained.state
    params, model_state = state.ema['G'], state.model_state['G']
    conditions = jnp.asarray(gan.transform.sample_conditions(400, np.random.default_rng(0)))
    key = jax.random.key(3)
    drawn = np.asarray(gan.rows(params, model_state, key, conditions, modes='draw'))
    argmax = np.asarray(gan.rows(params, model_state, key, conditions, modes='argmax'))
    z = jax.random.normal(jax.random.split(key)[0], (400, gan.z_dim))
    raw, _ = gan.game.networks['G'].module.apply({'params': params, **model_state},
                                                 jnp.concatenate([z, conditions], -1), train=True,
                                                 mutable=list(model_state))
    mask = tabular.mode_mask(gan.transform)
    blocks = [s for s in gan.transform.spans if s.activation == 'softmax' and mask[s.start] == 0]
    assert blocks and mask.sum() < len(mask)
    differ = 0
    for s in blocks:
        cut = slice(s.start, s.start + s.size)
        np.testing.assert_array_equal(argmax[:, cut].argmax(1), np.asarray(raw)[:, cut].argmax(1))
        differ += int((drawn[:, cut].argmax(1) != argmax[:, cut].argmax(1)).sum())
    assert differ > 0  # drawn modes follow the noise: after 2 steps G's logits are far from sure
    kept = mask == 1
    np.testing.assert_allclose(argmax[:, kept], drawn[:, kept], rtol=1e-6, atol=1e-6)
    with pytest.raises(Exception, match='must be draw or argmax'):
        train.train(tiny_ctgan(tmp_path, sample_modes='mode'), str(tmp_path / 'bad'))
    with pytest.raises(Exception, match="modes='mode' must be one of draw, argmax"):
        gan.sample(params, model_state, 10, seed=0, batch_size=80, modes='mode')


def test_argmax_modes_leave_the_missing_flags_drawn():
    """A number's missing flag is the data's (5% of rows missing stay about 5%), not the encoding's: only the
    mode blocks lose their noise."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, 150), rng.normal(8, 1, 150)])
    x[::20] = np.nan
    df = pd.DataFrame({'x': x, 'g': rng.choice(['a', 'b'], 300)})
    transform = tables.TableTransform.fit(df, {'x': 'continuous', 'g': 'categorical'}, seed=0)
    scalar, modes, missing, category = transform.spans
    assert (scalar.activation, modes.activation, missing.size, category.size) == ('tanh', 'softmax', 2, 2)
    mask = tabular.mode_mask(transform)
    expected = np.ones(transform.dim)
    expected[modes.start:modes.start + modes.size] = 0
    np.testing.assert_array_equal(mask, expected)


@pytest.mark.slow  # three command lines, 20 s; `make test-slow` (sampling and the report have fast tests)
def test_ctgan_sample_and_evaluate_from_the_command_line(tmp_path, python_env):
    from jaxgan.errors import UserError
    config = tiny_ctgan(tmp_path, num_steps=2)
    workdir = tmp_path / 'run'
    trained = train.train(config, str(workdir))
    state = trained.state
    with pytest.raises(UserError, match=r'^--where=sex=1: \d+ of 80 rows generated under this condition have it; 1000'):
        trained.gan.sample(state.ema['G'], state.model_state['G'], 1000, seed=0, batch_size=80, where=('sex', 1),
                           max_rounds=1)
    out = tmp_path / 'men.csv'
    sampled = run_cli(['-m', 'jaxgan.sample', f'--workdir={workdir}', '--num=30', f'--out={out}', '--where=sex=1'],
                      python_env, tmp_path)
    assert sampled.returncode == 0, sampled.stderr[-3000:]
    rows = pd.read_csv(out)
    assert len(rows) == 30 and set(rows['sex']) == {1}
    data = tables.read_table('table:diabetes')
    for column in ('age', 'bmi', 'progression'):
        assert data[column].min() <= rows[column].min() and rows[column].max() <= data[column].max()
    assert rows['age'].dtype.kind == 'i' and rows['bmi'].dtype.kind == 'f'

    bad = run_cli(['-m', 'jaxgan.sample', f'--workdir={workdir}', f'--out={tmp_path}/x.csv', '--where=sex=7'],
                  python_env, tmp_path)
    assert bad.returncode == 2 and bad.stderr.splitlines()[-1].startswith('error: --where=sex=7'), bad.stderr[-2000:]
    assert not (tmp_path / 'x.csv').exists()

    unknown = run_cli(['-m', 'jaxgan.evaluate', f'--workdir={workdir}', '--metrics=table', '--target=progresion'],
                      python_env, tmp_path)
    assert unknown.returncode == 2 and unknown.stderr.splitlines()[-1] == (
        'error: --target=progresion is not a column of table:diabetes (did you mean progression?)'), unknown.stderr[-2000:]
    assert not (workdir / 'eval').exists()
    evaluated = run_cli(['-m', 'jaxgan.evaluate', f'--workdir={workdir}', '--metrics=table', '--target=progression'],
                        python_env, tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    report = json.load(open(workdir / 'eval' / 'step_00000002.json'))
    assert report['protocol']['training_rows'] == report['protocol']['synthetic_rows'] == 354
    assert 0 <= report['metrics']['fidelity'] <= 1 and 'efficacy_ratio' in report['metrics']
    assert 0 <= report['metrics']['column_shapes'] <= 1 and 'max_pearson_gap' in report['metrics']  # the quality report
    assert (workdir / 'eval' / 'step_00000002_table.png').exists()
    argmax = run_cli(['-m', 'jaxgan.evaluate', f'--workdir={workdir}', '--metrics=table', '--modes=argmax'],
                     python_env, tmp_path)
    assert argmax.returncode == 0, argmax.stderr[-3000:]
    assert json.load(open(workdir / 'eval' / 'step_00000002_modes_argmax.json'))['protocol']['sample_modes'] == 'argmax'
    assert json.load(open(workdir / 'eval' / 'step_00000002.json')) == report  # the run's own report is left as it was
    assert report['protocol']['sample_modes'] == 'draw'


@pytest.mark.parametrize('overrides, message', [
    ({'dataset': 'digits'}, 'config.model.name=ctgan learns tables'),
    ({'holdout': 1.5}, 'config.table.holdout=1.5 must be in [0, 1)'),
    ({'mixture_iterations': 0}, 'config.table.mixture_iterations=0 must be a positive integer'),
    ({'correlation': -1.0}, 'config.table.correlation=-1.0 must be >= 0'),
])
def test_ctgan_refuses_what_it_cannot_train(tmp_path, overrides, message):
    from jaxgan.errors import UserError
    config = tiny_ctgan(tmp_path, **overrides)
    with pytest.raises(UserError, match=message.replace('[', r'\[').replace(')', r'\)')):
        train.train(config, str(tmp_path / 'run'))
    assert not (tmp_path / 'run').exists()


def test_a_tiny_ctgan_on_a_table_with_keys_dates_and_a_constant_writes_fresh_rows(tmp_path):
    """Keys come out fresh and distinct, dates in their format and range, the constant as it was, a
    1-decimal column with 1 decimal; the run's report counts no real key."""
    import re
    from jaxgan import evaluation
    from jaxgan.errors import UserError
    from jaxgan.metrics import table
    rng = np.random.default_rng(0)
    n = 60
    visits = pd.Timestamp('2020-01-01') + pd.to_timedelta(rng.integers(0, 700, n), 'D')
    pd.DataFrame({'patient_id': [f'P{i:06d}' for i in rng.permutation(np.arange(100, 100 + n))],
                  'visit': visits.strftime('%Y-%m-%d'), 'site': 'north', 'weight': np.round(rng.normal(70, 10, n), 1),
                  'smoker': rng.choice(['yes', 'no'], n)}).to_csv(tmp_path / 'patients.csv', index=False)
    config = tiny_ctgan(tmp_path, dataset=f'csv:{tmp_path}/patients.csv', num_steps=2, holdout=0.2)
    trained = train.train(config, str(tmp_path / 'run'))
    state = trained.state
    rows = trained.gan.sample(state.ema['G'], state.model_state['G'], 100, seed=0, batch_size=80)
    real = tables.read_table(config.dataset)
    assert list(rows.columns) == list(real.columns) and rows['patient_id'].is_unique
    assert not set(rows['patient_id']) & set(real['patient_id'])
    assert all(re.fullmatch(r'P\d{6}', v) for v in rows['patient_id']) and (rows['site'] == 'north').all()
    dates = pd.to_datetime(rows['visit'], format='%Y-%m-%d')
    assert visits.min() <= dates.min() and dates.max() <= visits.max()
    assert (rows['weight'] == rows['weight'].round(1)).all()
    written = pd.read_csv(tmp_path / 'run' / 'samples' / 'step_00000002.csv', dtype=str)
    assert all(len(w.partition('.')[2]) <= 1 for w in written['weight'])
    train_rows, holdout = tables.split(real, 0.2, config.seed)
    kinds = {c.name: c.kind for c in trained.gan.transform.columns}
    report = table.report(train_rows, rows, holdout, kinds, target=None, seed=0)
    assert report['summary']['identifier_leaks'] == 0.0 and report['privacy']['identifiers'] == ['patient_id']
    with pytest.raises(UserError, match=r'^--metrics=fid: config.dataset=csv:.* is a table: use --metrics=table'):
        evaluation.make_evaluator(config, ('fid',), num_samples=10, reference_size=10, keep=10)


def test_a_tiny_ctgan_on_a_workbook_samples_a_workbook_in_its_schema(tmp_path):
    """xlsx: in, `jaxgan.sample --out=rows.xlsx` out: one sheet, 'synthetic', with the input's columns, order
    and types (integers, a category with a rare value, truth values and dates with gaps, decimals)."""
    import types
    import openpyxl
    from jaxgan import sample
    from jaxgan.errors import UserError
    from tests.test_tables import workbook_table
    workbook_table(60).to_excel(tmp_path / 'records.xlsx', index=False, sheet_name='records')
    config = tiny_ctgan(tmp_path, dataset=f'xlsx:{tmp_path}/records.xlsx', num_steps=2, holdout=0.0)
    train.train(config, str(tmp_path / 'run'))
    flags = dict(workdir=str(tmp_path / 'run'), num=100, seed=0, step=None, member=None, ema=True, where='',
                 truncation=None, label=None, modes=None)
    sample._table(types.SimpleNamespace(out=str(tmp_path / 'rows.xlsx'), **flags))
    assert openpyxl.load_workbook(tmp_path / 'rows.xlsx', read_only=True).sheetnames == ['synthetic']
    real, rows = tables.read_table(config.dataset), tables.read_table(f'xlsx:{tmp_path}/rows.xlsx')
    assert len(rows) == 100 and list(rows.columns) == list(real.columns)
    assert dict(rows.dtypes) == dict(real.dtypes), (rows.dtypes, real.dtypes)
    assert tables.infer_kinds(rows, {}) == tables.infer_kinds(real, {})
    assert set(rows['colour'].dropna()) <= {'red', 'green', 'violet'} and rows['visit'].dropna().between(
        real['visit'].min(), real['visit'].max()).all()
    with pytest.raises(UserError, match=r'rows.txt: rows are written to .csv, .parquet, .xlsx files'):
        tables.write_rows(rows, str(tmp_path / 'rows.txt'))
    too_many = pd.DataFrame({'a': np.zeros(1_048_576, np.int64)})  # Excel's sheet: 1,048,575 rows under the header
    with pytest.raises(UserError, match=r'big.xlsx: 1048576 rows of 1 column exceed an Excel sheet'):
        tables.write_rows(too_many, str(tmp_path / 'big.xlsx'))
    with pytest.raises(UserError, match=r'bell.xlsx: a value holds a control character an Excel cell cannot hold'):
        tables.write_rows(pd.DataFrame({'a': ['ring \x07']}), str(tmp_path / 'bell.xlsx'))
    assert sorted(os.listdir(tmp_path)) == ['records.xlsx', 'rows.xlsx', 'run']  # no temporary file left
