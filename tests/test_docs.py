"""The documentation names only what exists: modules, config fields, files and headings.

For README.md and every docs/*.md, `drift(text, path)` lists what the text names that the code lacks:
- every `python -m MODULE` must be an importable module that runs as a program (a `__main__` guard, or a
  package with `__main__.py`);
- every `--config.FIELD` (dotted: `--config.model.g_width=32`) must be a field of the config of the
  experiment named on the same command line (`python -m experiments.NAME`, or `--experiment=NAME`), or,
  where none is named, of `jaxgan.config.base_config()` or of some experiment's `get_config()`;
  a field of a section that the document's own example module declares (`declared_fields`) counts too;
- every relative markdown link must name a file (and, with `#anchor`, one of its headings).
A command line is a line of a fenced code block (with its `\\` continuations) or an inline code span.
Upper-case names are placeholders (`python -m experiments.NAME`, `--config.FIELD=VALUE`), and a bad name
that the same document quotes jaxgan's `error: ...` for (docs/faults.md's bad inputs) is documented as bad.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FENCE = re.compile(r'^```.*?^```', re.M | re.S)
SPAN = re.compile(r'`([^`]+)`')
MODULE = re.compile(r'python3?\s+-m\s+([A-Za-z_][\w.]*)')
FIELD = re.compile(r'--config\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)')
EXPERIMENT = re.compile(r'(?:-m\s+experiments\.|--experiment=)(\w+)')
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')
HEADING = re.compile(r'^#{1,6}\s+(.*?)\s*#*\s*$', re.M)


def doc_files() -> list[str]:
    docs = os.path.join(ROOT, 'docs')
    return [os.path.join(ROOT, 'README.md')] + sorted(
        os.path.join(docs, name) for name in os.listdir(docs) if name.endswith('.md'))


def command_lines(text: str) -> list[str]:
    """Each line of the fenced code blocks (continuations joined), then each inline code span."""
    lines = []
    for block in FENCE.findall(text):
        body = block.split('\n', 1)[1].rsplit('```', 1)[0]
        lines += body.replace('\\\n', ' ').splitlines()
    lines += SPAN.findall(FENCE.sub('', text))
    return lines


@functools.cache
def config_of(experiment: str | None):
    """The config a command line's --config flags override: the experiment's, or the base config."""
    if experiment is None:
        from jaxgan import config
        return config.base_config()
    return importlib.import_module(f'experiments.{experiment}').get_config()


@functools.cache
def experiment_names() -> tuple[str, ...]:
    import experiments
    return experiments.NAMES


def has_field(config, dotted: str) -> bool:
    for part in dotted.split('.'):
        if not hasattr(config, 'keys') or part not in config.keys():
            return False
        config = config[part]
    return True


def runnable(module: str) -> bool:
    """Whether `python -m module` would find a program: a module with a __main__ guard, or a package
    with __main__.py."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    if spec.submodule_search_locations is not None:  # a package runs its __main__ module
        return importlib.util.find_spec(f'{module}.__main__') is not None
    if spec.origin is None or not spec.origin.endswith('.py'):
        return spec.origin in ('built-in', 'frozen')
    with open(spec.origin, encoding='utf-8') as f:
        return re.search(r"__name__\s*==\s*['\"]__main__['\"]", f.read()) is not None


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r'`|\*\*|\[([^\]]*)\]\([^)]*\)', r'\1', heading).strip().lower()
    return re.sub(r'[^\w\- ]', '', text).replace(' ', '-')


def anchors(path: str) -> set[str]:
    with open(path, encoding='utf-8') as f:
        text = FENCE.sub('', f.read())
    seen: dict[str, int] = {}
    out = set()
    for heading in HEADING.findall(text):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f'{base}-{n}')
    return out


def placeholder(dotted: str) -> bool:
    return any(part.isupper() for part in dotted.split('.'))


def refused(text: str) -> str:
    """The error messages a document quotes (`error: ...` in a code span or line), joined."""
    return '\n'.join(line for line in command_lines(text) if 'error:' in line)


FILE_BLOCK = re.compile(r'^```python file=\S+\n(.*?)^```', re.M | re.S)


def declared_fields(text: str) -> set[str]:
    """The config fields that the document's own example modules (```python file=PATH blocks: a new
    architecture's) declare: SECTION.FIELD for each `c.FIELD = ...` of a module that registers an
    architecture called SECTION with a section."""
    fields = set()
    for block in FILE_BLOCK.findall(text):
        name = re.search(r"registry\.Architecture\(\s*'(\w+)'", block)
        if name and 'section=' in block:
            fields |= {f'{name.group(1)}.{f}' for f in re.findall(r'^\s+c\.(\w+) = ', block, re.M)}
    return fields


def drift(text: str, path: str) -> list[str]:
    """What `text` (the document at `path`) names that does not exist: modules, config fields, links."""
    problems = []
    errors = refused(text)
    declared = declared_fields(text)

    def quoted(name: str) -> bool:  # shown as bad input beside jaxgan's error for it
        return re.search(rf'error:.*\b{re.escape(name)}\b', errors) is not None

    for line in command_lines(text):
        for module in MODULE.findall(line):
            if not placeholder(module) and not runnable(module) and not quoted(module):
                problems.append(f'python -m {module}: no such program')
        named = [e for e in EXPERIMENT.findall(line) if not placeholder(e)]
        for experiment in named:
            if experiment not in experiment_names() and not quoted(experiment):
                problems.append(f'{experiment}: no such experiment')
        named = [e for e in named if e in experiment_names()]
        for field in FIELD.findall(line):
            if placeholder(field) or quoted(field) or field in declared:
                continue
            if named:
                missing = [e for e in named if not has_field(config_of(e), field)]
                if missing:
                    problems.append(f'--config.{field}: not a field of experiments.{missing[0]}')
            elif not any(has_field(config_of(e), field) for e in (None,) + experiment_names()):
                problems.append(f'--config.{field}: not a field of any config')
    for target in LINK.findall(FENCE.sub('', text)):
        if re.match(r'[a-z]+:', target):
            continue  # http:, https:, mailto:
        file, _, anchor = target.partition('#')
        resolved = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
        if not os.path.exists(resolved):
            problems.append(f'link {target}: no file {os.path.relpath(resolved, ROOT)}')
        elif anchor and resolved.endswith('.md') and anchor not in anchors(resolved):
            problems.append(f'link {target}: no heading #{anchor} in {os.path.relpath(resolved, ROOT)}')
    return problems


@pytest.mark.parametrize('path', doc_files(), ids=lambda p: os.path.relpath(p, ROOT))
def test_docs_name_only_what_exists(path):
    with open(path, encoding='utf-8') as f:
        text = f.read()
    assert drift(text, path) == []


def test_the_docs_are_checked():
    """The checker sees the commands of the README, so the test above is not vacuous."""
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as f:
        lines = command_lines(f.read())
    assert any('python -m jaxgan.sample' in line for line in lines)
    assert any(FIELD.search(line) and EXPERIMENT.search(line) for line in lines)
    assert len(doc_files()) > 4


def test_every_image_in_docs_is_shown():
    """Each file of docs/images is linked from a page (the links themselves resolve, above)."""
    shown = set()
    for path in doc_files():
        with open(path, encoding='utf-8') as f:
            for target in LINK.findall(f.read()):
                shown.add(os.path.normpath(os.path.join(os.path.dirname(path), target.partition('#')[0])))
    images = os.path.join(ROOT, 'docs', 'images')
    assert sorted(n for n in os.listdir(images) if os.path.join(images, n) not in shown) == []


README = os.path.join(ROOT, 'README.md')


@pytest.mark.parametrize('text, expected', [
    ('`python -m jaxgan.no_such_tool --workdir=DIR`', ['python -m jaxgan.no_such_tool: no such program']),
    ('`python -m jaxgan.config`', ['python -m jaxgan.config: no such program']),  # no __main__
    ('```sh\npython -m experiments.dcgan_celeba \\\n    --config.model.g_widht=32\n```',
     ['--config.model.g_widht: not a field of experiments.dcgan_celeba']),
    # a field of another experiment's config, not of the one on the command line
    ('`python -m experiments.dcgan_celeba --config.eval_samples=100`',
     ['--config.eval_samples: not a field of experiments.dcgan_celeba']),
    ('`python -m jaxgan.main --experiment=no_such_gan`', ['no_such_gan: no such experiment']),
    ('set `--config.penalties.r3=1`', ['--config.penalties.r3: not a field of any config']),
    ('see [the guide](docs/no_such_page.md)', ['link docs/no_such_page.md: no file docs/no_such_page.md']),
    ('see [faults](docs/faults.md#no-such-heading)',
     ['link docs/faults.md#no-such-heading: no heading #no-such-heading in docs/faults.md']),
    # the page's own example architecture declares tiny.width, not tiny.depth
    ('```python file=m.py\nARCH = registry.Architecture(\n    \'tiny\', build, section=config_section)\n\ndef config_section():\n    c.width = 16\n```\n' + '`--config.tiny.depth=3`', ['--config.tiny.depth: not a field of any config']),
])
def test_drift_names_what_does_not_exist(text, expected):
    assert drift(text, README) == expected


@pytest.mark.parametrize('text', [
    '```sh\npython -m experiments.stacked_mnist --workdir=runs/s \\\n    --config.eval_samples=100\n```',
    '`python -m jaxgan.main --experiment=stylegan2_ffhq --config.model.resolution=256`',
    'a field alone: `--config.data.limit=100`; a placeholder: `--config.FIELD=VALUE`',
    '`python3 -m venv .venv`, `python -m jaxgan.sample --workdir=DIR`, [faults](docs/faults.md)',
    # bad input documented as such, beside the error jaxgan gives for it
    '`--config.batchsize=8` stops with `error: unknown config field batchsize (did you mean batch_size?)`',
    '```python file=m.py\nARCH = registry.Architecture(\n    \'tiny\', build, section=config_section)\n\ndef config_section():\n    c.width = 16\n```\n' + '`--config.model.name=tiny --config.tiny.width=8`',
])
def test_drift_passes_what_exists(text):
    assert drift(text, README) == []
