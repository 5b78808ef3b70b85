"""Tables for CTGAN (jaxgan.data.tables): sources, column kinds, the fitted transform and its inverse,
training-by-sampling, and the errors bad tables give."""

import json
import os
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from jaxgan import data
from jaxgan.data import pipeline, table_sources, tables
from jaxgan.errors import UserError
from tests.conftest import tiny_config


def mixed_table(n=300, seed=0, missing=0.0):
    """A column of each kind: bimodal numbers, integers, text and integer categories, booleans; with
    `missing`, that fraction of each column's values missing."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        'height': np.where(rng.random(n) < 0.5, rng.normal(150, 5, n), rng.normal(180, 8, n)),
        'count': rng.integers(0, 1000, n),
        'colour': rng.choice(['red', 'green', 'blue'], n, p=[0.6, 0.3, 0.1]),
        'grade': rng.choice([1, 2, 3], n),
        'member': rng.random(n) < 0.3,
    })
    if missing:
        df = df.astype({'count': float, 'grade': float, 'member': object})
        for column in df.columns:
            df.loc[rng.random(n) < missing, column] = None
    return df


def fitted(df, seed=0):
    transform = tables.TableTransform.fit(df, tables.infer_kinds(df, {}), seed=seed)
    return transform, transform.transform(df, seed=seed)


@pytest.fixture(scope='module')
def mixed():
    df = mixed_table()
    return (df, *fitted(df))


def write_csv(path, text):
    path.write_text(text)
    return f'csv:{path}'


def table_config(dataset, **table):
    return tiny_config(dataset=dataset, **{f'table__{k}': v for k, v in table.items()})


# --- sources ------------------------------------------------------------------------------------------


def test_the_embedded_tables_load_with_their_columns():
    diabetes = tables.read_table('table:diabetes')
    assert diabetes.shape == (442, 11)
    assert list(diabetes.columns) == ['age', 'sex', 'bmi', 'bp', 's1', 's2', 's3', 's4', 's5', 's6', 'progression']
    assert diabetes['age'].between(19, 79).all() and set(diabetes['sex']) == {1, 2}  # raw units
    kinds = tables.infer_kinds(diabetes, {})
    assert (kinds['sex'], kinds['age'], kinds['bmi'], kinds['progression']) == (
        'categorical', 'integer', 'continuous', 'integer')

    cancer = tables.read_table('table:breast_cancer')
    assert cancer.shape == (569, 31) and cancer.columns[-1] == 'diagnosis'
    assert cancer['diagnosis'].value_counts().to_dict() == {'benign': 357, 'malignant': 212}
    assert tables.infer_kinds(cancer, {})['diagnosis'] == 'categorical'


def test_a_csv_loads_through_the_pipeline_and_batches_by_the_batcher(tmp_path):
    mixed_table(120).to_csv(tmp_path / 'people.csv', index=False)
    dataset = data.load(table_config(f'csv:{tmp_path}/./people.csv', holdout=0.25))
    assert isinstance(dataset, tables.TableDataset)
    assert dataset.spec.source == f'csv:{os.path.realpath(tmp_path)}/people.csv'
    assert (len(dataset.train), len(dataset.holdout)) == (90, 30) and dataset.spec.num_examples == 90
    assert dataset.spec.kind == 'table' and dataset.spec.shape == (dataset.transform.dim,)
    assert tables.TableTransform.from_json(dataset.spec.table) == dataset.transform
    np.testing.assert_array_equal(dataset.rows, dataset.transform.transform(dataset.train, seed=0))

    whole = pipeline.Batcher(dataset, global_batch=8, seed=3, workers=1)
    halves = [pipeline.Batcher(dataset, global_batch=8, seed=3, workers=1, process_index=p, process_count=2)
              for p in range(2)]
    for t in (0, 5):
        batch = whole.batch(t)
        assert batch['x'].shape == (8, dataset.transform.dim) and batch['c'].shape == (8, dataset.transform.cond_dim)
        for key in batch:
            np.testing.assert_array_equal(np.concatenate([h.batch(t)[key] for h in halves]), batch[key])


def test_canonical_makes_file_paths_absolute_and_real(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert tables.canonical('csv:x.csv') == f'csv:{os.path.realpath(tmp_path)}/x.csv'
    assert tables.canonical('parquet:d/../y.parquet') == f'parquet:{os.path.realpath(tmp_path)}/y.parquet'
    assert tables.canonical('table:diabetes') == 'table:diabetes'
    assert tables.is_table('csv:x.csv') and tables.is_table('table:diabetes') and not tables.is_table('npy:x.npy')


def test_parquet_reads_as_csv_does(tmp_path):
    df = mixed_table(40)
    df.to_parquet(tmp_path / 't.parquet')
    pd.testing.assert_frame_equal(tables.read_table(f'parquet:{tmp_path}/t.parquet'), df)


def workbook_table(n=40, seed=0):
    """Integers, a category with a rare value, booleans, dates, decimals; cells missing in each of the
    first four."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        'count': rng.integers(0, 1000, n), 'colour': rng.choice(['red', 'green', 'violet'], n, p=[0.65, 0.3, 0.05]),
        'member': rng.random(n) < 0.3,
        'visit': pd.Timestamp('2020-01-01') + pd.to_timedelta(rng.integers(0, 700, n), 'D'),
        'x': rng.normal(size=n).round(3)}).astype({'count': float, 'member': object})
    for column, rows in {'count': [1, 5], 'colour': [2], 'member': [3, 7], 'visit': [4]}.items():
        df.loc[rows, column] = None
    return df


def test_an_xlsx_sheet_reads_with_the_kinds_and_values_the_same_rows_have_through_csv(tmp_path):
    df = workbook_table()
    df.to_csv(tmp_path / 't.csv', index=False)
    df.to_excel(tmp_path / 't.xlsx', index=False, sheet_name='records')
    through_csv, through_xlsx = tables.read_table(f'csv:{tmp_path}/t.csv'), tables.read_table(f'xlsx:{tmp_path}/t.xlsx')
    assert tables.infer_kinds(through_xlsx, {}) == tables.infer_kinds(through_csv, {}) == {
        'count': 'integer', 'colour': 'categorical', 'member': 'boolean', 'visit': 'datetime', 'x': 'continuous'}
    assert through_xlsx['visit'].dtype.kind == 'M'  # Excel's dates come back as datetimes, CSV's as text
    through_csv['visit'] = pd.to_datetime(through_csv['visit']).astype(through_xlsx['visit'].dtype)
    pd.testing.assert_frame_equal(through_xlsx, through_csv)  # TRUE/FALSE with gaps too: True, False, NaN
    assert through_xlsx['member'].dtype == object and pd.isna(through_xlsx['member'][3])
    # The transform models the dates and writes them back as datetimes.
    dataset = tables.load(table_config(f'xlsx:{tmp_path}/t.xlsx:records', holdout=0.0))
    visit = next(c for c in dataset.transform.columns if c.name == 'visit')
    assert (visit.kind, visit.format, visit.unit) == ('datetime', '', 'D')
    back = dataset.transform.inverse(dataset.rows, seed=0)
    assert back['visit'].dtype.kind == 'M' and (back['visit'] == df['visit']).mean() > 0.9


def test_xlsx_paths_are_canonical_with_their_sheet_and_fingerprinted_by_content(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    real = os.path.realpath(tmp_path)
    assert pipeline.canonical_dataset('xlsx:d/../t.xlsx:My sheet') == f'xlsx:{real}/t.xlsx:My sheet'
    assert pipeline.canonical_dataset('xlsx:t.xlsx') == f'xlsx:{real}/t.xlsx'
    df = workbook_table()
    df.to_excel(tmp_path / 't.xlsx', index=False, sheet_name='s')
    spec = data.load(table_config('xlsx:t.xlsx:s')).spec
    assert spec.source == f'xlsx:{real}/t.xlsx:s' and spec.fingerprint.startswith('sha256:')
    df.loc[0, 'x'] += 1
    df.to_excel(tmp_path / 't.xlsx', index=False, sheet_name='s')
    assert data.load(table_config('xlsx:t.xlsx:s')).spec.fingerprint != spec.fingerprint


def _several_sheets(path):
    with pd.ExcelWriter(path) as writer:
        for sheet in ('a', 'b', 'c'):
            workbook_table().to_excel(writer, sheet_name=sheet, index=False)


@pytest.mark.parametrize('make, sheet, message', [
    (_several_sheets, '', r'^xlsx:{path} has 3 sheets \(a, b, c\): name one, xlsx:{path}:SHEET$'),
    (_several_sheets, ':d', r"^xlsx:{path} has no sheet 'd': its sheets are a, b, c$"),
    (lambda path: pd.DataFrame().to_excel(path, sheet_name='blank'), '',
     r"^xlsx:{path}: sheet 'blank' is empty: no header row and no rows$"),
    (lambda path: path.write_bytes(table_sources.OLE2 + 'EncryptionInfo'.encode('utf-16-le') + bytes(500)), '',
     r'^{path} is an encrypted \(password-protected\) workbook, which cannot be read: '
     r'save a copy without the password$'),
    (lambda path: path.write_bytes(table_sources.OLE2 + bytes(500)), '', r'^{path} is an encrypted'),
    (lambda path: path.write_text('a,b\n1,2\n'), '', r'^cannot read {path} as an Excel workbook \(.xlsx\): '),
])
def test_bad_workbooks_are_refused_in_one_line_naming_the_file(tmp_path, make, sheet, message):
    path = tmp_path / 'w.xlsx'
    make(path)
    with pytest.raises(UserError, match=message.format(path=path)) as error:
        tables.read_table(f'xlsx:{path}{sheet}')
    assert '\n' not in str(error.value)


def test_split_holds_out_rows_chosen_with_the_seed():
    df = pd.DataFrame({'i': np.arange(100)})
    train, holdout = tables.split(df, 0.2, seed=1)
    assert (len(train), len(holdout)) == (80, 20)
    assert sorted([*train['i'], *holdout['i']]) == list(range(100))
    assert list(train.index) == list(range(80)) and train['i'].is_monotonic_increasing
    assert holdout['i'].tolist() == tables.split(df, 0.2, seed=1)[1]['i'].tolist()
    assert holdout['i'].tolist() != tables.split(df, 0.2, seed=2)[1]['i'].tolist()
    train, holdout = tables.split(df, 0.0, seed=1)
    assert len(train) == 100 and len(holdout) == 0 and list(holdout.columns) == ['i']


# --- kinds --------------------------------------------------------------------------------------------


def test_kinds_are_inferred_from_the_values():
    df = pd.DataFrame({
        'flag': [True, False] * 10,
        'text_flag': ['TRUE', 'false'] * 10,
        'word': ['a', 'b', 'c', 'd'] * 5,
        'small_ints': [1, 2] * 10,
        'integral_floats': np.arange(20, dtype=float) * 2,  # distinct, but no key: neither named one nor 0..n-1
        'ints': np.arange(20) * 3,
        'reals': np.linspace(0, 1, 20),
        'zero_one': [0, 1] * 10,
    })
    assert tables.infer_kinds(df, {}) == {
        'flag': 'boolean', 'text_flag': 'boolean', 'word': 'categorical', 'small_ints': 'categorical',
        'integral_floats': 'integer', 'ints': 'integer', 'reals': 'continuous', 'zero_one': 'categorical'}
    overridden = tables.infer_kinds(df, {'continuous': ['ints'], 'categorical': ['reals'], 'integer': ['small_ints'],
                                         'boolean': ['zero_one']})
    assert (overridden['ints'], overridden['reals'], overridden['small_ints'], overridden['zero_one']) == (
        'continuous', 'categorical', 'integer', 'boolean')


def test_overrides_name_columns_of_the_table():
    df = pd.DataFrame({'height': [1.5, 2.5] * 5, 'mass': [3.5, 4.5] * 5})
    with pytest.raises(UserError, match="config.table.categorical: the table has no column 'hieght' "
                                        r"\(did you mean height\?\)"):
        tables.infer_kinds(df, {'categorical': ['hieght']})
    with pytest.raises(UserError, match="'height' is in both"):
        tables.infer_kinds(df, {'categorical': ['height'], 'integer': ['height']})


# --- the transform ------------------------------------------------------------------------------------


def test_transform_then_inverse_restores_the_rows(mixed):
    df, transform, rows = mixed
    assert [c.kind for c in transform.columns] == ['continuous', 'integer', 'categorical', 'categorical', 'boolean']
    height = transform.columns[0]
    assert len(height.modes) >= 2 and height.minimum == df['height'].min()  # both humps found
    assert rows.dtype == np.float32 and rows.shape == (len(df), transform.dim)
    back = transform.inverse(rows, seed=0)
    assert list(back.columns) == list(df.columns)
    np.testing.assert_allclose(back['height'], df['height'], atol=1e-3)
    for column in ('count', 'colour', 'grade', 'member'):
        assert back[column].tolist() == df[column].tolist(), column
    assert back.dtypes.astype(str).to_dict() == {
        'height': 'float64', 'count': 'int64', 'colour': str(df['colour'].dtype), 'grade': 'int64', 'member': 'bool'}


def test_spans_describe_the_encoded_row(mixed):
    df, transform, rows = mixed
    spans = transform.spans
    assert spans[0].start == 0 and sum(s.size for s in spans) == transform.dim
    assert all(a.start + a.size == b.start for a, b in zip(spans, spans[1:]))
    for span in spans:
        block = rows[:, span.start:span.start + span.size]
        if span.activation == 'tanh':
            assert span.size == 1 and np.abs(block).max() <= 0.99
        else:
            assert span.activation == 'softmax' and set(np.unique(block)) == {0, 1} and (block.sum(1) == 1).all()
    # The conditions: colour's 3, grade's 3 and member's 2 categories; not height's or count's modes.
    assert [(s.size, s.cond_start) for s in transform.cond_spans] == [(3, 0), (3, 3), (2, 6)]
    assert transform.cond_dim == 8
    colour = transform.cond_spans[0]
    assert transform.columns[2].categories == ('blue', 'green', 'red')  # sorted
    codes = df['colour'].map({'blue': 0, 'green': 1, 'red': 2})
    assert (rows[:, colour.start:colour.start + 3].argmax(1) == codes).all()


def test_the_modes_are_drawn_by_the_mixtures_posterior_as_sklearn_computes_it(mixed):
    from sklearn.mixture import BayesianGaussianMixture
    df, transform, _ = mixed
    bgm = BayesianGaussianMixture(n_components=10, weight_concentration_prior_type='dirichlet_process',
                                  weight_concentration_prior=0.001, n_init=1, random_state=0)
    x = df['height'].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # short of converging, as the transform's own fit
        bgm.fit(x.reshape(-1, 1))
    info = transform.columns[0]
    expected = bgm.predict_proba(x.reshape(-1, 1))[:, list(info.modes)] + 1e-6
    np.testing.assert_allclose(tables.mode_probabilities(info, x), expected / expected.sum(1, keepdims=True),
                               atol=1e-9)


def test_the_transform_survives_json_and_inverts_alike(mixed):
    df, transform, rows = mixed
    text = transform.to_json()
    json.loads(text)  # plain JSON
    again = tables.TableTransform.from_json(text)
    assert again == transform and again.spans == transform.spans and again.cond_spans == transform.cond_spans
    pd.testing.assert_frame_equal(again.inverse(rows, seed=0), transform.inverse(rows, seed=0))
    np.testing.assert_array_equal(again.transform(df, seed=5), transform.transform(df, seed=5))


def test_the_inverse_takes_activated_outputs_and_keeps_values_in_range(mixed):
    df, transform, rows = mixed
    rng = np.random.default_rng(0)
    activated = rows.copy()
    for span in transform.spans:
        if span.activation == 'softmax':  # probabilities that keep the argmax of the one-hot blocks
            logits = 5 * rows[:, span.start:span.start + span.size] + rng.normal(0, 0.3, (len(rows), span.size))
            activated[:, span.start:span.start + span.size] = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    pd.testing.assert_frame_equal(transform.inverse(activated, seed=0), transform.inverse(rows, seed=0))

    extreme = rng.uniform(-1, 1, (500, transform.dim)).astype(np.float32)
    extreme[:, 0] = rng.choice([-1.0, 1.0], 500)
    back = transform.inverse(extreme, seed=0)
    for column in ('height', 'count'):
        assert df[column].min() <= back[column].min() and back[column].max() <= df[column].max()
    assert set(back['colour']) <= set(df['colour']) and set(back['grade']) <= {1, 2, 3}


def test_missing_values_are_kept_and_restored_in_place():
    df = mixed_table(300, seed=1, missing=0.15)
    transform, rows = fitted(df)
    # height and count gain a present/missing block each; colour, grade and member a missing category.
    widths = {c.name: c.width for c in transform.columns}
    assert widths['colour'] == 4 and widths['grade'] == 4 and widths['member'] == 3
    assert widths['height'] == 1 + len(transform.columns[0].modes) + 2
    assert transform.cond_dim == 11  # the missing categories are conditions; numbers' missing blocks are not
    assert transform.columns[3].categories == (1, 2, 3, None)
    back = transform.inverse(rows, seed=0)
    for column in df.columns:
        np.testing.assert_array_equal(back[column].isna().to_numpy(), df[column].isna().to_numpy(), err_msg=column)
    present = df['height'].notna()
    np.testing.assert_allclose(back['height'][present], df['height'][present], atol=1e-3)
    assert back['count'].dtype == 'Int64' and back['grade'].dtype == 'Int64' and back['member'].dtype == 'boolean'
    assert back['count'].dropna().tolist() == df['count'].dropna().astype(int).tolist()
    assert back['member'].dropna().tolist() == df['member'].dropna().tolist()
    json.loads(transform.to_json())  # the missing category is JSON's null

    rng = np.random.default_rng(2)
    sampled = transform.inverse(rng.uniform(-1, 1, (4000, transform.dim)), seed=0)
    assert 0.3 < sampled['height'].isna().mean() < 0.7  # missing wherever its block's argmax says so


def test_a_value_the_transform_was_not_fitted_on_is_named(mixed):
    df, transform, _ = mixed
    other = df.head(5).copy()
    other.loc[3, 'colour'] = 'purple'
    with pytest.raises(UserError, match="column 'colour', row 4: 'purple' is not one of"):
        transform.transform(other, seed=0)


# --- conditions -----------------------------------------------------------------------------------------


def test_conditions_name_a_category_of_a_discrete_column(mixed):
    _, transform, _ = mixed
    assert transform.condition('colour', 'red') == 2 and transform.condition('grade', 2) == 4
    assert transform.condition('member', True) == 7
    assert transform.parse_value('grade', '3') == 3 and transform.parse_value('member', 'true') is True
    assert transform.parse_value('colour', 'blue') == 'blue'
    with pytest.raises(UserError, match=r"colour='purple'.*its categories: blue, green, red"):
        transform.condition('colour', 'purple')
    with pytest.raises(UserError, match=r"--where=grade=7: column 'grade' has no category '7'"):
        transform.parse_value('grade', '7')
    with pytest.raises(UserError, match=r"column 'height' is continuous"):
        transform.condition('height', 150.0)
    with pytest.raises(UserError, match=r"no column 'colur' \(did you mean colour"):
        transform.condition('colur', 'red')


def test_sampling_conditions_follow_the_plain_frequencies(mixed):
    df, transform, _ = mixed
    c = transform.sample_conditions(40_000, np.random.default_rng(0))
    assert c.shape == (40_000, 8) and c.dtype == np.float32 and (c.sum(1) == 1).all()
    colour = c[:, :3]
    assert abs(colour.sum() / len(c) - 1 / 3) < 0.01  # a column uniformly
    frequencies = colour.sum(0) / colour.sum()
    np.testing.assert_allclose(frequencies, df['colour'].value_counts(normalize=True)[['blue', 'green', 'red']],
                               atol=0.015)
    fixed = transform.sample_conditions(10, np.random.default_rng(0), 'grade', 2)
    assert (fixed[:, 4] == 1).all() and (fixed.sum(1) == 1).all()


# --- training-by-sampling -------------------------------------------------------------------------------


@pytest.fixture(scope='module')
def skewed():
    """A category column of counts 300, 60, 10 and 1, a boolean and a number; every row for training."""
    rng = np.random.default_rng(0)
    kind = np.repeat(['a', 'b', 'c', 'd'], [300, 60, 10, 1])
    df = pd.DataFrame({'kind': kind, 'flag': rng.random(len(kind)) < 0.5, 'x': rng.normal(0, 1, len(kind))})
    transform, rows = fitted(df)
    from jaxgan.data.spec import DataSpec
    spec = DataSpec('table', (transform.dim,), len(df), 'skewed', table=transform.to_json())
    return tables.TableDataset(spec, transform, df, df.iloc[:0], rows)


def test_a_batch_is_a_function_of_the_seed_and_the_positions(skewed):
    positions = np.arange(1000, 1500)
    batch = skewed.batch([positions % 371], positions, seed=7)
    again = skewed.batch([np.zeros(500, int)], positions, seed=7)  # the index stream plays no part
    for key in ('x', 'c'):
        np.testing.assert_array_equal(batch[key], again[key])
        parts = [skewed.batch([positions[s] % 371], positions[s], seed=7)[key]
                 for s in (slice(0, 125), slice(125, 500))]  # two processes' shares
        np.testing.assert_array_equal(np.concatenate(parts), batch[key])
    assert not np.array_equal(skewed.batch([positions], positions, seed=8)['c'], batch['c'])
    assert batch['x'].dtype == batch['c'].dtype == np.float32


def test_each_row_has_the_category_of_its_condition(skewed):
    positions = np.arange(5000)
    batch = skewed.batch([positions], positions, seed=0)
    c, x = batch['c'], batch['x']
    assert (c.sum(1) == 1).all()
    for span in skewed.transform.cond_spans:
        chosen = c[:, span.cond_start:span.cond_start + span.size].sum(1) == 1
        np.testing.assert_array_equal(x[chosen, span.start:span.start + span.size],
                                      c[chosen, span.cond_start:span.cond_start + span.size])
    assert 0.45 < c[:, :4].sum() / len(c) < 0.55  # kind or flag, uniformly


def test_categories_are_drawn_by_log_frequency(skewed):
    positions = np.arange(200_000)
    c = skewed.batch([positions], positions, seed=0)['c']
    observed = c[:, :4].sum(0)
    expected = np.log1p([300, 60, 10, 1])
    expected = expected / expected.sum() * observed.sum()
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    assert observed[3] > 0.05 * observed.sum()  # the single 'd' row: log(2) / (log 301 + log 61 + log 11 + log 2)


def test_a_table_without_discrete_columns_reads_the_ordinary_stream():
    df = pd.DataFrame({'x': np.random.default_rng(0).normal(0, 1, 50)})
    transform, rows = fitted(df)
    dataset = tables.TableDataset(None, transform, df, df.iloc[:0], rows)
    assert transform.cond_dim == 0 and transform.cond_spans == ()
    indices = np.array([4, 9, 4, 0])
    batch = dataset.batch([indices], np.arange(4), seed=0)
    np.testing.assert_array_equal(batch['x'], rows[indices])
    assert batch['c'].shape == (4, 0)
    assert transform.sample_conditions(3, np.random.default_rng(0)).shape == (3, 0)


# --- bad input ----------------------------------------------------------------------------------------


LINES = [f'{i},{i % 3},{i * 1.5}\n' for i in range(12)]


@pytest.mark.parametrize('text, message', [
    ('', 'is empty'),
    ('\n\n', 'is empty'),
    ('a,b,c\n', 'has a header but no rows'),
    (''.join(LINES), r'first line \(0,0,0.0\) holds numbers, not column names'),
    ('a,b,c\n' + ''.join(LINES[:3]) + '1,2,3,4\n' + ''.join(LINES[3:]),
     r'line 5: 4 fields where the header \(line 1\) names 3'),
    ('a,b,c\n' + ''.join(LINES) + '7,8\n', r'line 14: 2 fields'),
    ('a,b,c\n' + ''.join(LINES[:4]), 'has 4 rows; a GAN needs at least 10'),
    ('a,b,c\n' + LINES[0], 'has 1 row; a GAN needs at least 10'),
    ('a,b\n' + ''.join(f'{i},same\n' for i in range(12)), r'every column is constant or an identifier \(a, b\)'),
])
def test_bad_csv_files_are_named_with_the_problem(tmp_path, text, message):
    dataset = write_csv(tmp_path / 'bad.csv', text)
    with pytest.raises(UserError, match=message) as error:
        tables.load(table_config(dataset))
    assert str(tmp_path / 'bad.csv') in str(error.value) and '\n' not in str(error.value)


def test_a_non_number_in_a_column_declared_numerical_names_its_row(tmp_path):
    rows = [f'{i},{i * 0.5}' for i in range(15)]
    rows[6] = '6,oops'
    dataset = write_csv(tmp_path / 't.csv', 'id,value\n' + '\n'.join(rows) + '\n')
    assert tables.infer_kinds(tables.read_table(dataset), {})['value'] == 'categorical'
    with pytest.raises(UserError, match=r"column 'value' is continuous, but its row 7 .* holds 'oops'"):
        tables.load(table_config(dataset, continuous='value'))
    with pytest.raises(UserError, match=r"column 'value' is boolean, but its row 1 .* holds '0.0'"):
        tables.load(table_config(dataset, boolean='value'))


@pytest.mark.parametrize('dataset, table, message', [
    ('csv:{tmp}/missing.csv', {}, 'table file not found: {tmp}/missing.csv'),
    ('parquet:{tmp}/t.csv', {}, 'cannot read {tmp}/t.csv as Parquet'),
    ('table:iris', {}, 'the embedded tables are table:diabetes, table:breast_cancer'),
    ('csv:{tmp}/t.csv', {'holdout': 1.0}, r'config.table.holdout=1.0 must be in \[0, 1\)'),
    ('csv:{tmp}/t.csv', {'holdout': 0.5}, r'5 training rows after holding out 6'),
    ('csv:{tmp}/t.csv', {'integer': 'a,nope'}, "config.table.integer: the table has no column 'nope'"),
    ('csv:{tmp}/t.csv', {'drop': 'zz'}, "config.table.drop: csv:.* has no column 'zz' \\(its columns: a, b\\)"),
    ('csv:{tmp}/t.csv', {'drop': 'a, b'}, 'config.table.drop: leaves no column of csv:'),
])
def test_bad_datasets_and_settings_are_named(tmp_path, dataset, table, message):
    write_csv(tmp_path / 't.csv', 'a,b\n' + ''.join(f'{i},{i % 2}\n' for i in range(11)))
    with pytest.raises(UserError, match=message.format(tmp=tmp_path)):
        tables.load(table_config(dataset.format(tmp=tmp_path), **table))


# --- identifiers, dates, constants, precision ---------------------------------------------------------


def test_identifiers_are_distinct_keys_by_the_rule():
    n = 20
    rng = np.random.default_rng(0)
    assert tables.is_identifier(pd.Series([f'P{i:06d}' for i in range(n)]), 'patient')
    assert tables.is_identifier(pd.Series(rng.permutation(n) + 1), 'row')  # 1..n in any order
    for name in ('patient_id', 'PatientID', 'orderId', 'key', 'record-key'):
        assert tables.is_identifier(pd.Series(rng.permutation(1000)[:n] * 7), name), name
    assert not tables.is_identifier(pd.Series(rng.permutation(1000)[:n] * 7), 'count')  # distinct numbers, no key
    assert not tables.is_identifier(pd.Series(rng.normal(size=n)), 'reading_id')  # measurements
    assert not tables.is_identifier(pd.Series(['a'] * 2 + [f'b{i}' for i in range(n - 2)]), 'name')  # a repeat
    assert not tables.is_identifier(pd.Series([None] + [f'b{i}' for i in range(n - 1)]), 'name')  # a missing one
    df = pd.DataFrame({'code': [f'c{i}' for i in range(n)], 'value': rng.normal(size=n)})
    assert tables.infer_kinds(df, {})['code'] == 'identifier'
    assert tables.infer_kinds(df, {'categorical': ['code']})['code'] == 'categorical'
    assert tables.infer_kinds(pd.DataFrame({'visit': [1, 2] * 10, 'v': range(0, 40, 2)}),
                              {'identifier': ['visit']})['visit'] == 'identifier'


def _keyed(n=60, seed=0):
    """Keys of each format beside a number: numbered text, integers, UUIDs, and names of any length."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        'patient_id': [f'P{i:06d}' for i in rng.permutation(np.arange(100, 100 + n))],
        'record': rng.permutation(n) + 1,
        'uuid': [f'{rng.integers(2 ** 63):016x}-{rng.integers(2 ** 31):08x}' for _ in range(n)],
        'name': [f'{"x" * (i % 5)}name{i}z' for i in range(n)],
        'weight': np.round(rng.normal(70, 10, n), 1),
    })


def test_identifier_columns_come_out_fresh_unique_and_in_their_format(tmp_path):
    import re
    df = _keyed()
    df.to_csv(tmp_path / 'keys.csv', index=False)
    dataset = tables.load(table_config(f'csv:{tmp_path}/keys.csv', holdout=0.25))
    kinds = {c.name: (c.kind, c.format) for c in dataset.transform.columns}
    assert kinds == {'patient_id': ('identifier', 'numbered'), 'record': ('identifier', 'integer'),
                     'uuid': ('identifier', 'template'), 'name': ('identifier', 'marked'), 'weight': ('continuous', '')}
    assert dataset.transform.dim == dataset.transform.columns[-1].width  # no block for a key
    assert not any(str(v) in dataset.spec.table for v in df['patient_id'])  # the checkpoint holds no real key
    out = dataset.transform.inverse(np.tile(dataset.rows, (4, 1)), seed=0)  # 180 rows: more than the table's
    for column in ('patient_id', 'record', 'uuid', 'name'):
        assert out[column].is_unique and not set(out[column]) & set(df[column]), column  # holdout keys too
    assert all(re.fullmatch(r'P\d{6}', v) for v in out['patient_id'])
    assert out['record'].dtype == np.int64 and out['record'].min() == len(df) + 1
    assert all(re.fullmatch(r'[0-9a-f]{16}-[0-9a-f]{8}', v) for v in out['uuid'])
    assert list(out.columns) == list(df.columns)


def test_identifiers_can_be_dropped_or_refused(tmp_path):
    _keyed().to_csv(tmp_path / 'keys.csv', index=False)
    dataset = f'csv:{tmp_path}/keys.csv'
    dropped = tables.load(table_config(dataset, on_identifier='drop'))
    assert [c.name for c in dropped.transform.columns] == ['weight']
    assert list(dropped.transform.inverse(dropped.rows, seed=0).columns) == ['weight']
    named = tables.load(table_config(dataset, drop='record,uuid,name'))  # config.table.drop: any column, by name
    assert [c.name for c in named.transform.columns] == ['patient_id', 'weight']
    with pytest.raises(UserError, match=r"columns 'patient_id', 'record', 'uuid', 'name' look like identifiers .*"
                                        r"on_identifier=generate .* or drop") as error:
        tables.load(table_config(dataset, on_identifier='refuse'))
    assert '\n' not in str(error.value)
    with pytest.raises(UserError, match="config.table.on_identifier='keep' must be one of generate, drop, refuse"):
        tables.load(table_config(dataset, on_identifier='keep'))


def _random_activations(transform, n, seed=0):
    """Rows as a generator could write them: any tanh value, any one-hot choice."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, transform.dim), np.float32)
    for span in transform.spans:
        if span.activation == 'tanh':
            x[:, span.start] = rng.uniform(-1, 1, n)
        else:
            x[np.arange(n), span.start + rng.integers(span.size, size=n)] = 1
    return x


def test_dates_round_trip_in_their_format_and_come_out_in_their_range(tmp_path):
    rng = np.random.default_rng(1)
    n = 40
    days = pd.Timestamp('2019-03-01') + pd.to_timedelta(rng.integers(0, 900, n), 'D')
    seconds = pd.Timestamp('2021-05-01') + pd.to_timedelta(rng.integers(0, 10 ** 7, n), 's')
    df = pd.DataFrame({'visit': days.strftime('%d/%m/%Y'), 'stamp': seconds.strftime('%Y-%m-%d %H:%M:%S'),
                       'when': days, 'x': rng.normal(size=n)})
    df.to_parquet(tmp_path / 'dates.parquet')
    dataset = tables.load(table_config(f'parquet:{tmp_path}/dates.parquet', holdout=0.0))
    columns = {c.name: c for c in dataset.transform.columns}
    assert [(columns[c].kind, columns[c].format, columns[c].unit) for c in ('visit', 'stamp', 'when')] == [
        ('datetime', '%d/%m/%Y', 'D'), ('datetime', '%Y-%m-%d %H:%M:%S', 's'), ('datetime', '', 'D')]
    back = dataset.transform.inverse(dataset.rows, seed=0)
    assert (back['visit'] == df['visit']).mean() > 0.9  # days survive the float32 alpha; a far outlier is clipped
    assert back['when'].dtype.kind == 'M' and (back['when'] == df['when']).mean() > 0.9
    error = (pd.to_datetime(back['stamp']) - seconds.to_series(index=back.index)).abs()
    assert error.median() < pd.Timedelta(1, 'min')
    synthetic = dataset.transform.inverse(_random_activations(dataset.transform, 500), seed=0)
    visits = pd.to_datetime(synthetic['visit'], format='%d/%m/%Y')  # every value in the format
    assert visits.min() >= days.min() and visits.max() <= days.max() and visits.nunique() > 50
    assert pd.to_datetime(synthetic['stamp'], format='%Y-%m-%d %H:%M:%S').between(seconds.min(), seconds.max()).all()


def test_a_constant_column_is_kept_with_its_value_and_type(tmp_path):
    text = 'site,version,ratio,blank,x\n' + ''.join(f'north,3,0.5,,{i * 1.7 % 5:.2f}\n' for i in range(15))
    dataset = tables.load(table_config(write_csv(tmp_path / 'c.csv', text), holdout=0.0))
    assert [c.kind for c in dataset.transform.columns] == ['constant'] * 4 + ['continuous']
    out = dataset.transform.inverse(_random_activations(dataset.transform, 8), seed=0)
    assert list(out.columns) == ['site', 'version', 'ratio', 'blank', 'x']
    assert (out['site'] == 'north').all() and out['version'].dtype == np.int64 and (out['version'] == 3).all()
    assert (out['ratio'] == 0.5).all() and out['blank'].isna().all()
    assert out.to_csv(index=False).splitlines()[1].startswith('north,3,0.5,,')


def test_each_continuous_column_keeps_its_decimals():
    rng = np.random.default_rng(2)
    df = pd.DataFrame({'weight': np.round(rng.normal(70, 10, 80), 1), 'dose': np.round(rng.gamma(2, 1, 80), 3),
                       'raw': rng.normal(size=80), 'count': rng.integers(0, 500, 80) * 3})
    transform, _ = fitted(df)
    assert [c.decimals for c in transform.columns] == [1, 3, None, None]
    out = transform.inverse(_random_activations(transform, 300), seed=0)
    for line in out.to_csv(index=False).splitlines()[1:]:
        weight, dose, _, count = line.split(',')
        assert len(weight.partition('.')[2]) <= 1 and len(dose.partition('.')[2]) <= 3 and '.' not in count
    # no decimals imposed where the input has a float's all: every value inside the range (not clipped to
    # its ends, which random activations reach often once a unimodal column's mixture has one mode) distinct
    inside = out['raw'][(out['raw'] > df['raw'].min()) & (out['raw'] < df['raw'].max())]
    assert len(inside) > 100 and inside.round(6).nunique() == len(inside)


def test_transforms_of_older_checkpoints_read_as_before(mixed):
    """A transform saved before the fields for keys, dates and decimals: the same, at full precision."""
    _, transform, rows = mixed
    saved = json.loads(transform.to_json())
    for column in saved['columns']:
        for field in ('decimals', 'format', 'unit', 'prefix', 'suffix', 'digits', 'start', 'alphabets', 'room'):
            del column[field]
    old = tables.TableTransform.from_json(json.dumps(saved))
    assert old.dim == transform.dim and old.cond_spans == transform.cond_spans
    pd.testing.assert_frame_equal(old.inverse(rows, seed=0)[['count', 'colour']],
                                  transform.inverse(rows, seed=0)[['count', 'colour']])
