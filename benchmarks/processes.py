"""What the benchmarks that run each configuration and seed as a fresh process share: their command
line's common flags, the subprocesses' environment (the repository importable) and the parsing of
--jaxgan_fields-style config fields, and their results files (means over seeds, written atomically)."""

import argparse
import json
import os
import re
import statistics

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parser(configs: dict, *, steps: int, out: str) -> argparse.ArgumentParser:
    """--seeds, --first_seed, --steps, --configs (names of `configs`), --classifier, --out."""
    p = argparse.ArgumentParser()
    p.add_argument('--seeds', type=int, default=3)
    p.add_argument('--first_seed', type=int, default=0, help='seeds first_seed, ..., first_seed + seeds - 1')
    p.add_argument('--steps', type=int, default=steps)
    p.add_argument('--configs', default=','.join(configs))
    p.add_argument('--classifier', default='', help='a digits classifier at 32px; default: train one')
    p.add_argument('--out', default=os.path.join(REPO, 'benchmarks', 'results', out))
    return p


def chosen(p: argparse.ArgumentParser, args: argparse.Namespace, configs: dict) -> list[str]:
    """The names --configs asks for; an unknown one is a usage error."""
    names = args.configs.split(',')
    unknown = [n for n in names if n not in configs]
    if unknown:
        p.error(f'unknown configs {unknown}: choose from {",".join(configs)}')
    return names


def environment() -> dict:
    """os.environ with the repository first on PYTHONPATH, for `python -m experiments.X` subprocesses."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.environ.get('PYTHONPATH', '')]).rstrip(os.pathsep))


def config_fields(text: str) -> dict:
    """'a.b=1,c=x,d=[64,64]' -> {'a.b': 1, 'c': 'x', 'd': [64, 64]}: a benchmark's comma-separated config fields
    (commas inside brackets belong to a list), numbers, booleans and lists read as JSON, the rest as strings."""
    out = {}
    for item in filter(None, re.split(r',(?![^\[]*\])', text)):
        key, value = item.split('=', 1)
        out[key] = json.loads(value) if value[:1] in '-0123456789.[' or value in ('true', 'false') else value
    return out



def seed_means(rows: list[dict], keys: tuple[str, ...], fields: tuple[str, ...]) -> list[dict]:
    """A mean and population standard deviation of each of `fields` over the rows of each distinct value of
    `keys` (in order of first appearance; a missing key reads ''), the values a row lacks left out, with the
    seeds it holds."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r.get(k, '') for k in keys), []).append(r)
    means = []
    for key, mine in groups.items():
        entry = {**dict(zip(keys, key)), 'seeds': len(mine), 'seed_list': [r.get('seed') for r in mine]}
        for k in fields:
            values = [r[k] for r in mine if r.get(k) is not None]
            if values:
                entry[k] = statistics.fmean(values)
                entry[f'{k}_std'] = statistics.pstdev(values)
        means.append(entry)
    return means


def write_results(path: str, results: dict) -> None:
    """`results` as indented JSON at `path`, atomically (a benchmark stopped midway leaves its last file)."""
    from jaxgan import files
    files.atomic_write(path, json.dumps(results, indent=1))
