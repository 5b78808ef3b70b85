"""Mixed tables with known strong pairwise dependences, to measure whether synthetic rows keep them.

    python benchmarks/dependence_tables.py --out_dir=DIR [--rows=2000] [--seed=0]   # DIR/linear.csv ...

Three tables, each with integers, a rare category (about 2%), a boolean and missing values (about 5%):
    linear          income and spend correlated at 0.8 (Pearson), age an integer at 0.5 with income,
                    a region with a rare island, member a boolean of spend through a logistic link
    monotone        dose (gamma) and response = exp(dose / 2) with noise: monotone, non-linear
                    (Spearman about 0.95, Pearson lower), visits an integer Poisson in dose, a boolean
    category_shift  a group (a, b, c and a rare d) that shifts value by -2, 0, 2 and 4 standard
                    deviations, score = value plus noise, defaulted a boolean of score (logistic)
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

TABLES = ('linear', 'monotone', 'category_shift')


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _gaps(rng: np.random.Generator, values: np.ndarray, rate: float = 0.05) -> np.ndarray:
    """values with a `rate` of them missing (NaN), at random."""
    out = values.astype(float).copy()
    out[rng.random(len(out)) < rate] = np.nan
    return out


def linear(rows: int, rng: np.random.Generator) -> pd.DataFrame:
    income = rng.normal(50.0, 10.0, rows)
    spend = 20.0 + 0.8 * (income - 50.0) / 10.0 * 5.0 + 0.6 * rng.normal(0.0, 5.0, rows)
    age = np.clip(np.round(45 + 0.5 * (income - 50.0) / 10.0 * 12 + np.sqrt(0.75) * rng.normal(0, 12, rows)), 18, 90)
    region = rng.choice(['north', 'south', 'east', 'island'], rows, p=[0.45, 0.33, 0.20, 0.02])
    member = rng.random(rows) < _logistic((spend - 20.0) / 2.0)
    return pd.DataFrame({'income': np.round(income, 2), 'spend': np.round(_gaps(rng, spend), 2),
                         'age': age.astype(int), 'region': region, 'member': member})


def monotone(rows: int, rng: np.random.Generator) -> pd.DataFrame:
    dose = rng.gamma(3.0, 1.0, rows)
    response = np.exp(dose / 2.0) * np.exp(rng.normal(0.0, 0.15, rows))
    visits = rng.poisson(1.0 + 2.0 * dose)
    site = rng.choice(['clinic', 'hospital', 'home', 'ship'], rows, p=[0.5, 0.3, 0.18, 0.02])
    relapse = rng.random(rows) < _logistic(2.0 * (dose - 3.0))
    return pd.DataFrame({'dose': np.round(dose, 3), 'response': np.round(_gaps(rng, response), 3),
                         'visits': visits.astype(int), 'site': site, 'relapse': relapse})


def category_shift(rows: int, rng: np.random.Generator) -> pd.DataFrame:
    group = rng.choice(['a', 'b', 'c', 'd'], rows, p=[0.4, 0.35, 0.23, 0.02])
    shift = pd.Series(group).map({'a': -2.0, 'b': 0.0, 'c': 2.0, 'd': 4.0}).to_numpy()
    value = 100.0 + 10.0 * (shift + rng.normal(0.0, 1.0, rows))
    score = 0.05 * (value - 100.0) + rng.normal(0.0, 0.5, rows)
    tenure = np.clip(np.round(10 + 3 * score + rng.normal(0, 3, rows)), 0, None)
    defaulted = rng.random(rows) < _logistic(3.0 * score)
    return pd.DataFrame({'group': group, 'value': np.round(value, 1), 'score': np.round(_gaps(rng, score), 3),
                         'tenure': tenure.astype(int), 'defaulted': defaulted})


def make(name: str, rows: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Table `name` (one of TABLES) of `rows` rows, drawn with `seed`."""
    return {'linear': linear, 'monotone': monotone, 'category_shift': category_shift}[name](
        rows, np.random.default_rng([seed, TABLES.index(name)]))


def write_all(out_dir: str, rows: int = 2000, seed: int = 0) -> dict[str, str]:
    """The three tables as DIR/NAME.csv: {name: path}."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    for name in TABLES:
        paths[name] = os.path.join(out_dir, f'{name}.csv')
        make(name, rows, seed).to_csv(paths[name], index=False)
    return paths


if __name__ == '__main__':
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument('--out_dir', required=True)
    parser.add_argument('--rows', type=int, default=2000)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    for name, path in write_all(args.out_dir, args.rows, args.seed).items():
        print(name, path)
