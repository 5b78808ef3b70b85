"""docs/extending.md's examples, run as written: its Python blocks in order, as one script."""

import contextlib
import io
import os
import re

import jax

from tests.conftest import REPO


def test_extending_examples_run_and_do_what_they_say():
    with open(os.path.join(REPO, 'docs', 'extending.md'), encoding='utf-8') as f:
        blocks = re.findall(r'```python\n(.*?)```', f.read(), re.S)
    assert len(blocks) == 3
    scope, out = {'__name__': 'extending_example'}, io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile('\n'.join(blocks), 'docs/extending.md', 'exec'), scope)
    # Example 1: the new term is part of D's loss (its metric), a mean squared input gradient of D.
    assert float(re.search(r'r2 after one step: ([0-9.e+-]+)', out.getvalue()).group(1)) > 0
    assert [t.name for t in scope['gan'].game.critic.terms][-1] == 'r2'
    # Example 2: both generators and the critic trained, each player with its optimizer state, and G1's
    # samples moved from the origin (where a fresh MLP's outputs lie) out towards the unit circle.
    two, game = scope['two'], scope['game']
    assert int(two.step) == 200 and set(two.opt_state) == {'d', 'g'} and set(two.ema) == {'G1', 'G2'}
    radius = float(re.search(r'mean radius ([0-9.]+)', out.getvalue()).group(1))
    assert 0.6 < radius < 1.4, out.getvalue()
    fresh = scope['state_lib'].init_state(game, 0)
    for name in ('G1', 'G2', 'D'):
        moved = [float(abs(a - b).max()) for a, b in zip(jax.tree.leaves(fresh.params[name]),
                                                            jax.tree.leaves(two.params[name]))]
        assert min(moved) > 1e-3, name
