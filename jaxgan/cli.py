"""What every command-line entry point shares: absl flags, multi-host start-up, one-line errors.

    python -m experiments.NAME --workdir=DIR --config.FIELD=VALUE ...
"""

from __future__ import annotations

import difflib
import logging as pylogging
import os
import re
import sys
from typing import Callable

import ml_collections
from absl import app, flags, logging
from ml_collections import config_flags

from jaxgan import config as config_lib
from jaxgan.errors import Stopped, UserError

FLAGS = flags.FLAGS
SHARED_FLAGS = ('config', 'workdir', 'coordinator_address', 'num_processes', 'process_id', 'distributed',
                'verbose_libraries', 'compile_cache', 'member')
COMPILE_CACHE_ENV = 'JAXGAN_COMPILE_CACHE'  # the default of --compile_cache

flags.DEFINE_string('coordinator_address', None,
                    'Multi-host: host:port of process 0, for jax.distributed.initialize. Leave unset on '
                    'TPU pods and SLURM clusters, where --distributed finds it.')
flags.DEFINE_integer('num_processes', None, 'Multi-host: how many processes (with --coordinator_address).')
flags.DEFINE_integer('process_id', None, 'Multi-host: this process\'s index (with --coordinator_address).')
flags.DEFINE_bool('verbose_libraries', False, 'Show the INFO logs of orbax, jax and tfds too.')
flags.DEFINE_string('compile_cache', None,
                    "Where compiled programs are kept between processes (JAX's persistent compilation cache): a "
                    'directory, or off. A second process with the same program and devices loads it instead of '
                    'compiling. Default: $JAXGAN_COMPILE_CACHE, else xla/ in the cache directory '
                    '(~/.cache/jaxgan/xla, as config.data.cache_dir).')
flags.DEFINE_bool('distributed', False,
                  'Call jax.distributed.initialize() (auto-detected on TPU pods and SLURM).')


def _initialize_distributed() -> None:
    if FLAGS.coordinator_address or FLAGS.distributed:
        import jax
        jax.config.update('jax_cpu_collectives_implementation', 'gloo')  # CPU only; GPU/TPU ignore it
        jax.distributed.initialize(coordinator_address=FLAGS.coordinator_address,
                                   num_processes=FLAGS.num_processes, process_id=FLAGS.process_id)


class _QuietLibraries(pylogging.Filter):
    """Drops the libraries' INFO chatter (orbax logs every file of every save); keeps warnings."""

    PACKAGES = tuple(f'{os.sep}{name}{os.sep}' for name in ('orbax', 'jax', 'etils', 'tensorflow_datasets'))

    def filter(self, record: pylogging.LogRecord) -> bool:
        if 'Given directory is read only' in str(record.msg):  # we open checkpoints read-only to sample
            return False
        if abandoned_read(record):
            return False
        return record.levelno >= pylogging.WARNING or not any(p in record.pathname for p in self.PACKAGES)


def abandoned_read(record: pylogging.LogRecord) -> bool:
    """Whether a log record is asyncio reporting, when it collects a future, the tensorstore error of a
    read that a failed restore abandoned (`Future exception was never retrieved`, with the traceback of
    an OUT_OF_RANGE or DATA_LOSS read): the restore has already failed and been handled, once, by
    --config.resume_fallback's message. Whether the report comes depends on when the future is collected."""
    error = record.exc_info[1] if record.exc_info else None
    return (record.name == 'asyncio' and 'exception was never retrieved' in str(record.msg)
            and error is not None and 'tensorstore_spec' in str(error))


def closed_loop_callback(unraisable) -> bool:
    """Whether an unraisable exception is tensorstore finishing a read for an asyncio loop that orbax
    has already closed: after a restore fails on a damaged checkpoint, each read still in flight
    reports `RuntimeError: Event loop is closed` from `call_soon_threadsafe` (hundreds of tracebacks,
    nothing lost: the restore has already failed and been handled)."""
    error, tb = unraisable.exc_value, unraisable.exc_traceback
    return (isinstance(error, RuntimeError) and str(error) == 'Event loop is closed' and tb is not None
            and tb.tb_frame.f_code.co_name == 'call_soon_threadsafe')


def _quiet_unraisable_hook(previous: Callable) -> Callable:
    def hook(unraisable) -> None:
        if not closed_loop_callback(unraisable):
            previous(unraisable)
    return hook


def compile_cache(setting: str | None) -> str | None:
    """Turns on JAX's persistent compilation cache in the directory `setting` names (None: the
    environment's JAXGAN_COMPILE_CACHE, else <cache dir>/xla; 'off' or '': none). Programs that took at
    least JAX's jax_persistent_cache_min_compile_time_secs (1 s) to compile are kept, keyed by the program,
    the devices and the compiler's options, so a stale entry is never used. Returns the directory."""
    import jax
    from jaxgan.data import pipeline
    if setting is None:
        setting = os.environ.get(COMPILE_CACHE_ENV, os.path.join(pipeline.default_cache_dir(), 'xla'))
    if setting in ('', 'off'):
        return None
    jax.config.update('jax_compilation_cache_dir', os.path.abspath(os.path.expanduser(setting)))
    return setting


def run_main(main: Callable[[list[str]], None]) -> None:
    """app.run(main), with UserError shown as one line on stderr and exit status 2."""

    def wrapped(argv: list[str]) -> None:
        if not FLAGS.verbose_libraries:
            logging.get_absl_handler().addFilter(_QuietLibraries())
            sys.unraisablehook = _quiet_unraisable_hook(sys.unraisablehook)
        if len(argv) > 1:
            raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
        try:
            _initialize_distributed()
            compile_cache(FLAGS.compile_cache)
            main(argv)
        except UserError as e:
            logging.flush()
            exit_with_error(str(e))
        except Stopped as e:  # on a signal, after saving; the log says so
            logging.flush()
            sys.exit(e.exit_code)
        except KeyboardInterrupt:  # Ctrl-C before training started or after it ended: nothing to save
            logging.flush()
            print('interrupted', file=sys.stderr)
            sys.exit(130)

    for name in SHARED_FLAGS:  # shown by --help, which lists the key flags of the main module only
        if name in FLAGS:
            FLAGS.register_key_flag_for_module(sys.argv[0], FLAGS[name])
    app.run(wrapped)


MEMBER_HELP = ('For a run of an ensemble (config.ensemble.size > 1): the member, 0 to N-1, or best (the lowest '
               'FID of the latest evaluation on record), or best:METRIC (e.g. best:kid; highest for is, precision, '
               'recall, density, coverage).')


def define_member_flag() -> None:
    """--member, for the tools that read a trained run."""
    flags.DEFINE_string('member', None, MEMBER_HELP)


def fields_help(config: ml_collections.ConfigDict) -> str:
    """Every field of `config` as `name = default  # meaning` (`config_lib.descriptions`), a line each,
    grouped by section: the run's own fields first, then each section under its description."""
    described = config_lib.descriptions()
    order = {name: i for i, name in enumerate(described)}
    sections: dict[str, list[str]] = {}
    for field, value in sorted(flatten(config.to_dict()), key=lambda f: (order.get(f[0], len(order)), f[0])):
        section = field.split('.')[0] if '.' in field else ''
        meaning = described.get(field)
        sections.setdefault(section, []).append(f'{field} = {value!r}' + (f'  # {meaning}' if meaning else ''))
    blocks = []
    for section, lines in sections.items():
        title = (f'[{section}] {described.get(section, "")}' if section else '[the run]').rstrip()
        blocks.append('\n'.join([title, *lines]))
    return '\n \n'.join(blocks)


def unknown_config_field(argv: list[str], config: ml_collections.ConfigDict) -> str | None:
    """The problem with the first --config.FIELD of argv that `config` lacks, with the closest field's
    name (None if there is none): ml_collections reports it with 55 lines of chained tracebacks."""
    fields = [field for field, _ in flatten(config.to_dict())]
    for arg in argv[1:]:
        if arg == '--':
            break
        match = re.match(r'--?(?:no)?config\.([^=]+)', arg)
        if match and match.group(1) not in fields:
            field = match.group(1)
            close = difflib.get_close_matches(field, fields, n=1)
            hint = f'did you mean {close[0]}?' if close else '--help lists the fields'
            return f'unknown config field {field} ({hint})'
    return None


def exit_with_error(message: str) -> None:
    print(f'error: {message}', file=sys.stderr)
    sys.exit(2)


def define_experiment_flags(name: str, get_config: Callable[[], ml_collections.ConfigDict]) -> None:
    config = get_config()
    problem = unknown_config_field(sys.argv, config)
    if problem:  # checked before ml_collections parses the overrides, which it does right here
        exit_with_error(problem)
    config_flags.DEFINE_config_dict(
        'config', config,
        f'The {name} config: set any field with --config.FIELD=VALUE (e.g. --config.batch_size=64). '
        f'Its fields, by section, as FIELD = DEFAULT  # MEANING:\n \n{fields_help(config)}',
        lock_config=True)
    FLAGS['config'].default_as_str = None  # the list above says it, one field a line
    flags.DEFINE_string('workdir', f'runs/{name}',
                        'Where checkpoints, samples and logs go. A workdir that holds checkpoints is '
                        'resumed from its latest one.')


def flatten(tree: dict, prefix: str = '') -> list[tuple[str, object]]:
    """{'data': {'crop': 0}} -> [('data.crop', 0)]"""
    out = []
    for key, value in tree.items():
        if isinstance(value, dict):
            out.extend(flatten(value, f'{prefix}{key}.'))
        else:
            out.append((f'{prefix}{key}', value))
    return out


def run_experiment(name: str, get_config: Callable[[], ml_collections.ConfigDict],
                   run: Callable[[ml_collections.ConfigDict, str], object] | None = None) -> None:
    """Runs `run(config, workdir)` (by default, `train.train`) on `get_config()` with the command
    line's overrides, in --workdir."""
    define_experiment_flags(name, get_config)

    def main(argv: list[str]) -> None:
        from jaxgan import train
        (run or train.train)(FLAGS.config, FLAGS.workdir)

    run_main(main)
