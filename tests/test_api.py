"""The Python API (jaxgan.api, `jaxgan.load`) on tiny runs of each family: images as `jaxgan.sample` writes
them, a conditional generator's labels, table rows in the input's schema, translations of arrays and of
a folder as `jaxgan.translate` writes them, and the one-line refusals of what a model does not make."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

import jaxgan
from jaxgan import train
from jaxgan.data import sources, tables, transforms
from jaxgan.data.spec import DataSpec
from jaxgan.errors import UserError
from jaxgan.family import build
from tests.conftest import run_cli, tiny_config
from tests.test_tabular import tiny_ctgan
from tests.test_translation import CYCLEGAN


@pytest.fixture(scope='module')
def cyclegan_run(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp('cyclegan'))
    train.train(tiny_config(num_steps=2, **CYCLEGAN), workdir)
    return workdir


@pytest.fixture(scope='module')
def ctgan_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('ctgan')
    train.train(tiny_ctgan(tmp, num_steps=2), str(tmp / 'run'))
    return str(tmp / 'run')


def test_import_jaxgan_imports_no_jax_until_load_is_used():
    code = ("import sys, jaxgan; assert 'jax' not in sys.modules, 'eager'; jaxgan.load; "
            "assert 'jax' in sys.modules; print(jaxgan.load.__module__)")
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == 'jaxgan.api', done.stderr[-2000:]


def test_images_are_what_jaxgan_sample_writes_for_the_same_seed_and_label(dcgan_run, tmp_path, python_env):
    run = jaxgan.load(dcgan_run)
    assert (run.step, run.output, run.config.model.name) == (2, 'samples', 'dcgan')
    images = run.images(5, seed=3, label=7)
    assert images.shape == (5, 16, 16, 1) and images.dtype == np.uint8
    out = tmp_path / 'x.npy'
    done = run_cli(['-m', 'jaxgan.sample', f'--workdir={dcgan_run}', '--num=5', '--seed=3', '--label=7',
                    f'--out={out}'], python_env, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    np.testing.assert_array_equal(images, np.load(out))
    # The label, the seed and the EMA generator each matter; the same call gives the same images.
    np.testing.assert_array_equal(run.images(5, seed=3, label=7), images)
    assert not np.array_equal(run.images(5, seed=3, label=2), images)
    assert not np.array_equal(run.images(5, seed=4, label=7), images)
    assert not np.array_equal(run.images(5, seed=3, label=7, ema=False), images)
    with pytest.raises(UserError, match=r'^--label=10: the classes are 0 to 9$'):
        run.images(5, label=10)


def test_rows_are_in_the_inputs_columns_and_keep_a_condition(ctgan_run):
    run = jaxgan.load(ctgan_run)
    assert run.output == 'rows'
    rows = run.rows(30, seed=1)
    assert list(rows.columns) == list(tables.read_table('table:diabetes').columns) and len(rows) == 30
    assert rows['age'].dtype.kind == 'i' and set(rows['sex']) <= {1, 2}
    men = run.rows(20, seed=1, where=('sex', 1))
    assert len(men) == 20 and set(men['sex']) == {1}
    assert men.equals(run.rows(20, seed=1, where=('sex', '1')))  # the value as the input writes it, or as text
    with pytest.raises(UserError, match=r"column 'sex' has no category '7'"):
        run.rows(5, where=('sex', '7'))


def test_translate_arrays_and_a_folder_as_jaxgan_translate_does(cyclegan_run, tmp_path):
    run = jaxgan.load(cyclegan_run)
    model, state = run.model, run.state
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    want = jax.jit(lambda p, s, x: model.translate(p, s, model.spec.model_input(x), 'b2a'))(
        state.ema, state.model_state, jnp.asarray(x))
    got = run.translate(x, 'b2a', batch_size=2)
    assert got.shape == (3, 16, 16, 3) and got.dtype == np.uint8
    assert np.abs(got.astype(int) - model.spec.to_data_units(want)).max() <= 1  # float rounding apart
    assert not np.array_equal(run.translate(x, 'a2b'), got)
    # Images of other sizes and channels: prepared as the training data, as the folder tool reads them.
    odd = [rng.integers(0, 256, (20, 24, 3), dtype=np.uint8), rng.integers(0, 256, (40, 30), dtype=np.uint8)]
    prepared = np.stack([transforms.preprocess_image(i, size=16, crop=0, channels=3) for i in odd])
    np.testing.assert_array_equal(run.translate(odd), run.translate(prepared))
    os.makedirs(tmp_path / 'in')
    for i, image in enumerate(odd):
        Image.fromarray(image).save(tmp_path / 'in' / f'{i}.png')
    written = run.translate_folder(str(tmp_path / 'in'), str(tmp_path / 'out'))
    assert sorted(os.path.basename(p) for p in written) == ['0.png', '1.png']
    files = sources.image_files(str(tmp_path / 'in'))
    expected = run.translate([sources.decode_image(f, f) for f in files])
    for f, image in zip(files, expected):
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / 'out' / os.path.basename(f))), image)
    with pytest.raises(UserError, match=r'^dst=.* is the input folder'):
        run.translate_folder(str(tmp_path / 'in'), str(tmp_path / 'in'))
    with pytest.raises(UserError, match=r'^translate: image 0 is float32 \[16, 16, 3\]; give uint8 images'):
        run.translate(np.zeros((1, 16, 16, 3), np.float32))


def test_each_method_refuses_a_model_that_makes_something_else_in_one_line(dcgan_run, cyclegan_run, ctgan_run):
    gan, translation, table = (jaxgan.load(w) for w in (dcgan_run, cyclegan_run, ctgan_run))
    cases = [
        (lambda: gan.translate(np.zeros((1, 16, 16, 1), np.uint8)),
         "translate: this run's model makes samples, not translations: use images()"),
        (lambda: gan.translate_folder('in', 'out'),
         "translate_folder: this run's model makes samples, not translations: use images()"),
        (lambda: gan.rows(5), "rows: this run's model makes samples, not rows: use images()"),
        (lambda: translation.images(4), "images: this run's model makes translations, not samples: use translate() "
                                        "or translate_folder()"),
        (lambda: table.images(4), "images: this run's model makes rows, not samples: use rows()"),
        (lambda: table.translate(np.zeros((1, 16, 16, 3), np.uint8)),
         "translate: this run's model makes rows, not translations: use rows()"),
        (lambda: gan.images(0), 'images: num=0 must be positive'),
    ]
    for call, message in cases:
        with pytest.raises(UserError) as error:
            call()
        assert str(error.value) == message


def test_translate_refuses_a_direction_the_model_lacks():
    config = tiny_config(model__name='pix2pix', image_size=32, translation__patch=16)
    pix2pix = jaxgan.Trained(workdir='runs/p', config=config, step=0, state=None,
                             model=build(config, DataSpec('image', (32, 32, 3), 10, 'test')))
    with pytest.raises(UserError, match=r"^translate: direction='b2a': this pix2pix model translates a2b only$"):
        pix2pix.translate(np.zeros((1, 32, 32, 3), np.uint8), 'b2a')
