"""One fit of synthcity's DP-GAN, PATE-GAN or ADS-GAN (van der Schaar lab; PyTorch, DP-GAN with Opacus), run
from the library's own environment (it is not a dependency of jaxgan: it pins its own PyTorch and Opacus).
benchmarks/dp_tables.py calls it, as it calls benchmarks/dp_peer.py:

    python benchmarks/synthcity_peer.py --system=dpgan --train=train.csv --categorical=sex \\
        --bounds='age=0:120;bmi=10:70' --epsilon=3 --delta=1e-5 --seed=0 --out=synthetic.csv
        # prints {"fit_seconds", "epochs", "seconds_per_epoch", "epsilon_spent", ...}

The library's defaults (synthcity 0.2.12, `synthcity/plugins/privacy/plugin_*.py`), with `epsilon=`, `delta=`
and `random_state=seed`: DP-GAN (`DPGANPlugin`): at most 2000 epochs of batch 200, one discriminator step,
WGAN-GP, Opacus' `make_private_with_epsilon` calibrating the noise to the 2000 epochs, max_grad_norm 2, and
early stopping on a detection score against 20% of the rows held out of training; PATE-GAN
(`PATEGANPlugin`): 10 XGBoost teachers on disjoint partitions, Laplace vote noise lamda 1e-3, 10 GAN epochs
per round, rounds until its moments accountant reaches epsilon (at most 200); ADS-GAN (`AdsGANPlugin`): no
privacy budget at all (an identifiability penalty; --epsilon and --delta are ignored), at most 10000 epochs
with the same early stopping. Each plugin fits synthcity's own TabularEncoder (a Bayesian GMM per
numerical column, the discrete columns' categories) and its Schema (each column's observed min and max,
used to filter the sampled rows) on the training rows: synthcity has no way to take public bounds, so
--bounds only clips the rows into their public range (a no-op on the embedded tables) and --categorical
only names the columns read as categories. Samples as many rows as the training rows.

One departure: PATE-GAN's `PATEGAN.__init__` sets `self.delta = None` whatever `delta=` says, so its
accountant always runs at delta 1 / (n sqrt n) (354 rows: 1.5e-4); this script sets the model's delta
after construction, so that the run is at --delta like the others (recorded as `delta_used`).
Counters (by wrapping the library's methods, nothing changed): the GAN epochs trained, PATE-GAN's rounds
and its vote batches accounted and not (a batch whose noisy votes call more than half the fakes real is
replaced by all-fake labels before `_update_alpha`, so it is not accounted), DP-GAN's Opacus epsilon at
the end (`PrivacyEngine.get_epsilon(delta)`) and noise multiplier.
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dp_peer import _bounds  # benchmarks/dp_peer.py: the same --bounds text (imports torch, as this does)


def _plugin_args(text: str) -> dict:
    out = {}
    for item in filter(None, text.split(',')):
        key, value = item.split('=')
        for kind in (int, float, str):
            try:
                out[key] = kind(value)
                break
            except ValueError:
                continue
    return out


def _count(cls, name: str, counter: dict, key: str) -> None:
    """Wrap cls.name so that counter[key] counts its calls and counter[key + '_seconds'] their time."""
    inner = getattr(cls, name)
    counter[key], counter[key + '_seconds'] = 0, 0.0

    def wrapped(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(self, *args, **kwargs)
        finally:
            counter[key] += 1
            counter[key + '_seconds'] += time.perf_counter() - start
    setattr(cls, name, wrapped)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--system', choices=('dpgan', 'pategan', 'adsgan'), required=True)
    parser.add_argument('--train', required=True)
    parser.add_argument('--categorical', default='')
    parser.add_argument('--bounds', required=True, help='COLUMN=LOW:HIGH;... for every numerical column')
    parser.add_argument('--epsilon', type=float, default=None, help='ignored by adsgan (not private)')
    parser.add_argument('--delta', type=float, default=1e-5)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--plugin_args', default='', help='KEY=VALUE,... on top of the library\'s defaults '
                        '(a departure: integers and floats read as numbers)')
    parser.add_argument('--out', required=True)
    args = parser.parse_args()
    if args.system != 'adsgan' and args.epsilon is None:
        parser.error(f'--epsilon is required for {args.system}')
    from synthcity.plugins.core.models import gan as gan_module
    from synthcity.plugins.privacy import plugin_adsgan, plugin_dpgan, plugin_pategan
    counter: dict = {}
    _count(gan_module.GAN, '_train_epoch', counter, 'epochs')
    _count(plugin_pategan.Teachers, 'pate_lamda', counter, 'vote_batches')
    _count(plugin_pategan.PATEGAN, '_update_alpha', counter, 'accounted_vote_batches')
    _count(plugin_pategan.Teachers, 'fit', counter, 'rounds')
    engines = []

    class RecordedEngine(gan_module.PrivacyEngine):  # the engine DP-GAN makes inside GAN._train
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            engines.append(self)
    gan_module.PrivacyEngine = RecordedEngine

    train = pd.read_csv(args.train)
    for column, (low, high) in _bounds(args.bounds).items():
        train[column] = train[column].clip(low, high)
    workspace = Path(tempfile.mkdtemp())
    common = {'random_state': args.seed, 'workspace': workspace, **_plugin_args(args.plugin_args)}
    if args.system == 'dpgan':
        model = plugin_dpgan.plugin(epsilon=args.epsilon, delta=args.delta, **common)
    elif args.system == 'pategan':
        model = plugin_pategan.plugin(epsilon=args.epsilon, delta=args.delta, **common)
        model.model.delta = args.delta  # PATEGAN.__init__ drops delta= (see the docstring)
    else:
        model = plugin_adsgan.plugin(**common)
    start = time.perf_counter()
    model.fit(train)
    seconds = time.perf_counter() - start
    rows = model.generate(count=len(train)).dataframe()
    rows.to_csv(args.out, index=False)
    epochs = max(counter['epochs'], 1)
    result = {'fit_seconds': seconds, 'system': args.system, 'plugin_args': args.plugin_args, 'epsilon_budget': args.epsilon,
              'epochs': counter['epochs'], 'seconds_per_epoch': seconds / epochs,
              'train_seconds_per_epoch': counter['epochs_seconds'] / epochs, 'sampled_rows': len(rows)}
    if args.system == 'dpgan':
        engine = engines[-1]
        delta = model.model.model.dp_delta
        result.update({'delta_used': delta, 'epsilon_spent': float(engine.get_epsilon(delta)),
                       'noise_multiplier': float(model.model.model.discriminator.optimizer.noise_multiplier),
                       'max_epochs': model.n_iter, 'accountant': engine.accountant.mechanism()})
    elif args.system == 'pategan':
        pate = model.model
        spent = min((pate.alpha_dict[i] - np.log(pate.delta)) / (i + 1) for i in range(pate.alpha))
        result.update({'delta_used': pate.delta, 'epsilon_spent': float(spent), 'rounds': counter['rounds'],
                       'vote_batches': counter['vote_batches'],
                       'accounted_vote_batches': counter['accounted_vote_batches'],
                       'teacher_seconds': counter['rounds_seconds']})
    print(json.dumps(result))


if __name__ == '__main__':
    os.environ.setdefault('TQDM_DISABLE', '1')
    main()
