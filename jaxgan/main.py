"""One launcher for every experiment: `python -m jaxgan.main --experiment=NAME [--config.FIELD=VALUE]`.

Runs the same as `python -m experiments.NAME`. The --experiment flag is read first, then the chosen
experiment's config defines --config.
"""

from __future__ import annotations

import sys

from absl import flags

import experiments
from jaxgan import cli
from jaxgan.errors import UserError

NAMES = experiments.NAMES

flags.DEFINE_string('experiment', 'dcgan_celeba', f'The experiment module to run (experiments.NAME): '
                    f'{", ".join(NAMES)}.')


def main() -> None:
    flags.FLAGS(sys.argv, known_only=True)  # reads --experiment; the rest are parsed by app.run
    name = flags.FLAGS.experiment
    try:
        module = experiments.load(name)
    except UserError as e:  # before app.run, which would show it
        print(f'error: {e}', file=sys.stderr)
        sys.exit(2)
    cli.run_experiment(name, module.get_config, getattr(module, 'run', None))


if __name__ == '__main__':
    main()
