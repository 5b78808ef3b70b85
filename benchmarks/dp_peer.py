"""One fit of smartnoise-synth's DPCTGAN or PATECTGAN (OpenDP; PyTorch with Opacus), run from the library's
own environment (it is not a dependency of jaxgan: it pins Opacus 0.14 and its own PyTorch).
benchmarks/dp_tables.py calls it:

    python benchmarks/dp_peer.py --system=dpctgan --train=train.csv --categorical=sex \\
        --bounds='age=0:120;bmi=10:70' --epsilon=3 --delta=1e-5 --seed=0 --out=synthetic.csv
        # prints {"fit_seconds", "epochs", "seconds_per_epoch", "epsilon_spent", ...}

The library's defaults (`Synthesizer.create(name, epsilon=E)`; DPCTGAN: batch 500, pac 1, one
discriminator step, cross-entropy loss, Opacus' noise multiplier sigma=5 fixed and max_per_sample_grad_norm
1.0 per layer, at most 300 epochs, training stopped at the first epoch whose start finds the budget spent;
PATECTGAN: teachers on disjoint partitions, trained until the moments accountant reaches epsilon). delta:
both take `delta=` (None: 1 / (n sqrt n)); --delta is passed. The public schema is the one jaxgan's
private run has: each numerical column scaled by its public range (MinMaxTransformer(lower, upper) as a
constraint, so the preprocessor spends no epsilon: preprocessor_eps stays 0) and the discrete columns'
categories (read from the rows by the library's one-hot encoder, as jaxgan takes the category sets as
schema). Samples as many rows as the training rows. One departure: where the batch of 500 is more than the training
rows, Opacus refuses the rate (sample_rate above 1) and the batch is the largest even number up to half the
rows (as jaxgan's private batch; table:diabetes' 354 rows: 176).
"""

import argparse
import json
import time

import numpy as np
import pandas as pd
import torch

BATCH = 500  # both synthesizers' default batch_size

def _bounds(text: str) -> dict:
    out = {}
    for item in filter(None, text.split(';')):
        name, span = item.split('=')
        low, high = span.split(':')
        out[name] = (float(low), float(high))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--system', choices=('dpctgan', 'patectgan'), required=True)
    parser.add_argument('--train', required=True)
    parser.add_argument('--categorical', default='')
    parser.add_argument('--bounds', required=True, help='COLUMN=LOW:HIGH;... for every numerical column')
    parser.add_argument('--epsilon', type=float, required=True)
    parser.add_argument('--delta', type=float, default=1e-5)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--batch', type=int, default=0, help='0: the library\'s 500, or the largest even number '
                        'up to half the rows where 500 is more than the rows (Opacus refuses a rate above 1)')
    parser.add_argument('--out', required=True)
    args = parser.parse_args()
    from snsynth import Synthesizer
    from snsynth.transform.minmax import MinMaxTransformer
    train = pd.read_csv(args.train)
    categorical = [c for c in args.categorical.split(',') if c]
    bounds = _bounds(args.bounds)
    for column in categorical:
        train[column] = train[column].astype(str)
    for column, (low, high) in bounds.items():  # the library clips nothing: values are in the public range
        train[column] = train[column].clip(low, high)
    constraints = {c: MinMaxTransformer(lower=low, upper=high, negative=True) for c, (low, high) in bounds.items()}
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    batch = args.batch or (BATCH if BATCH <= len(train) else len(train) // 4 * 2)
    model = Synthesizer.create(args.system, epsilon=args.epsilon, delta=args.delta, verbose=False,
                               **({} if batch == BATCH else {'batch_size': batch}))
    start = time.perf_counter()
    model.fit(train, transformer=constraints, categorical_columns=categorical, preprocessor_eps=0.0)
    seconds = time.perf_counter() - start
    rows = model.sample(len(train))
    for column in categorical:  # back to the training CSV's values (numbers read as numbers)
        original = pd.read_csv(args.train)[column]
        if pd.api.types.is_numeric_dtype(original):
            rows[column] = pd.to_numeric(rows[column])
    rows.to_csv(args.out, index=False)
    result = {'fit_seconds': seconds, 'system': args.system, 'epsilon_budget': args.epsilon, 'delta': args.delta}
    if args.system == 'dpctgan':
        # the accountant is checked at each epoch's start (epsilon_list): a check over the budget stops
        # training, after the epochs it accounts for; otherwise the last epoch trained is not in the list
        epochs = max(len(model.loss_d_list), 1)
        result.update({'epochs': epochs, 'seconds_per_epoch': seconds / epochs,
                       'epsilon_at_last_check': float(model.epsilon_list[-1]) if model.epsilon_list else None,
                       'stopped_by_budget': len(model.loss_d_list) < len(model.epsilon_list),
                       'noise_multiplier': model.sigma, 'batch': model._batch_size})
    else:
        result.update({'epochs': None, 'seconds_per_epoch': None})
    print(json.dumps(result))


if __name__ == '__main__':
    main()
