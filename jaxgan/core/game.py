"""A game: named networks, the two players that update in turn, and each player's objective.

The step machinery (`core.step`) runs any `Game`; nothing in it names a loss, a model or a GAN. A game
says:

    networks    {'G': Network, 'D': Network}, or {'G_ab', 'G_ba', 'D_a', 'D_b'}: Flax modules used as
                pure functions, each with example inputs to initialise it
    generator   the player that updates last, `repeats` (n_gen, usually 1) times per step: its networks,
                optimizer and terms
    critic      the player that updates first, `repeats` (n_critic) times per step; None for a game with
                no discriminator (a GMMN)
    noise       the random inputs of one step, drawn for the global batch before sharding
    generate    the generator side's forward pass, (nets, real, noise) -> generated examples (float
                arrays: the generator's gradient flows back through them); it runs once per critic
                update, and the last critic update shares it with the generator update
    quantities  named values computed from a `View` on first use and reused by every term of the same
                update (D's outputs on real and on generated examples, say)
    schedule    values that are functions of the step alone (a growing schedule's level of detail), or
                None: scalars added to the batch under their names, repeated [n, B] so that every
                device reads them with its share of the data and every part of the step sees them

A `Term` (`core.terms`) is one part of a player's loss, a pure function of a `View`; it may keep a
state of its own in the run state, as an optax transform does.
"""

from __future__ import annotations

import dataclasses
import zlib
from typing import Any, Callable, Mapping

import flax.linen as nn
import jax
import optax

Params = Any  # a pytree of arrays
Batch = dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class Network:
    """A Flax module used as a pure function, and the arguments that initialise it (batch of 2).

    The module is called as module.apply(variables, *args, train=...); `rng_collections` names the
    random-number streams it draws from in training (dropout, noise), which the machinery feeds."""

    module: nn.Module
    init_args: Callable[[], tuple]
    rng_collections: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Player:
    """A side of the game: the networks it updates, its optimizer over {name: params}, its terms.

    name: the prefix of its metrics ('d' -> d_loss, d_grad_norm). metrics: extra diagnostics of an
    update, computed from its view (no gradient flows through them)."""

    name: str
    networks: tuple[str, ...]
    optimizer: optax.GradientTransformation
    terms: tuple[Any, ...]  # core.terms.Term
    repeats: int = 1
    metrics: Callable[['View'], dict[str, jax.Array]] | None = None
    private: Any = None  # core.private.DPSGD: the critic's gradient is clipped per unit and noised (DP-SGD)


@dataclasses.dataclass(frozen=True, eq=False)  # hashed by identity: a static argument of jit
class Game:
    networks: Mapping[str, Network]
    generator: Player
    critic: Player | None
    noise: Callable[[jax.Array, int, int], dict[str, jax.Array]]  # (key, updates, batch) -> [n, B, ...]
    generate: Callable[['Nets', Batch, dict], dict[str, jax.Array]]
    quantities: Mapping[str, Callable[['View'], Any]] = dataclasses.field(default_factory=dict)
    prepare: Callable[[Batch], Batch] = lambda batch: batch  # host units to model units, on the device
    ema: tuple[str, ...] = ()  # networks whose exponential moving average the state keeps
    batch_key: str = 'x'  # the batch array whose size [n, B, ...] the step's noise is drawn for
    schedule: Callable[[jax.Array], dict[str, jax.Array]] | None = None  # step -> {name: scalar}

    def __post_init__(self):
        players = self.players
        owned = [n for p in players for n in p.networks]
        if len(set(owned)) != len(owned) or not set(owned) <= set(self.networks):
            raise ValueError(f'each network belongs to one player and exists: players own {owned}, the '
                             f'game has {sorted(self.networks)}')
        names = [t.name for t in self.terms]
        reserved = {f'{p.name}_{m}' for p in players for m in ('loss', 'grad_norm', 'param_norm')}
        if len(set(names)) != len(names) or set(names) & reserved:
            raise ValueError(f'term names must be unique and not a metric of the step: {names}')

    @property
    def players(self) -> tuple[Player, ...]:
        return (self.critic, self.generator) if self.critic else (self.generator,)

    @property
    def critic_updates(self) -> int:
        return self.critic.repeats if self.critic else 0

    @property
    def real_batches(self) -> int:
        """Real batches a step takes: one per critic update, and one for a game without a critic."""
        return max(self.critic_updates, 1)

    @property
    def terms(self) -> tuple[Any, ...]:
        return tuple(t for p in self.players for t in p.terms)

    def init(self, key: jax.Array) -> tuple[dict[str, Params], dict[str, dict]]:
        """({name: params}, {name: model state}) of freshly initialised networks."""
        params, model_state = {}, {}
        for name, net in self.networks.items():  # keyed by name: a network's init does not depend on the others
            variables = dict(net.module.init(jax.random.fold_in(key, zlib.crc32(name.encode())), *net.init_args(),
                                             train=False))
            params[name] = variables.pop('params')
            model_state[name] = variables
        return params, model_state


class Nets:
    """The networks as callables inside one traced update: nets('D', x, y) applies D in training mode.

    Model-state updates (BatchNorm statistics, spectral-norm iterates) are threaded through the calls in
    the order they are made and read back from `model_state`; a call with update=False leaves them (the
    penalties' extra passes). Random streams for dropout are folded from `rng` and a call counter."""

    def __init__(self, game: Game, params: dict[str, Params], model_state: dict[str, dict],
                 rng: jax.Array | None, train: bool = True):
        self.game, self.params, self.model_state = game, params, dict(model_state)
        self.rng, self.train, self._calls = rng, train, 0

    def __call__(self, name: str, *args, update: bool = True, **kwargs) -> Any:
        net = self.game.networks[name]
        state = self.model_state[name]
        variables = {'params': self.params[name], **state}
        rngs = None
        if self.train and net.rng_collections and self.rng is not None:
            key = jax.random.fold_in(self.rng, self._calls)
            rngs = {c: jax.random.fold_in(key, i) for i, c in enumerate(net.rng_collections)}
        self._calls += 1
        if self.train and state:
            out, new_state = net.module.apply(variables, *args, train=True, mutable=list(state), rngs=rngs,
                                              **kwargs)
            if update:
                self.model_state[name] = dict(new_state)
            return out
        return net.module.apply(variables, *args, train=self.train, rngs=rngs, **kwargs)


class View:
    """What a term sees of one update: the networks, the real and generated examples, the noise, the
    step, the updating player's params and each term's own state; and the game's `quantities`, each
    computed on first use and shared by the terms of the update. A term that computes inside `lax.cond`
    or its own `jax.grad` (a lazy penalty) should read only quantities that are functions (`d_of_x`) or
    were computed before: a value first cached inside would not be usable outside."""

    def __init__(self, game: Game, nets: Nets, real: Batch, generated: dict, noise: dict, step: jax.Array,
                 params: dict[str, Params], term_states: dict[str, Any]):
        self.game, self.nets, self.real, self.generated = game, nets, real, generated
        self.noise, self.step, self.params, self.term_states = noise, step, params, term_states
        self._cache: dict[str, Any] = {}

    def __getitem__(self, quantity: str) -> Any:
        return self.memo(quantity, lambda: self.game.quantities[quantity](self))

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """compute(), once per update under `key`: a game's quantity by its name, or a term's own result
        that its loss and its `observe` both read (a lazy penalty's, computed inside its lax.cond)."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]
