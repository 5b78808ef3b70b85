"""Translation data (jaxgan.data.translation, jaxgan.data.demos) and the paired-image metrics
(jaxgan.metrics.image_quality)."""

import importlib.util
import os

import numpy as np
import pytest
from PIL import Image, ImageFilter

from jaxgan import data
from jaxgan.data import demos, translation
from jaxgan.errors import UserError
from jaxgan.metrics import image_quality
from tests.conftest import tiny_config


def save(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(path)
    return str(path)


def marked(value, size=16, channels=3):
    """An image whose pixels are all `value`: the test can tell which file a batch image came from."""
    return np.full((size, size, channels), value, np.uint8)


def side_by_side(folder, values, size=16):
    """pix2pix's layout: file i holds A (all values[i]) | B (all 255 - values[i])."""
    return [save(os.path.join(folder, f'{i:03d}.png'),
                 np.concatenate([marked(v, size), marked(255 - v, size)], axis=1)) for i, v in enumerate(values)]


def load(dataset, **overrides):
    return data.load(tiny_config(dataset=dataset, **overrides))


def batches(dataset, *, steps, batch=4, seed=0, **kwargs):
    batcher = data.Batcher(dataset, global_batch=batch, seed=seed, workers=2, **kwargs)
    return [batcher.batch(t) for t in range(steps)]


def test_paired_side_by_side_keeps_a_and_b_of_one_file_together(tmp_path):
    side_by_side(tmp_path / 'train', range(10, 90, 10))
    side_by_side(tmp_path / 'val', [200, 210])
    dataset = load(f'paired:{tmp_path}', image_size=8)
    assert isinstance(dataset, data.TranslationDataset) and dataset.paired
    assert dataset.spec.shape == (8, 8, 3) and dataset.sizes == (8,)
    assert dataset.spec.source == f'paired:{os.path.realpath(tmp_path)}:train'
    seen = []
    for b in batches(dataset, steps=2):
        assert set(b) == {'a', 'b'} and b['a'].shape == (4, 8, 8, 3) and b['a'].dtype == np.uint8
        np.testing.assert_array_equal(b['b'].astype(int), 255 - b['a'].astype(int))
        seen += list(b['a'][:, 0, 0, 0])
    assert sorted(seen) == list(range(10, 90, 10))  # one epoch: every pair once
    val = load(f'paired:{tmp_path}:val', image_size=8)
    assert val.sizes == (2,) and set(val.examples([np.arange(2)])['a'][:, 0, 0, 0]) == {200, 210}


def test_paired_folders_a_and_b_match_by_name_with_splits_inside(tmp_path):
    for split, values in (('train', [5, 6, 7]), ('test', [8])):
        for v in values:  # A as PNG, B as BMP: names match without the extension
            save(tmp_path / 'A' / split / f'img{v}.png', marked(v, channels=1))
            save(tmp_path / 'B' / split / f'img{v}.bmp', marked(v + 100))
    dataset = load(f'paired:{tmp_path}', image_size=8)
    assert dataset.sizes == (3,) and dataset.spec.shape == (8, 8, 3)  # grey A beside RGB B: 3 channels
    out = dataset.examples([np.arange(3)])
    np.testing.assert_array_equal(out['b'].astype(int), out['a'].astype(int) + 100)
    assert list(out['a'][:, 0, 0, 0]) == [5, 6, 7]
    assert load(f'paired:{tmp_path}:test', image_size=8).sizes == (1,)
    with pytest.raises(UserError, match=f'no split folder {tmp_path}/A/val'):
        load(f'paired:{tmp_path}:val')


def test_paired_errors_name_the_files(tmp_path):
    for name in ('x', 'y', 'only_a'):
        save(tmp_path / 'p' / 'A' / f'{name}.png', marked(1))
    for name in ('x', 'y', 'only_b1', 'only_b2'):
        save(tmp_path / 'p' / 'B' / f'{name}.png', marked(1))
    with pytest.raises(UserError, match=r'do not match by file name: 1 of .*/A have no match in .*/B \(only_a\); '
                                        r'2 of .*/B have no match in .*/A \(only_b1, only_b2\)'):
        load(f'paired:{tmp_path}/p')

    save(tmp_path / 'q' / 'A' / 'x.png', marked(1, size=16))
    bad = save(tmp_path / 'q' / 'B' / 'x.png', marked(1, size=12))
    with pytest.raises(UserError, match=f'is 16x16 pixels but {bad} is 12x12'):
        load(f'paired:{tmp_path}/q')

    odd = save(tmp_path / 'r' / 'train' / 'odd.png', np.zeros((8, 17, 3), np.uint8))
    with pytest.raises(UserError, match=f'{odd}: 17 pixels wide, so its halves A\\|B differ in size'):
        load(f'paired:{tmp_path}/r')

    with pytest.raises(UserError, match=f'no split folder {tmp_path}/r/test'):
        load(f'paired:{tmp_path}/r:test')
    with pytest.raises(UserError, match='paired image folder not found'):
        load(f'paired:{tmp_path}/missing')


def test_corrupt_pair_stops_naming_the_file_or_is_skipped(tmp_path):
    paths = side_by_side(tmp_path / 'train', [10, 20, 30, 40])
    with open(paths[2], 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n not an image')
    with pytest.raises(UserError, match=f'cannot decode image {paths[2]}'):
        load(f'paired:{tmp_path}', image_size=8).examples([np.arange(4)])
    dataset = load(f'paired:{tmp_path}', image_size=8, data__on_corrupt='skip')
    out = dataset.examples([np.arange(4)])
    assert list(out['a'][:, 0, 0, 0]) == [10, 20, 40, 40] and dataset.parts[0].skipped == {2}


def write_unpaired(root, sizes=(('train', 5, 7), ('test', 2, 3))):
    for split, n_a, n_b in sizes:
        for i in range(n_a):
            save(root / f'{split}A' / f'{i}.png', marked(i))
        for i in range(n_b):
            save(root / f'{split}B' / f'{i}.jpg', marked(100 + 20 * i))


def test_unpaired_domains_have_their_own_sizes_and_index_streams(tmp_path):
    write_unpaired(tmp_path)
    dataset = load(f'unpaired:{tmp_path}', image_size=8)
    assert not dataset.paired and dataset.sizes == (5, 7) and dataset.spec.num_examples == 5
    assert load(f'unpaired:{tmp_path}:test', image_size=8).sizes == (2, 3)
    steps = batches(dataset, steps=35, batch=1)  # 7 epochs of A, 5 of B
    a = np.array([b['a'][0, 0, 0, 0] for b in steps]).reshape(7, 5)
    b = np.array([(b['b'][0, 0, 0, 0] + 10) // 20 - 5 for b in steps]).reshape(5, 7)  # JPEG: near 100 + 20i
    for epoch in a:  # every A image once an epoch, in a fresh order
        assert sorted(epoch) == list(range(5))
    for epoch in b:
        assert sorted(epoch) == list(range(7))
    assert len({tuple(e) for e in a}) > 1 and len({tuple(e) for e in b}) > 1
    # A's stream is the one an image dataset of A alone gets; B's is another, not A's shifted.
    alone = batches(load(f'folder:{tmp_path}/trainA', image_size=8), steps=10, batch=1)
    assert [x['x'][0, 0, 0, 0] for x in alone] == list(a.ravel()[:10])


def test_unpaired_missing_split_is_named(tmp_path):
    write_unpaired(tmp_path, sizes=(('train', 2, 2),))
    os.makedirs(tmp_path / 'testA')
    with pytest.raises(UserError, match=f'no split folder {tmp_path}/testB .*holds testA, trainA, trainB'):
        load(f'unpaired:{tmp_path}:test')


def test_batches_are_a_function_of_seed_and_step_and_split_across_processes(tmp_path):
    write_unpaired(tmp_path)
    dataset = load(f'unpaired:{tmp_path}', image_size=8, data__jitter=True)
    whole = batches(dataset, steps=3, batch=4)
    again = data.Batcher(dataset, global_batch=4, seed=0, workers=2)
    halves = [data.Batcher(dataset, global_batch=4, seed=0, workers=2, process_index=p, process_count=2)
              for p in range(2)]
    for t in (2, 0, 1):  # any order: resume-exact
        for key in ('a', 'b'):
            np.testing.assert_array_equal(again.batch(t)[key], whole[t][key])
            np.testing.assert_array_equal(np.concatenate([h.batch(t)[key] for h in halves]), whole[t][key])
    other = batches(dataset, steps=1, batch=4, seed=1)[0]
    assert not np.array_equal(other['b'], whole[0]['b'])


def test_dispatch_batches_stacks_a_and_b_per_step(tmp_path):
    side_by_side(tmp_path / 'train', range(0, 120, 10))
    batcher = data.Batcher(load(f'paired:{tmp_path}', image_size=8), global_batch=4, seed=0, workers=2)
    (step, out), = data.dispatch_batches({'': batcher}, start_step=0, num_steps=1, n_critic=2,
                                         steps_per_dispatch=1)
    assert step == 0 and set(out) == {'a', 'b'}
    assert out['a'].shape == out['b'].shape == (2, 4, 8, 8, 3) and out['a'].dtype == np.uint8
    np.testing.assert_array_equal(out['a'][1], batcher.batch(1)['a'])


def ramp(size=32):
    """A horizontal ramp in A and a vertical one in B: a flip or a crop shows in the first row and column."""
    x = np.tile(np.linspace(0, 255, size).round().astype(np.uint8), (size, 1))
    return np.stack([x, x.T, x], axis=-1)


@pytest.mark.parametrize('paired', [True, False])
def test_jitter_crops_and_flips_a_and_b_alike_for_pairs_only(tmp_path, paired):
    image = ramp()
    if paired:
        for i in range(16):
            save(tmp_path / 'train' / f'{i:02d}.png', np.concatenate([image, image], axis=1))
    else:
        for i in range(16):
            save(tmp_path / 'trainA' / f'{i:02d}.png', image)
            save(tmp_path / 'trainB' / f'{i:02d}.png', image)
    name = f'{"paired" if paired else "unpaired"}:{tmp_path}'
    plain = load(name, image_size=32).examples([np.arange(16)] * (1 if paired else 2))
    b = batches(load(name, image_size=32, data__jitter=True), steps=1, batch=16)[0]
    assert b['a'].shape == (16, 32, 32, 3)
    assert not np.array_equal(b['a'], plain['a'])
    flipped = b['a'][:, 0, 0, 0] > b['a'][:, 0, -1, 0]  # the ramp decreases left to right
    assert 0 < flipped.sum() < 16
    # 286/256 of 32 is 36: a crop moves the ramp by at most 4 pixels' worth (about 33 grey levels).
    assert np.abs(np.sort(b['a'][:, 16, :, 0].astype(int), axis=1) - plain['a'][:, 16, :, 0]).max() <= 40
    same = [np.array_equal(x, y) for x, y in zip(b['a'], b['b'])]
    assert all(same) if paired else sum(same) <= 4  # by chance, 1 in 50 each (25 crops, 2 flips)


def test_jitter_and_flip_are_refused_where_they_do_not_apply():
    with pytest.raises(UserError, match='config.data.jitter is for translation data'):
        load('digits', data__jitter=True)
    with pytest.raises(UserError, match='config.data.flip: demo:edges2digits:train is translation data'):
        load('demo:edges2digits', data__flip=True)
    with pytest.raises(UserError, match='config.data.on_device: not supported for translation data'):
        load('demo:edges2digits', data__on_device=True)
    with pytest.raises(UserError, match='the demos are demo:edges2digits, demo:digits_colour'):
        load('demo:nothing')
    with pytest.raises(UserError, match='the splits are demo:edges2digits:train and demo:edges2digits:test'):
        load('demo:edges2digits:val')


def test_names_parse():
    assert translation.path_and_split('/d/facades:val') == ('/d/facades', 'val')
    assert translation.path_and_split('/d/facades') == ('/d/facades', 'train')
    assert translation.is_translation('tfds:cycle_gan/horse2zebra')
    assert translation.is_translation('tfds:cycle_gan/horse2zebra:test[:10%]')
    assert not translation.is_translation('tfds:cycle_gan/horse2zebra:trainB')  # one domain: an image dataset
    assert not translation.is_translation('folder:/d')
    assert data.canonical_dataset('demo:digits_colour') == 'demo:digits_colour:train'


def test_edges2digits_pairs_an_outline_with_its_digit():
    dataset = load('demo:edges2digits', image_size=32)
    test = load('demo:edges2digits:test', image_size=32)
    assert dataset.sizes == (1437,) and test.sizes == (360,) and dataset.spec.shape == (32, 32, 1)
    out = test.examples([np.arange(360)])
    assert set(np.unique(out['a'])) == {0, 255}
    edge = out['a'][..., 0] == 255
    assert (out['b'][..., 0][edge] >= 128).all()  # the outline lies on the ink
    assert 0.05 < edge.mean() < 0.5 * (out['b'] >= 128).mean()  # a thin line, not the filled digit
    truth, _ = demos.digits_at('test')
    np.testing.assert_array_equal(out['b'], truth)


def test_digits_colour_is_unpaired_in_training_and_aligned_for_scoring():
    train = load('demo:digits_colour', image_size=32)
    raw_a, raw_b = (part.source.array for part in train.parts)
    assert train.sizes == (718, 719) and train.spec.shape == (32, 32, 3)
    assert raw_a.shape[-1] == 1 and raw_b.shape[-1] == 3
    b_as_a = demos.uncolour(raw_b)
    assert np.abs(demos.uncolour(demos.colour(raw_a)).astype(int) - raw_a).max() <= 1  # the inverse
    assert not {x.tobytes() for x in raw_a} & {x.tobytes() for x in b_as_a}  # other digits in B
    other_seed = load('demo:digits_colour', image_size=32, seed=1)
    assert not np.array_equal(other_seed.parts[0].source.array, raw_a)
    test = load('demo:digits_colour:test', image_size=32)
    a, b = test.parts[0].source, test.parts[1].source
    np.testing.assert_array_equal(b.array, demos.colour(a.array))
    np.testing.assert_array_equal(a.labels, b.labels)
    batch = batches(test, steps=1, batch=8)[0]
    assert batch['a'].shape == batch['b'].shape == (8, 32, 32, 3)


def test_direction_b2a_swaps_the_halves_of_pairs_and_the_two_domains(tmp_path):
    side_by_side(tmp_path / 'p' / 'train', [10, 20, 30])
    a2b = load(f'paired:{tmp_path / "p"}').examples([np.arange(3)])
    b2a = load(f'paired:{tmp_path / "p"}', data__direction='b2a')
    swapped = b2a.examples([np.arange(3)])
    np.testing.assert_array_equal(swapped['a'], a2b['b'])
    np.testing.assert_array_equal(swapped['b'], a2b['a'])
    assert b2a.aligned and b2a.spec.source.endswith('(B to A)')
    demo = load('demo:digits_colour:test', image_size=32, data__direction='b2a')
    assert demo.aligned and demo.parts[0].source.array.shape[-1] == 3  # A is now the coloured domain
    assert demo.readable['b2a'] is demos.uncolour and demo.readable['a2b'] is not demos.uncolour
    write_unpaired(tmp_path / 'u')
    unpaired = load(f'unpaired:{tmp_path / "u"}', data__direction='b2a')
    assert unpaired.sizes == (7, 5) and not unpaired.aligned  # trainB's 7 images are A now
    with pytest.raises(UserError, match="config.data.direction='ba' is not one of a2b, b2a"):
        from jaxgan import config as config_lib
        config_lib.validate(tiny_config(data__direction='ba'), num_devices=1, num_processes=1)


def test_tfds_cycle_gan_reads_both_domains_of_a_split(monkeypatch):
    tfds = pytest.importorskip('tensorflow_datasets')
    from jaxgan.data import sources
    monkeypatch.setattr(sources, 'unreachable_hosts', lambda urls: [])
    with tfds.testing.mock_data(num_examples=6):
        for split in ('train', 'test'):
            dataset = load(f'tfds:cycle_gan/horse2zebra:{split}', image_size=16)
            assert [p.source.description for p in dataset.parts] == [
                f'tfds:cycle_gan/horse2zebra:{split}A', f'tfds:cycle_gan/horse2zebra:{split}B']
            b = batches(dataset, steps=1)[0]
            assert b['a'].shape == b['b'].shape == (4, 16, 16, 3)
        one = load('tfds:cycle_gan/horse2zebra:trainB', image_size=16)
        assert isinstance(one, data.Dataset) and one.spec.num_examples == 6


# Paired-image metrics.

def test_metrics_of_equal_images_and_of_known_noise():
    x = np.random.default_rng(0).integers(20, 236, (3, 24, 24, 3)).astype(np.uint8)
    assert (image_quality.ssim(x, x, data_range=255) == 1).all()
    assert np.isinf(image_quality.psnr(x, x, data_range=255)).all() and (image_quality.l1(x, x) == 0).all()
    noise = np.where(np.random.default_rng(1).random(x.shape) < 0.5, -10, 10)
    y = (x + noise).astype(np.uint8)  # no clipping: |noise| = 10 everywhere
    np.testing.assert_allclose(image_quality.psnr(x, y, data_range=255), 10 * np.log10(255 ** 2 / 100))
    np.testing.assert_allclose(image_quality.l1(x, y), 10)
    assert (image_quality.ssim(x, y, data_range=255) < 1).all()


def test_ssim_of_flat_images_is_the_luminance_term():
    a, b = np.full((1, 16, 16, 1), 100.0), np.full((1, 16, 16, 1), 140.0)
    c1 = (0.01 * 255) ** 2
    np.testing.assert_allclose(image_quality.ssim(a, b, data_range=255), (2 * 100 * 140 + c1) / (100 ** 2 + 140 ** 2 + c1))


def test_ssim_matches_a_direct_computation_window_by_window():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (14, 13, 2)).astype(float)
    y = np.clip(x + rng.normal(0, 30, x.shape), 0, 255)
    t = np.arange(11) - 5.0
    w = np.exp(-t ** 2 / 4.5)
    w2 = np.outer(w, w) / np.outer(w, w).sum()
    c1, c2 = 2.55 ** 2, 7.65 ** 2
    values = []
    for c in range(2):
        for i in range(14 - 10):
            for j in range(13 - 10):
                px, py = x[i:i + 11, j:j + 11, c], y[i:i + 11, j:j + 11, c]
                mx, my = (w2 * px).sum(), (w2 * py).sum()
                vx, vy = (w2 * (px - mx) ** 2).sum(), (w2 * (py - my) ** 2).sum()
                cov = (w2 * (px - mx) * (py - my)).sum()
                values.append((2 * mx * my + c1) * (2 * cov + c2) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2)))
    np.testing.assert_allclose(image_quality.ssim(x, y, data_range=255), np.mean(values), rtol=1e-10)


@pytest.mark.skipif(importlib.util.find_spec('skimage') is None, reason='scikit-image is not installed')
def test_ssim_matches_scikit_image():
    from skimage.metrics import structural_similarity
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
    y = np.clip(x + rng.normal(0, 20, x.shape), 0, 255).astype(np.uint8)
    expected = structural_similarity(x, y, data_range=255, channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
    np.testing.assert_allclose(image_quality.ssim(x, y, data_range=255), expected, rtol=1e-6)


def test_sharpness_falls_with_blur_and_scores_average_per_image():
    digits, _ = demos.digits_at('test')
    sharp = digits[:10]
    blurred = np.stack([np.asarray(Image.fromarray(d[..., 0]).filter(ImageFilter.GaussianBlur(1.5)))[..., None]
                        for d in sharp])
    assert (image_quality.sharpness(blurred) < image_quality.sharpness(sharp)).all()
    s = image_quality.scores(blurred, sharp, data_range=255)
    assert 0 < s['ssim'] < 1 and s['sharpness'] < s['sharpness_truth']
    assert s['psnr'] == pytest.approx(image_quality.psnr(blurred, sharp, data_range=255).mean())
    with pytest.raises(ValueError, match='one shape'):
        image_quality.l1(digits[:2], digits[:3])
