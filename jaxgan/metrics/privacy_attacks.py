"""Membership inference against synthetic tables: how well an attacker who holds the synthetic rows tells
the rows the generator was trained on (members) from rows of the same population it never saw
(non-members).

    advantage(scores, is_member)                  max over thresholds of TPR - FPR, and the AUC
    distance_scores(candidates, synthetic)         GAN-Leaks' full black-box score
    calibrated_scores(candidates, synthetic, reference)   GAN-Leaks' calibrated score
    membership_attack(train, synthetic, holdout, kinds, seed=...)   both, members against non-members
    report(train, synthetic, holdout, kinds, seed=...)   the attacks and table.privacy's distances

The attacks are those of Chen et al. 2020, "GAN-Leaks: A Taxonomy of Membership Inference Attacks
against Generative Models" (CCS), section 5.3 (full black-box: a candidate is scored by its distance to
the closest generated sample; the implementation's `attack_models/fbb.py` takes that distance over a
large set of samples, nearest neighbours) and section 5.4 (calibration: the score minus the same distance
to a reference model's samples, which removes how typical the candidate is of the population; a reference
model trained on data of the population stands in for it here as the reference rows themselves, as the
reference data set of DOMIAS, van Breugel et al. 2023, "Membership Inference Attacks against Synthetic
Data through Overfitting Detection", AISTATS). The attack's strength is Yeom et al. 2018's membership
advantage ("Privacy Risk in Machine Learning: Analyzing the Connection to Overfitting", CSF,
definition 4): TPR - FPR, here at the best threshold (chosen on the same candidates, so optimistic),
beside the threshold-free AUC. Rows are vectors in table.privacy's encoding (`table._dcr_encoding`:
numbers scaled by the training range, categories one-hot), the keys left out.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from jaxgan.errors import UserError
from jaxgan.metrics import table
from jaxgan.metrics.table_values import Kinds, _columns, _plain

BOOTSTRAP = 200  # resamples of the candidates for the attack's spread
PERMUTATIONS = 200  # label shuffles for the advantage that chance reaches on this many candidates
MIN_CANDIDATES = 5  # members (and as many non-members) below which an attack says nothing


def advantage(scores: np.ndarray, is_member: np.ndarray) -> tuple[float, float]:
    """(Yeom et al.'s membership advantage max_t TPR(t) - FPR(t), the ROC AUC) of an attack that calls
    a candidate a member when its score is at least t; higher scores mean "member". The thresholds are the
    distinct scores (ties one point, as sklearn's roc_curve), the AUC is the Mann-Whitney statistic with
    ties counted one half (sklearn's roc_auc_score); numpy here, as the spread calls it hundreds of times.
    0 and 0.5 for an attack that knows nothing; 1 and 1 for one that separates the two sets."""
    scores, is_member = np.asarray(scores, np.float64), np.asarray(is_member, bool)
    positives, negatives = int(is_member.sum()), int((~is_member).sum())
    if not positives or not negatives:
        raise ValueError('advantage needs members and non-members')
    order = np.argsort(-scores, kind='stable')
    ranked, hits = scores[order], is_member[order]
    last = np.r_[ranked[1:] != ranked[:-1], True]  # the last candidate of each distinct score
    tpr, fpr = np.cumsum(hits)[last] / positives, np.cumsum(~hits)[last] / negatives
    # The trapezoids under the ROC's points: ties give the diagonal steps that count them one half.
    x, y = np.r_[0.0, fpr], np.r_[0.0, tpr]
    auc = float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))
    return float(max(np.max(tpr - fpr), 0.0)), auc


def _nearest(points: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Each point's Euclidean distance to its closest row (exact search)."""
    from sklearn.neighbors import NearestNeighbors
    return NearestNeighbors(n_neighbors=1).fit(rows).kneighbors(points)[0][:, 0]


def distance_scores(candidates: np.ndarray, synthetic: np.ndarray) -> np.ndarray:
    """GAN-Leaks' full black-box attack (Chen et al. 2020, section 5.3): minus the distance from each
    candidate to its closest synthetic row; a generator that copied its training rows puts members at 0."""
    return -_nearest(candidates, synthetic)


def calibrated_scores(candidates: np.ndarray, synthetic: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """GAN-Leaks' calibrated attack (Chen et al. 2020, section 5.4): the distance to the closest reference
    row minus that to the closest synthetic row. A candidate in a dense region of the population is close
    to both, so what is left is how much closer the generator came to it than the population does."""
    return _nearest(candidates, reference) - _nearest(candidates, synthetic)


def _spread(scores: np.ndarray, is_member: np.ndarray, rng: np.random.Generator) -> dict:
    """Bootstrap (members and non-members resampled apart, BOOTSTRAP times): the advantage's and the AUC's
    standard deviation and 2.5-97.5 percentiles; and the advantage's 95th percentile when the labels are
    shuffled (PERMUTATIONS times), which is what an attack that knows nothing reaches on this many
    candidates by its threshold's choice, with the share of shuffles at least the observed one (p-value)."""
    members, others = np.flatnonzero(is_member), np.flatnonzero(~is_member)
    boot = []
    for _ in range(BOOTSTRAP):
        pick = np.concatenate([rng.choice(members, len(members)), rng.choice(others, len(others))])
        boot.append(advantage(scores[pick], is_member[pick]))
    boot_ = np.array(boot)
    observed = advantage(scores, is_member)[0]
    null = np.array([advantage(scores, rng.permutation(is_member))[0] for _ in range(PERMUTATIONS)])
    return {'advantage_std': float(boot_[:, 0].std()), 'auc_std': float(boot_[:, 1].std()),
            'advantage_ci95': [float(v) for v in np.percentile(boot_[:, 0], [2.5, 97.5])],
            'auc_ci95': [float(v) for v in np.percentile(boot_[:, 1], [2.5, 97.5])],
            'chance_advantage_95': float(np.percentile(null, 95)),
            'p_value': float((1 + np.sum(null >= observed)) / (1 + PERMUTATIONS)),
            'bootstrap': BOOTSTRAP, 'permutations': PERMUTATIONS}


def _attack(scores: np.ndarray, is_member: np.ndarray, rng: np.random.Generator) -> dict:
    adv, auc = advantage(scores, is_member)
    return {'members': int(is_member.sum()), 'non_members': int((~is_member).sum()), 'advantage': adv, 'auc': auc,
            **_spread(scores, is_member, rng)}


def _encoded(train: pd.DataFrame, tables: Sequence[pd.DataFrame], kinds: Kinds) -> list[np.ndarray]:
    """The tables in table.privacy's encoding (fitted on the training rows), the key columns left out."""
    keys = table.identifier_columns(train, kinds)
    content = {c: kind for c, kind in kinds.items() if c not in keys}
    return table._dcr_encoding(train, tables, _columns(content, train, *tables), content)


def check_rows(train: int, holdout: int) -> None:
    """A UserError unless there are MIN_CANDIDATES training and holdout rows at least."""
    if holdout < MIN_CANDIDATES or train < MIN_CANDIDATES:
        raise UserError(f'{holdout} holdout and {train} training rows: a membership attack needs at least '
                        f'{MIN_CANDIDATES} of each (raise config.table.holdout)')


def membership_attack(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, kinds: Kinds, *,
                      seed: int) -> dict:
    """Both GAN-Leaks attacks on members (training rows) against as many non-members (holdout rows):

    'distance' (full black-box): every holdout row a non-member, as many training rows (drawn with the
    seed) the members. 'calibrated': the holdout halved (with the seed), one half the reference rows, the
    other the non-members, as many training rows the members; None where that leaves fewer than
    MIN_CANDIDATES a side. Each: {'members', 'non_members', 'advantage', 'auc', their bootstrap std and
    95% intervals, 'chance_advantage_95', 'p_value'} (`_spread`). UserError for fewer than MIN_CANDIDATES
    holdout rows or no synthetic rows."""
    check_rows(len(train), len(holdout))
    if not len(synthetic):
        raise UserError('no synthetic rows to attack with')
    rng = np.random.default_rng([seed, 0x3e3])
    n = min(len(train), len(holdout))
    members = train.iloc[np.sort(rng.permutation(len(train))[:n])]
    others = holdout.iloc[np.sort(rng.permutation(len(holdout))[:n])]
    synth, mem, non = _encoded(train, [synthetic, members, others], kinds)
    candidates, is_member = np.concatenate([mem, non]), np.r_[np.ones(n, bool), np.zeros(n, bool)]
    out: dict = {'distance': _attack(distance_scores(candidates, synth), is_member, rng), 'calibrated': None}
    half = n // 2
    if half >= MIN_CANDIDATES:
        order = rng.permutation(n)
        reference, non_c, mem_c = non[order[:half]], non[order[half:2 * half]], mem[rng.permutation(n)[:half]]
        calibrated = np.concatenate([mem_c, non_c])
        flags = np.r_[np.ones(half, bool), np.zeros(half, bool)]
        out['calibrated'] = _attack(calibrated_scores(calibrated, synth, reference), flags, rng)
    return out


def report(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, kinds: Kinds, *, seed: int) -> dict:
    """{'rows', 'attacks' (`membership_attack`), 'dcr' (table.privacy), 'summary'}: the summary holds the
    full black-box attack's 'mia_advantage', 'mia_auc', 'mia_advantage_ci95', 'mia_chance_advantage_95',
    the calibrated one's 'mia_calibrated_advantage' and 'mia_calibrated_auc' (None where not run), and
    table.privacy's 'dcr_ratio', 'closer_than_holdout_p5', 'exact_copies', 'near_copies' and 'leaked_rows'.
    JSON-ready."""
    attacks = membership_attack(train, synthetic, holdout, kinds, seed=seed)
    dcr = table.privacy(train, synthetic, holdout, kinds, seed)
    full, calibrated = attacks['distance'], attacks['calibrated']
    summary = {'mia_advantage': full['advantage'], 'mia_auc': full['auc'],
               'mia_advantage_ci95': full['advantage_ci95'], 'mia_chance_advantage_95': full['chance_advantage_95'],
               'mia_calibrated_advantage': calibrated['advantage'] if calibrated else None,
               'mia_calibrated_auc': calibrated['auc'] if calibrated else None,
               **{k: dcr[k] for k in ('dcr_ratio', 'closer_than_holdout_p5', 'exact_copies', 'near_copies',
                                      'leaked_rows')}}
    return _plain({'rows': {'train': len(train), 'synthetic': len(synthetic), 'holdout': len(holdout)},
                   'attacks': attacks, 'dcr': dcr, 'summary': summary})
