"""One launcher for every experiment: `python -m jaxgan.main --experiment=NAME [--config.FIELD=VALUE]`.

Runs the same as `python -m experiments.NAME`. The --experiment flag is read first, then the chosen
experiment's config defines --config.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

from absl import flags

import experiments
from jaxgan import cli

NAMES = sorted(m.name for m in pkgutil.iter_modules(experiments.__path__))

flags.DEFINE_enum('experiment', 'dcgan_celeba', NAMES, 'The experiment module to run (experiments.NAME).')


def main() -> None:
    flags.FLAGS(sys.argv, known_only=True)  # reads --experiment; the rest are parsed by app.run
    name = flags.FLAGS.experiment
    module = importlib.import_module(f'experiments.{name}')
    cli.run_experiment(name, module.get_config, getattr(module, 'run', None))


if __name__ == '__main__':
    main()
