"""config.anneal: fields moved by R3GAN's cosine schedule, values in the step and in the metrics."""

import json
import math
import os

import jax
import numpy as np
import pytest

from conftest import tiny_config
from jaxgan import anneal, train
from jaxgan.errors import UserError


def official(cur_nimg, base_value, total_nimg, final_value=0.0, warmup_value=0.0, warmup_nimg=0,
             hold_base_value_nimg=0):
    """training/training_loop.py's cosine_decay_with_warmup of brownvc/R3GAN, restated in plain Python."""
    t = cur_nimg - warmup_nimg - hold_base_value_nimg
    decay = 0.5 * (1 + math.cos(math.pi * t / (total_nimg - warmup_nimg - hold_base_value_nimg)))
    value = base_value + (1 - decay) * (final_value - base_value)
    if hold_base_value_nimg > 0 and not cur_nimg > warmup_nimg + hold_base_value_nimg:
        value = base_value
    if warmup_nimg > 0 and cur_nimg < warmup_nimg:
        value = (base_value - warmup_value) / warmup_nimg * cur_nimg + warmup_value
    return final_value if cur_nimg > total_nimg else value


@pytest.mark.parametrize('kwargs', [dict(base_value=2e-4, final_value=5e-5, total_nimg=2e7),  # CIFAR10's lr
                                    dict(base_value=0.0, final_value=5e6, total_nimg=2e7),  # its EMA ramp
                                    dict(base_value=1.0, final_value=0.1, total_nimg=1e4, warmup_nimg=2e3,
                                         warmup_value=0.5, hold_base_value_nimg=1e3)])
def test_the_schedule_is_the_official_formula_at_the_start_middle_and_end(kwargs):
    total = kwargs['total_nimg']
    for nimg in (0, 1500, 2500, total / 2, 0.9 * total, total, 2 * total):
        np.testing.assert_allclose(float(anneal.cosine_decay_with_warmup(nimg, **kwargs)), official(nimg, **kwargs),
                                   rtol=1e-5, atol=1e-9 * abs(kwargs['final_value']))


def test_a_run_anneals_its_fields_by_the_images_seen_and_logs_them(tmp_path):
    # 16 images a step over 0.064 kimg: the update of step s (its row is s + 1) at s * 16 images.
    config = tiny_config(num_steps=4, log_every=1, anneal__kimg=0.064,
                         anneal__to='g_optimizer.learning_rate=1e-4;d_optimizer.b2=0.99;penalties.r1=0.5;'
                                    'augment.p=0.5;ema.half_life_kimg=1.0',
                         penalties__r1=1.0, model__d_norm='layer', augment__kind='fixed', augment__p=0.0,
                         ema__half_life_kimg=0.0, d_optimizer__b1=0.0, d_optimizer__b2=0.9)
    state = train.train(config, str(tmp_path)).state
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(state.params))
    rows = [json.loads(line) for line in open(tmp_path / 'metrics.jsonl') if 'anneal/penalties.r1' in line]
    by_step = {r['step']: r for r in rows}
    for step in (1, 2, 3, 4):  # the row of step s holds the values of the update at step s - 1
        nimg = (step - 1) * 16
        for field, (start, end) in {'g_optimizer.learning_rate': (2e-4, 1e-4), 'd_optimizer.b2': (0.9, 0.99),
                                    'penalties.r1': (1.0, 0.5), 'augment.p': (0.0, 0.5),
                                    'ema.half_life_kimg': (0.0, 1.0)}.items():
            np.testing.assert_allclose(by_step[step][f'anneal/{field}'], official(nimg, start, 64, end), rtol=1e-5)


def test_kimg_0_anneals_over_the_whole_run_and_follows_its_length():
    ranges = {'g_optimizer.learning_rate': (2e-4, 1e-4)}
    whole = tiny_config(num_steps=4, batch_size=16, anneal__kimg=0.0)
    for step in range(5):  # the same as 0.064 kimg: 4 steps of 16 images
        same = anneal.values_at(tiny_config(num_steps=4, batch_size=16, anneal__kimg=0.064), ranges, step)
        assert float(anneal.values_at(whole, ranges, step)['g_optimizer.learning_rate']) == pytest.approx(
            float(same['g_optimizer.learning_rate']), rel=1e-6)
    longer = tiny_config(num_steps=8, batch_size=16, anneal__kimg=0.0)  # twice the run: halfway at step 4
    assert float(anneal.values_at(longer, ranges, 4)['g_optimizer.learning_rate']) == pytest.approx(
        official(64, 2e-4, 128, 1e-4), rel=1e-5)


@pytest.mark.parametrize('to, message', [
    ('n_critic=2', r'config.n_critic=1 cannot move during training: only real-valued'),
    ('g_optimizer.learnig_rate=1e-4', r'no field config.g_optimizer.learnig_rate'),
    ('seed=3.0', r'config.seed cannot move'),
    ('penalties.r1', r"'penalties.r1' is not FIELD=VALUE"),
    ('ema.decay=0.5', r'config.ema.decay is not a value in the train step'),  # a half-life EMA reads no decay
    ('g_optimizer.grad_clip=1.0', r'config.g_optimizer.grad_clip cannot move from 0 to 1: its value decides what the run builds'),
    ('g_objective.adversarial=0.0', r'config.g_objective.adversarial cannot move from 1 to 0: the program branches'),
    ('ema.half_life_kimg=-1.0', r'at the end of the schedule, config.ema.half_life_kimg and'),
])
def test_a_field_that_cannot_move_is_refused_in_one_line(tmp_path, to, message):
    config = tiny_config(anneal__kimg=1.0, anneal__to=to, ema__half_life_kimg=1.0)
    with pytest.raises(UserError, match=message):
        train.train(config, str(tmp_path))
    assert not os.path.exists(tmp_path / 'checkpoints')


@pytest.mark.slow  # 30 s; the ensemble's traced configs are tests/test_ensemble.py's
def test_an_ensemble_anneals_every_member_and_refuses_a_field_swept_and_annealed(tmp_path):
    config = tiny_config(num_steps=2, log_every=1, ensemble__size=2, ensemble__sweep='g_optimizer.learning_rate=1e-4,2e-4',
                         anneal__kimg=0.032, anneal__to='d_optimizer.learning_rate=1e-4')
    train.train(config, str(tmp_path / 'a'))
    rows = [json.loads(line) for line in open(tmp_path / 'a' / 'metrics.jsonl')]
    logged = [r['anneal/d_optimizer.learning_rate'] for r in rows if 'anneal/d_optimizer.learning_rate' in r]
    assert len(logged) == 4  # two members, two steps
    np.testing.assert_allclose(sorted(logged), [official(16, 2e-4, 32, 1e-4)] * 2 + [2e-4] * 2, rtol=1e-5)
    both = tiny_config(ensemble__size=2, ensemble__sweep='g_optimizer.learning_rate=1e-4,2e-4', anneal__kimg=1.0,
                       anneal__to='g_optimizer.learning_rate=1e-5')
    with pytest.raises(UserError, match='config.g_optimizer.learning_rate is also swept'):
        train.train(both, str(tmp_path / 'b'))
