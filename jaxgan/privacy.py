"""Differential privacy of a table run: the budget, its accounting, and the config's privacy section.

    plan = Plan.of(config, rows=n, histograms=k)  the noise calibrated to the planned critic updates
    plan.spent(step)                               the epsilon spent after `step` training steps
    plan.record(step)                              what a checkpoint keeps of the accountant

What is released is a function of the real rows through these mechanisms only (docs/privacy.md):
  1. the counts of k columns' values, with Gaussian noise (one Gaussian mechanism; replacing a row moves
     two counts of each of the k columns by 1: L2 sensitivity sqrt(2 k)): each discrete column's categories,
     which give the generator's conditions in training and in sampling, and, where the generator matches
     the marginals (config.table.marginals > 0), each numerical column's bins of its public bounds.
     config.privacy.frequency_share = 0: none, uniform conditions and no marginals;
  2. each critic update (num_steps * n_critic of them): a uniform sample of `batch` of the n training rows
     without replacement, fresh at each update, and DP-SGD on it (jaxgan.core.private), per-unit gradients
     clipped to C and their sum noised with std sigma C. Replacing one row changes one unit's clipped
     gradient: L2 sensitivity 2 C, so the accountant's noise multiplier is sigma / 2;
  3. where config.privacy.bounds names numerical columns without a range (config.privacy.bounds_share > 0),
     their DP bounds estimate (jaxgan.data.dp_bounds: ApproxBounds' logarithmic histograms of those e
     columns, one Gaussian mechanism, L2 sensitivity sqrt(2 e) as the counts'), calibrated to spend
     bounds_share * epsilon alone.
All compose in one Renyi-DP accountant (Mironov 2017) of Google's dp-accounting, with REPLACE_ONE
neighbouring datasets (n is public): the fixed-size sample without replacement is accounted by Wang,
Balle and Kasiviswanathan 2019 (theorem 27; dp-accounting's SampledWithoutReplacementDpEvent), which its
RDP accountant supports and its PLD accountant (dp-accounting 0.6) does not. RDP is a slightly loose upper
bound (PLD is tighter for Poisson sampling), but it is the accountant that fits the sampling the pipeline
really does; a fixed batch keeps the step's shapes static for jit, where a Poisson batch's size varies.

sigma is the smallest noise multiplier (bisection, to 0.1 %) whose planned updates spend at most epsilon at
delta; the run never goes past them: a resume that would spend more than the budget is refused.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import secrets
from typing import Any

import ml_collections

from jaxgan.errors import UserError

# Renyi orders: dp-accounting's default list (156 orders up to 1024) costs 0.4 s per evaluation of the
# sampled-without-replacement event; these 24 give the same epsilon within 2 % on the tables' range.
ORDERS = (1.1, 1.2, 1.3, 1.4, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 16.0, 20.0, 24.0,
          32.0, 48.0, 64.0, 128.0, 256.0)
MIN_NOISE, MAX_NOISE = 0.3, 200.0  # the noise multipliers sigma searched; above 200, the critic learns nothing
TOLERANCE = 1e-3  # the bisection's relative precision on sigma


def config_section() -> ml_collections.ConfigDict:
    """Differential privacy (jaxgan.privacy, docs/privacy.md): DP-SGD on the discriminator, the budget
    (epsilon, delta) of the whole run, with respect to replacing one training row; tables only."""
    c = ml_collections.ConfigDict()
    c.epsilon = ml_collections.config_dict.placeholder(float)  # the run's privacy budget epsilon; unset: no privacy
    c.delta = ml_collections.config_dict.placeholder(float)  # the budget's delta, below 1 / training rows (1e-5 is usual)
    c.clip_norm = 1.0  # C: each unit's discriminator gradient is clipped to this L2 norm (smartnoise-synth's DPCTGAN max_per_sample_grad_norm 1.0)
    c.frequency_share = 0.3  # the part of epsilon spent alone on the noisy counts (the generator's conditions and marginals: docs/privacy.md); 0: none
    c.bounds = ''  # 'COLUMN=LOW:HIGH;...': the public range of every numerical column (values outside are clipped); a COLUMN without =LOW:HIGH is numerical with its range estimated (bounds_share)
    c.bounds_share = 0.0  # the part of epsilon spent on a DP estimate of the ranges .bounds leaves out (jaxgan.data.dp_bounds); 0: every numerical column needs its range
    c.categories = ''  # 'COLUMN=A|B|...;...': the public category set of every discrete column (true|false: a boolean)
    c.missing = ''  # comma-separated columns that may have missing cells (public); the others must have none
    c.secret = 0  # set by the run, never by hand: the mechanisms' secret randomness (SECRET_FILE in the workdir)
    return c


SECRET_FILE = 'privacy_secret'  # in the workdir: the 64 random bits the run's noise is drawn with


def read_secret(workdir: str) -> int | None:
    """The secret a private run in `workdir` drew when it started (SECRET_FILE), or None if it has none."""
    path = os.path.join(workdir, SECRET_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        text = f.read().strip()
    try:
        return int(text, 16)
    except ValueError:
        raise UserError(f'{path}: not a private run\'s secret (16 hex digits): {text[:40]!r}') from None


def new_secret() -> int:
    """64 bits from the operating system's cryptographic source (never 0, which means none). DP's
    noise must be unknown to whoever holds the released rows: a noise drawn from a known seed (0 by
    default) could be replayed and subtracted."""
    return secrets.randbits(64) or 1


def write_secret(workdir: str, secret: int) -> None:
    """SECRET_FILE with the run's secret, readable by its owner alone; a resume reads it back."""
    path = os.path.join(workdir, SECRET_FILE)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, 'w') as f:
        f.write(f'{secret:016x}\n')


def secret_words(secret: int) -> tuple[int, int]:
    """The secret as two 32-bit words, for jax.random.fold_in."""
    return secret >> 32, secret & 0xFFFFFFFF


def enabled(config: Any) -> bool:
    """Whether config asks for a private run (config.privacy.epsilon set)."""
    privacy = config.get('privacy') if hasattr(config, 'get') else None
    return privacy is not None and privacy.get('epsilon') is not None


def validate(config: Any) -> None:
    """The data-independent checks of a private run: the budget's signs, and the options whose influence
    on the released model DP-SGD's accounting does not bound (one line each)."""
    if not enabled(config):
        return
    p = config.privacy
    if not p.epsilon > 0:
        raise UserError(f'config.privacy.epsilon={p.epsilon} must be positive (the privacy budget; unset: no privacy)')
    if p.delta is None or not 0 < p.delta < 1:
        raise UserError(f'config.privacy.delta={p.delta} must be set, above 0 and below 1 / training rows (1e-5 is usual)')
    if not p.clip_norm > 0:
        raise UserError(f'config.privacy.clip_norm={p.clip_norm} must be positive')
    if not 0 <= p.frequency_share < 1:
        raise UserError(f'config.privacy.frequency_share={p.frequency_share} must be in [0, 1)')
    share = p.get('bounds_share', 0.0)
    if not 0 <= share < 1:
        raise UserError(f'config.privacy.bounds_share={share} must be in [0, 1)')
    if not p.frequency_share + share < 1:
        raise UserError(f'config.privacy.frequency_share + bounds_share = {p.frequency_share + share:g} leaves no '
                        'budget for training: keep their sum below 1')
    estimated = estimated_columns(p.bounds)
    if share > 0 and not estimated:
        raise UserError(f'config.privacy.bounds_share={share}: no numerical column to estimate the range of; name '
                        "one in config.privacy.bounds without a range (e.g. 'age;bmi=10:70'), or set it to 0")
    if estimated and not share > 0:
        raise UserError(f'config.privacy.bounds: column {estimated[0]!r} has no range: declare it '
                        f'({estimated[0]}=LOW:HIGH), or spend part of the budget on a DP estimate of it '
                        '(config.privacy.bounds_share=0.1)')
    parse_categories(p.categories)
    refused = [
        (config.ensemble.size > 1, f'config.ensemble.size={config.ensemble.size}: each member would spend the budget '
                                   'again; train one private model'),
        (config.data.limit > 0, f'config.data.limit={config.data.limit}: a subset chosen from the rows is not '
                                'the uniform sample the accountant assumes'),
        (config.data.flip or config.augment.kind != 'none', 'config.data.flip and config.augment copy rows, which '
                                                            'breaks the per-row bound'),
        (config.model.minibatch_discrimination > 0, 'config.model.minibatch_discrimination mixes rows across the '
                                                    'batch, which breaks the per-row bound'),
        (config.g_objective.feature_matching > 0 or config.g_objective.mmd > 0,
         'config.g_objective.feature_matching and mmd read real rows in the generator\'s update, which DP-SGD on '
         'the discriminator does not privatise'),
        (bool(config.init_from), f'config.init_from={config.init_from}: networks trained before are not covered by '
                                 'this budget'),
    ]
    for bad, why in refused:
        if bad:
            raise UserError(f'config.privacy: {why}')


def parse_bounds(text: str) -> dict[str, tuple[float, float] | None]:
    """'age=0:120;bmi' -> {'age': (0, 120), 'bmi': None}: None, a numerical column whose range is to be
    estimated (config.privacy.bounds_share); a UserError naming a bad entry."""
    out = {}
    for entry in (e.strip() for e in (text or '').split(';')):
        if not entry:
            continue
        if '=' not in entry:
            out[entry] = None
            continue
        name, _, span = entry.rpartition('=')
        low, _, high = span.partition(':')
        try:
            lo, hi = float(low), float(high)
        except ValueError:
            lo = hi = math.nan
        if not name.strip() or not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise UserError(f'config.privacy.bounds: {entry!r} must be COLUMN=LOW:HIGH with LOW < HIGH, numbers')
        out[name.strip()] = (lo, hi)
    return out


def estimated_columns(text: str) -> list[str]:
    """The columns config.privacy.bounds names without a range (`parse_bounds`), in order."""
    return [name for name, span in parse_bounds(text).items() if span is None]


def histograms(config: Any, discrete: int, numerical: int) -> int:
    """How many columns' counts a private run releases with noise: every discrete column's categories, and
    every numerical column's bins where the generator matches them (config.table.marginals > 0)."""
    return discrete + (numerical if config.table.get('marginals', 0) > 0 else 0)


def parse_categories(text: str) -> dict[str, tuple[str, ...]]:
    """'sex=1|2;smoker=yes|no' -> {'sex': ('1', '2'), 'smoker': ('yes', 'no')}; a UserError naming a bad entry."""
    out = {}
    for entry in (e.strip() for e in (text or '').split(';')):
        if not entry:
            continue
        name, _, listed = entry.partition('=')
        values = tuple(v.strip() for v in listed.split('|'))
        if not name.strip() or not all(values) or len(set(values)) < len(values):
            raise UserError(f'config.privacy.categories: {entry!r} must be COLUMN=A|B|..., distinct non-empty categories')
        out[name.strip()] = values
    return out


def _accountant():
    from dp_accounting.rdp import rdp_privacy_accountant as rdp  # an optional extra: imported for private runs
    return rdp.RdpAccountant(list(ORDERS), neighboring_relation=rdp.NeighborRel.REPLACE_ONE)


def event(rows: int, batch: int, sigma: float, updates: int, count_noise: float | None,
          bounds_noise: float | None = None):
    """The dp-accounting event of `updates` DP-SGD critic updates (batch of `rows` without replacement,
    noise sigma C on a sum of sensitivity 2 C), after the noisy counts' Gaussian mechanism (multiplier
    `count_noise` of its sensitivity; None: no counts released) and the bounds estimate's (`bounds_noise`,
    likewise; None: none estimated)."""
    from dp_accounting import dp_event as e
    events = [e.GaussianDpEvent(z) for z in (count_noise, bounds_noise) if z is not None]
    if updates:
        step = e.SampledWithoutReplacementDpEvent(rows, batch, e.GaussianDpEvent(sigma / 2))
        events.append(e.SelfComposedDpEvent(step, updates))
    return e.ComposedDpEvent(events)


@functools.lru_cache(maxsize=256)
def epsilon_of(rows: int, batch: int, sigma: float, updates: int, count_noise: float | None, delta: float,
               bounds_noise: float | None = None) -> float:
    """The epsilon that the RDP accountant gives the event at delta."""
    accountant = _accountant()
    accountant.compose(event(rows, batch, sigma, updates, count_noise, bounds_noise))
    return float(accountant.get_epsilon(delta))


def _bisect(spend, budget: float, low: float, high: float) -> float:
    """The smallest x in [low, high] with spend(x) <= budget (spend decreasing), to TOLERANCE."""
    while high / low > 1 + TOLERANCE:
        mid = math.sqrt(low * high)
        low, high = (low, mid) if spend(mid) <= budget else (mid, high)
    return high


GAUSSIAN_CAP = 1e4  # the largest noise multiplier a count or bounds release is calibrated to


@functools.lru_cache(maxsize=32)
def calibrate(epsilon: float, delta: float, rows: int, batch: int, updates: int, share: float,
              bounds_share: float = 0.0) -> tuple[float, float | None, float | None]:
    """(sigma, count noise multiplier, bounds noise multiplier): the counts' noise spends share * epsilon
    alone, the bounds estimate's bounds_share * epsilon alone; sigma is the smallest in [MIN_NOISE, MAX_NOISE]
    whose `updates` after both spend at most epsilon. A UserError where even MAX_NOISE spends more."""
    floor = epsilon_of(rows, batch, 1.0, 0, GAUSSIAN_CAP, delta)  # what any Gaussian release spends at delta
    alone = lambda part: _bisect(lambda z: epsilon_of(rows, batch, 1.0, 0, z, delta), part * epsilon, 1e-2,
                                 GAUSSIAN_CAP)
    count_noise = alone(share) if share > 0 else None
    bounds_noise = alone(bounds_share) if bounds_share > 0 else None
    spend = lambda s: epsilon_of(rows, batch, s, updates, count_noise, delta, bounds_noise)
    least = spend(MAX_NOISE)
    if least > epsilon:
        raise UserError(f'config.privacy.epsilon={epsilon:g}: too small for {updates} critic updates of {batch} of '
                        f'{rows} rows: even at the largest noise multiplier {MAX_NOISE:g} they spend epsilon '
                        f'{least:.3g} at delta {delta:g}; raise epsilon to {least:.3g} or more, or plan fewer steps')
    for field, part in (('frequency_share', share), ('bounds_share', bounds_share)):
        if 0 < part * epsilon < floor:  # its release would spend more than its share: said, not hidden
            raise UserError(f'config.privacy.{field}={part:g}: {part:g} x epsilon {epsilon:g} is less than the '
                            f'{floor:.3g} any Gaussian release spends at delta {delta:g}; raise it, or set it to 0')
    if spend(MIN_NOISE) <= epsilon:
        return MIN_NOISE, count_noise, bounds_noise
    return _bisect(spend, epsilon, MIN_NOISE, MAX_NOISE), count_noise, bounds_noise


@dataclasses.dataclass(frozen=True)
class Plan:
    """A private run's calibrated mechanisms and its budget; `spent(step)` is the accountant's epsilon
    after `step` training steps (n_critic critic updates each)."""

    epsilon: float
    delta: float
    rows: int
    batch: int
    updates_per_step: int
    num_steps: int
    clip_norm: float
    sigma: float
    count_noise: float | None  # the counts' noise multiplier (of sensitivity sqrt(2 k)); None: no counts released
    histograms: int  # k, the columns whose counts are released (`histograms`)
    seed: int = 0  # config.seed, which draws the counts and the samples beside the run's secret
    bounds_noise: float | None = None  # the bounds estimate's noise multiplier (of sensitivity sqrt(2 k)); None: none
    estimated: tuple[str, ...] = ()  # the k columns whose bounds are estimated (jaxgan.data.dp_bounds)
    estimate: tuple[tuple[float, float], ...] = ()  # their estimated (low, high), once released (with_estimate)

    @classmethod
    def of(cls, config: Any, *, rows: int, histograms: int) -> 'Plan':
        """The plan of config's privacy section for `rows` training rows and k released histograms; a UserError
        for delta not below 1 / rows, a batch not below the rows, or a budget too small for the plan."""
        p = config.privacy
        if not p.delta < 1 / rows:
            raise UserError(f'config.privacy.delta={p.delta:g} must be below 1 / training rows = 1/{rows} = '
                            f'{1 / rows:.3g}: a delta that large lets a mechanism publish a row outright')
        if config.batch_size >= rows:
            raise UserError(f'config.batch_size={config.batch_size}: a private run samples its batch from the '
                            f'{rows} training rows; make it smaller than them (a half or less)')
        share = p.frequency_share if histograms else 0.0
        estimated = tuple(estimated_columns(p.bounds))
        bounds_share = float(p.get('bounds_share', 0.0)) if estimated else 0.0
        updates = config.num_steps * config.n_critic
        sigma, count_noise, bounds_noise = calibrate(float(p.epsilon), float(p.delta), rows, config.batch_size,
                                                     updates, share, bounds_share)
        return cls(float(p.epsilon), float(p.delta), rows, config.batch_size, config.n_critic, config.num_steps,
                   float(p.clip_norm), sigma, count_noise, histograms, int(config.seed), bounds_noise, estimated)

    def with_estimate(self, bounds: dict[str, tuple[float, float]]) -> 'Plan':
        """The plan with the estimated bounds of its `estimated` columns, as released (public, recorded)."""
        return dataclasses.replace(self, estimate=tuple((float(bounds[c][0]), float(bounds[c][1]))
                                                        for c in self.estimated))

    @property
    def bounds_std(self) -> float:
        """The std of the Gaussian noise on each bin count of the bounds estimate."""
        return 0.0 if self.bounds_noise is None else self.bounds_noise * math.sqrt(2 * len(self.estimated))

    @property
    def count_std(self) -> float:
        """The std of the Gaussian noise on each category count."""
        return 0.0 if self.count_noise is None else self.count_noise * math.sqrt(2 * self.histograms)

    def spent(self, step: int) -> float:
        """The epsilon spent after `step` steps (the counts' part from the start)."""
        return epsilon_of(self.rows, self.batch, self.sigma, step * self.updates_per_step, self.count_noise,
                          self.delta, self.bounds_noise)

    def record(self, step: int) -> dict:
        """The accountant's state after `step` steps, as JSON: its events, their parameters and the spend."""
        return {'accountant': 'rdp', 'neighbouring': 'replace_one', 'epsilon_budget': self.epsilon,
                'delta': self.delta, 'epsilon_spent': self.spent(step), 'steps_done': step,
                'critic_updates_done': step * self.updates_per_step, 'noise_multiplier': self.sigma,
                'accountant_noise_multiplier': self.sigma / 2, 'clip_norm': self.clip_norm,
                'sampling': 'fixed-size without replacement', 'rows': self.rows, 'batch': self.batch,
                'sampling_rate': self.batch / self.rows, 'count_noise_multiplier': self.count_noise,
                'count_noise_std': self.count_std, 'histograms': self.histograms,
                'planned_steps': self.num_steps, 'updates_per_step': self.updates_per_step, 'seed': self.seed,
                'bounds_noise_multiplier': self.bounds_noise, 'bounds_noise_std': self.bounds_std,
                'estimated_bounds': {c: list(b) for c, b in zip(self.estimated, self.estimate)}}

    def check_resume(self, saved: dict | None, step: int) -> None:
        """Refuses (one line) a resume at `step` that changes the plan (PLAN_FIELDS: the budget, the noise,
        the sampling, the counts' release, the steps, the seed), whose past and remaining updates would spend
        more than the budget together, or that starts a private run from a checkpoint trained without privacy."""
        if saved is None:
            raise UserError(f'config.privacy: the checkpoint at step {step} was trained without privacy; its '
                            'networks are not covered by a budget: use another --workdir')
        # A record written before the bounds estimate estimated none.
        saved = {'bounds_noise_multiplier': None, 'estimated_bounds': {}, **saved}
        now = self.record(step)
        if saved['estimated_bounds'] != now['estimated_bounds']:  # drawn again from (seed, secret): the same draw only
            before, after = format_bounds(saved['estimated_bounds']), format_bounds(now['estimated_bounds'])
            raise UserError(f'config.privacy: the checkpoint at step {step} was trained on the estimated bounds '
                            f'{before}; this start estimates {after} (another config.privacy.bounds, bounds_share, '
                            'seed or data): a private run resumes only with the release it accounted; use another '
                            '--workdir')
        total = self._resumed_total(saved, step)
        # The same plan only: the record composes one plan's updates (step x updates per step), the rows of
        # critic update t are drawn by t (a changed n_critic would draw earlier samples again), and the counts
        # are drawn again at each start from the seed (a changed seed would release them a second time).
        saved = {'histograms': saved.get('discrete_columns'), **saved}  # a record written before the marginals
        same = all(saved.get(k) == now[k] for k in PLAN_FIELDS)
        if not same or total > self.epsilon * (1 + 1e-9):
            raise UserError(f'config.privacy: the checkpoint at step {step} spent epsilon {saved["epsilon_spent"]:.3g} '
                            f'of {saved["epsilon_budget"]:g} with noise {saved["noise_multiplier"]:.4g}; this config '
                            f'(noise {self.sigma:.4g} to step {self.num_steps}, budget {self.epsilon:g}) would make it '
                            f'{total:.3g}: a private run goes on only within the budget it was planned with')

    def _resumed_total(self, saved: dict, step: int) -> float:
        """The epsilon of the checkpoint's updates and counts, then this plan's updates after `step`."""
        from dp_accounting import dp_event as e
        past = event(int(saved['rows']), int(saved['batch']), float(saved['noise_multiplier']),
                     int(saved['critic_updates_done']), saved.get('count_noise_multiplier'),
                     saved.get('bounds_noise_multiplier'))
        rest = event(self.rows, self.batch, self.sigma, max(self.num_steps - step, 0) * self.updates_per_step, None)
        accountant = _accountant()
        accountant.compose(e.ComposedDpEvent([past, rest]))
        return float(accountant.get_epsilon(self.delta))


def format_bounds(bounds: dict) -> str:
    """{'age': [16, 128]} -> 'age=16:128' ('none' for none)."""
    return ';'.join(f'{c}={lo:g}:{hi:g}' for c, (lo, hi) in bounds.items()) or 'none'


# What a resumed private run must keep of its plan (Plan.check_resume)
PLAN_FIELDS = ('epsilon_budget', 'delta', 'rows', 'batch', 'noise_multiplier', 'clip_norm', 'count_noise_multiplier',
               'histograms', 'planned_steps', 'updates_per_step', 'seed', 'bounds_noise_multiplier', 'estimated_bounds')


def metadata(record: dict, step: int) -> dict:
    """What the sample output's sidecar says of its privacy: the guarantee and how it was accounted."""
    return {'differential_privacy': {
        'epsilon': record['epsilon_spent'], 'delta': record['delta'], 'epsilon_budget': record['epsilon_budget'],
        'neighbouring': 'replacing one training row', 'accountant': 'Renyi DP (dp-accounting RdpAccountant)',
        'trained_steps': step, 'mechanisms': record,
        'public': 'the schema, declared and not read from the rows: the columns, the bounds of the numerical '
                  'ones (declared, or estimated under this budget: estimated_bounds) and which are integers, the '
                  'category sets, the columns that may have missing cells; the number of training rows',
        'estimated_bounds': record.get('estimated_bounds', {}),
        'not_covered': 'hyperparameters tuned on the real rows are not accounted'}}
