"""One fit of the `ctgan` package's CTGAN or TVAE, run from the package's own environment (it is not a
dependency of jaxgan: its rdt needs pandas below 3). benchmarks/table_correlations.py calls it:

    python benchmarks/ctgan_peer.py --system=ctgan --train=train.csv --discrete=a,b --seed=0 \\
        --epochs=300 --out=synthetic.csv          # prints {"seconds": fit seconds}

The package's defaults (CTGAN: batch 500, pac 10, widths 256; TVAE: batch 500, widths 128), `epochs`
epochs; samples as many rows as the training rows. The package refuses missing values in continuous
columns; as SDV does for it (rdt's missing_value_generation='from_column'), each numerical column with
gaps is filled with its mean and gets a discrete `<column>.is_null` column, and the sampled rows have
NaN where theirs is true.
"""

import argparse
import json
import time

import pandas as pd
import torch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--system', choices=('ctgan', 'tvae'), required=True)
    parser.add_argument('--train', required=True)
    parser.add_argument('--discrete', default='')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--epochs', type=int, default=300)
    parser.add_argument('--out', required=True)
    args = parser.parse_args()
    from ctgan import CTGAN, TVAE
    train = pd.read_csv(args.train, keep_default_na=True)
    discrete = [c for c in args.discrete.split(',') if c]
    for column in discrete:  # as categories (the package's transformer one-hots them, gaps included)
        train[column] = train[column].astype(object)
    gaps = [c for c in train.columns if c not in discrete and train[c].isna().any()]
    for column in gaps:
        train[f'{column}.is_null'] = train[column].isna().astype(str)
        train[column] = train[column].fillna(train[column].mean())
    discrete += [f'{c}.is_null' for c in gaps]
    torch.manual_seed(args.seed)
    model = CTGAN(epochs=args.epochs, batch_size=500, pac=10) if args.system == 'ctgan' else TVAE(epochs=args.epochs)
    model.set_random_state(args.seed)
    start = time.perf_counter()
    model.fit(train, discrete_columns=discrete)
    seconds = time.perf_counter() - start
    rows = model.sample(len(train))
    for column in gaps:
        rows.loc[rows.pop(f'{column}.is_null') == 'True', column] = float('nan')
    rows.to_csv(args.out, index=False)
    print(json.dumps({'seconds': seconds}))


if __name__ == '__main__':
    main()
