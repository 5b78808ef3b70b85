"""Train-step benchmark: `python -m jaxgan.bench`.

    python -m jaxgan.bench --experiment=dcgan_celeba --batch_sizes=128,1024 --dtypes=bfloat16 \
        --steps_per_dispatch=1,8 --peak_tflops=989 --out=bench.json
    python -m jaxgan.bench --experiment=dcgan_celeba --mode=pipeline --config.dataset=folder:/data/celeba

For each batch size x compute dtype x steps per dispatch x ensemble size it compiles the experiment's jitted train step,
runs `--warmup` dispatches, then times `--steps` steps and reports compile time, steps/s, images/s, FLOPs
per image counted analytically from the layers, achieved TFLOP/s and the fraction of `--peak_tflops`.
Modes: `synthetic` feeds one random batch that stays on the devices (the step alone); `pipeline` feeds
the experiment's real input pipeline (decode, resize, shuffle, transfer), so that the two rates compare;
with `--config.data.on_device=true` that pipeline is the dataset held on the devices, gathered there by
index (decoded once before timing). A table experiment (`--experiment=ctgan`) is timed on its own
embedded table (images/s counts rows), without a FLOP count (the columns show '-').

FLOPs: every convolution and matrix product in G's and D's forward passes (a jaxpr walk; XLA's cost
analysis undercounts convolutions), combined as a step uses them: with n = n_critic, G runs forward n
times and backward once (2x forward), D forward and backward (2x) on real and fake n times, then forward
and back to its input for G's update: per image, (n + 2) G + (6 n + 2) D. For DCGAN-64 that is
3 x 0.210 + 8 x 0.208 = 2.29 GFLOP, the figure of the PyTorch peer (benchmarks/torch_dcgan.py). Each
further G update (n_gen > 1) adds a G forward and backward and D's forward and back to its input:
3 G + 2 D.
"""

from __future__ import annotations

import json
import math
import sys
import time

import jax
import jax.numpy as jnp
import ml_collections

from jaxgan import data, ensemble, files
from jaxgan.core import parallel
from jaxgan.family import make_train_step
from jaxgan.family import Model as GAN



def _conv_flops(eqn) -> float:
    """Multiply-adds x 2 of a convolution, the lesser of two counts: from the output side (each output
    element: in_features x kernel positions) and from the input side (each input element: out_features x
    kernel positions). A regular convolution's is the first; a transposed convolution, which XLA lowers
    with its input dilated and padded by zeros, does only the second's work on a GPU (backward-data)."""
    lhs, rhs, out = eqn.invars[0].aval, eqn.invars[1].aval, eqn.outvars[0].aval
    rhs_spec = eqn.params['dimension_numbers'].rhs_spec  # (out feature dim, in feature dim, spatial...)
    kernel = math.prod(rhs.shape[d] for d in rhs_spec[2:])
    groups = eqn.params.get('feature_group_count', 1) * eqn.params.get('batch_group_count', 1)
    output_side = math.prod(out.shape) * rhs.shape[rhs_spec[1]] * kernel
    input_side = math.prod(lhs.shape) * rhs.shape[rhs_spec[0]] * kernel / groups
    return 2.0 * min(output_side, input_side)


def _dot_flops(eqn) -> float:
    lhs = eqn.invars[0].aval
    (lhs_contract, _), _ = eqn.params['dimension_numbers']
    contract = math.prod(lhs.shape[d] for d in lhs_contract)
    return 2.0 * math.prod(eqn.outvars[0].aval.shape) * contract


def matmul_flops(jaxpr) -> float:
    """FLOPs of every convolution and dot product in a (closed) jaxpr, sub-jaxprs included; of a
    conditional's branches, only the costliest (one runs: for ProGAN, whose networks branch per stage,
    the final stage's)."""
    total = 0.0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == 'cond':
            total += max(matmul_flops(branch.jaxpr) for branch in eqn.params['branches'])
            continue
        if name == 'conv_general_dilated':
            total += _conv_flops(eqn)
        elif name == 'dot_general':
            total += _dot_flops(eqn)
        for param in eqn.params.values():
            for sub in (param if isinstance(param, (list, tuple)) else [param]):
                inner = getattr(sub, 'jaxpr', None)
                if inner is not None:
                    total += matmul_flops(inner if hasattr(inner, 'eqns') else inner.jaxpr)
    return total


def forward_flops(gan: GAN, state, batch: int = 8) -> tuple[float, float]:
    """(G, D) forward FLOPs per example."""
    batch *= gan.pack  # PacGAN: D judges packs of gan.pack examples
    z = jnp.zeros((batch, gan.latent_dim))
    y = jnp.zeros((batch,), jnp.int32)
    x = jnp.zeros((batch, *gan.spec.shape))
    g = jax.make_jaxpr(lambda p, s: gan.generate(p, s, z, y=y, train=False)[0])(state.params['G'], state.model_state['G'])
    d = jax.make_jaxpr(lambda p, s: gan.discriminate(p, s, x, y=y, train=False)[0]['logits'])(
        state.params['D'], state.model_state['D'])
    return matmul_flops(g.jaxpr) / batch, matmul_flops(d.jaxpr) / batch


def step_flops_per_image(g: float, d: float, n_critic: int, n_gen: int = 1) -> float:
    n, extra = max(n_critic, 1), n_gen - 1
    return (n + 2 + 3 * extra) * g + (6 * n + 2 + 2 * extra) * d


def bench_one(config: ml_collections.ConfigDict, mesh, *, mode: str, steps: int, warmup: int,
              peak_tflops: float) -> dict:
    from jaxgan.batches import batch_stream, member_batchers
    dataset = data.load(config)
    members = ensemble.size(config)
    gan = ensemble.member_gan(config, dataset.spec)
    state = ensemble.fresh_state(gan, config, parallel.replicated(mesh))
    # FLOPs are counted for image GANs (their generate / discriminate); a table's step is timed without them.
    counted = hasattr(gan, 'discriminate')
    g_flops, d_flops = (forward_flops(gan, state if members == 1 else ensemble.member_state(state, 0)) if counted
                        else (math.nan, math.nan))
    per_image = step_flops_per_image(g_flops, d_flops, config.n_critic, config.n_gen)
    k = config.steps_per_dispatch
    train_step = (make_train_step if members == 1 else ensemble.make_train_step)(gan, config, mesh)
    streams = member_batchers(config, dataset, gan)
    dispatches = max(1, math.ceil(steps / k))
    stream = batch_stream(config, dataset, streams, mesh, real_batches=gan.game.real_batches, start_step=0,
                          num_steps=(1 + warmup + dispatches) * k)
    first = next(stream)[1]

    start = time.perf_counter()
    compiled = train_step.lower(state, first).compile()
    compile_s = time.perf_counter() - start

    batches = iter(lambda: first, None) if mode == 'synthetic' else (b for _, b in stream)
    for _ in range(warmup):
        state, _ = compiled(state, next(batches))
    jax.block_until_ready(state)  # the timing starts with no step in flight (none with --warmup=0)
    start = time.perf_counter()
    for _ in range(dispatches):
        state, metrics = compiled(state, next(batches))
    jax.block_until_ready((state, metrics))
    seconds = time.perf_counter() - start
    stream.close()
    for b in (b for s in streams for b in s.values()):
        b.close()
    steps_per_s = dispatches * k / seconds
    images_per_s = steps_per_s * config.batch_size * members
    tflops = images_per_s * per_image / 1e12
    return {
        'mode': mode, 'on_device': bool(config.data.on_device), 'batch': config.batch_size,
        'dtype': config.compute_dtype, 'steps_per_dispatch': k, 'members': members,
        'compile_s': round(compile_s, 2), 'steps_per_s': round(steps_per_s, 2),
        'member_steps_per_s': round(steps_per_s * members, 2), 'images_per_s': round(images_per_s, 1),
        'gflop_per_image': none_if_nan(per_image / 1e9, 4), 'g_forward_gflop': none_if_nan(g_flops / 1e9, 4),
        'd_forward_gflop': none_if_nan(d_flops / 1e9, 4), 'tflops': none_if_nan(tflops, 3),
        'fraction_of_peak': none_if_nan(tflops / peak_tflops, 4) if peak_tflops else None,
        'timed_steps': dispatches * k, 'seconds': round(seconds, 3),
    }


def none_if_nan(x: float, digits: int) -> float | None:
    """x rounded, or None where it was not counted (NaN)."""
    return None if math.isnan(x) else round(x, digits)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(',') if x.strip()]


def _main(argv) -> None:
    from absl import flags
    from jaxgan.errors import UserError
    del argv
    f = flags.FLAGS
    if f.mode not in ('synthetic', 'pipeline'):
        raise UserError(f'--mode={f.mode} is not synthetic or pipeline')
    mesh = parallel.make_mesh()
    rows = []
    for batch in _ints(f.batch_sizes):
        for dtype in f.dtypes.split(','):
            for k in _ints(f.steps_per_dispatch):
                for members in _ints(f.ensemble_sizes):
                    config = f.config.copy_and_resolve_references()
                    config.batch_size, config.compute_dtype, config.steps_per_dispatch = batch, dtype, k
                    config.ensemble.size = members
                    from jaxgan import config as config_lib
                    config_lib.validate(config, num_devices=mesh.size, num_processes=jax.process_count())
                    row = bench_one(config, mesh, mode=f.mode, steps=f.steps, warmup=f.warmup,
                                    peak_tflops=f.peak_tflops)
                    row['experiment'] = f.experiment
                    print(json.dumps(row), flush=True)
                    rows.append(row)
    meta = {'device': str(jax.devices()[0].device_kind), 'devices': jax.device_count(), 'backend': jax.default_backend(),
            'jax': jax.__version__, 'date': time.strftime('%Y-%m-%d')}
    if f.out:
        files.atomic_write(f.out, json.dumps({'meta': meta, 'results': rows}, indent=1))
    held = ', held on the devices' if f.mode == 'pipeline' and config.data.on_device else ''
    print(f'\n{meta["device"]} x{meta["devices"]}, jax {meta["jax"]}, {f.mode} data{held}')
    print(f'{"batch":>6} {"dtype":>9} {"k":>3} {"N":>3} {"compile s":>10} {"steps/s":>9} {"member st/s":>11} '
          f'{"img/s":>10} {"GFLOP/img":>10} {"TFLOP/s":>8} {"of peak":>8}')
    for r in rows:
        peak = f'{100 * r["fraction_of_peak"]:.1f}%' if r['fraction_of_peak'] is not None else '-'
        counted = lambda v, spec: '-' if v is None else format(v, spec)
        print(f'{r["batch"]:>6} {r["dtype"]:>9} {r["steps_per_dispatch"]:>3} {r["members"]:>3} {r["compile_s"]:>10.1f} '
              f'{r["steps_per_s"]:>9.2f} {r["member_steps_per_s"]:>11.2f} {r["images_per_s"]:>10.0f} '
              f'{counted(r["gflop_per_image"], ".3f"):>10} {counted(r["tflops"], ".3f"):>8} {peak:>8}')


def main() -> None:
    from absl import flags
    import experiments
    from jaxgan import cli
    from jaxgan.errors import UserError
    flags.DEFINE_string('experiment', 'dcgan_celeba', 'The experiment whose model and step to time.')
    flags.FLAGS(sys.argv, known_only=True)
    name = flags.FLAGS.experiment
    try:
        module = experiments.load(name)
    except UserError as e:  # before app.run, which would show it
        print(f'error: {e}', file=sys.stderr)
        sys.exit(2)

    def bench_config():
        config = module.get_config()
        # Synthetic mode needs only the shapes: the embedded digits as RGB stand in for an image
        # experiment's data (set --config.dataset, crop and channels for the pipeline mode).
        if not config.dataset.startswith(('toy:', 'table:')):  # toy mixtures are generated, tables embedded
            config.dataset, config.data.crop, config.data.channels = 'digits', 0, 3
        return config

    cli.define_experiment_flags(name, bench_config)
    flags.DEFINE_string('batch_sizes', '128', 'Comma-separated global batch sizes.')
    flags.DEFINE_string('dtypes', 'float32', 'Comma-separated compute dtypes: float32, bfloat16.')
    flags.DEFINE_string('steps_per_dispatch', '1', 'Comma-separated steps per jitted call.')
    flags.DEFINE_string('ensemble_sizes', '1', 'Comma-separated ensemble sizes N (config.ensemble.size): N GANs in '
                        'one step; member st/s is N x steps/s, img/s counts every member\'s images.')
    flags.DEFINE_string('mode', 'synthetic', 'synthetic (a batch kept on the devices) or pipeline (real data).')
    flags.DEFINE_integer('steps', 50, 'Timed steps per configuration.')
    flags.DEFINE_integer('warmup', 3, 'Untimed dispatches after compilation.')
    flags.DEFINE_float('peak_tflops', 0.0, 'The device\'s peak TFLOP/s for the fraction column (0: none).')
    flags.DEFINE_string('out', '', 'Write the results as JSON here.')
    cli.run_main(_main)


if __name__ == '__main__':
    main()
