"""Export time and artifact size per format (`jaxgan.export`) for DCGAN at 64 px, StyleGAN2 at 256 px and
CycleGAN at 256 px, with each artifact's largest difference from the JAX generator.

    python benchmarks/export_sizes.py [--models=dcgan64,stylegan2_256,cyclegan256] [--formats=...]
        [--out=benchmarks/results/export_sizes.json]

The generators are freshly initialised (export time and size do not depend on training) at their
experiments' configs: experiments.dcgan_celeba (64 px, the DCGAN paper's widths), stylegan2_celebahq
(stylegan2-ada-pytorch's paper256: z and w 512, channels up to 512) and cyclegan_horse2zebra (256 px,
9 residual blocks). Each export is timed from the generator to the file written (tracing, lowering,
conversion, serialisation; stablehlo and savedmodel lowered for cpu and cuda); then the artifact is
loaded in this process and run on a batch of 2 inputs against the JAX generator (float32, CPU).
"""

import argparse
import json
import os
import platform
import sys
import tempfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

MODELS = {  # name: (experiment module, config fields)
    'dcgan64': ('experiments.dcgan_celeba', {}),
    'stylegan2_256': ('experiments.stylegan2_celebahq', {'compute_dtype': 'float32'}),
    'cyclegan256': ('experiments.cyclegan_horse2zebra', {}),
}
FORMATS = ('stablehlo', 'savedmodel', 'onnx')


def fresh(name: str):
    """A freshly initialised Trained of the experiment's config (step 0), with no data read."""
    import importlib
    from jaxgan import api, family
    from jaxgan.core import state as state_lib
    from jaxgan.data.spec import DataSpec
    module, fields = MODELS[name]
    config = importlib.import_module(module).get_config()
    for field, value in fields.items():
        config[field] = value
    size = config.image_size
    spec = DataSpec(kind='image', shape=(size, size, 3), num_examples=1, source='fresh')
    model = family.build(config, spec)
    return api.Trained(workdir='(fresh)', config=config, model=model,
                       state=state_lib.create_state(model.game, 0, None), step=0)


def inputs(g, batch: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    out = []
    for name, shape, dtype in g.inputs:
        if dtype == 'int32':
            out.append(np.arange(batch, dtype=np.int32))
        elif name == 'inputs':
            out.append(rng.uniform(-1, 1, (batch, *shape)).astype(np.float32))
        else:
            out.append(rng.standard_normal((batch, *shape)).astype(np.float32))
    return out


def run_artifact(fmt: str, path: str, g, xs: list[np.ndarray]) -> np.ndarray:
    if fmt == 'stablehlo':
        import jax
        with open(path, 'rb') as f:
            return np.asarray(jax.export.deserialize(bytearray(f.read())).call(*xs))
    if fmt == 'savedmodel':
        import tensorflow as tf
        serve = tf.saved_model.load(path).signatures['serving_default']
        return serve(**{name: tf.constant(x) for (name, _, _), x in zip(g.inputs, xs)})['images'].numpy()
    import onnxruntime
    session = onnxruntime.InferenceSession(path)
    return session.run(['images'], {name: x for (name, _, _), x in zip(g.inputs, xs)})[0]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--models', default=','.join(MODELS))
    p.add_argument('--formats', default=','.join(FORMATS))
    p.add_argument('--out', default=os.path.join(REPO, 'benchmarks', 'results', 'export_sizes.json'))
    args = p.parse_args()
    import jax
    from jaxgan import export
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(','):
            trained = fresh(name)
            g = export.generator(trained)
            params = sum(x.size for x in jax.tree_util.tree_leaves(g.weights))
            xs = inputs(g, 2)
            want = np.asarray(jax.jit(g)(*xs))
            for fmt in args.formats.split(','):
                path = os.path.join(tmp, f'{name}.{fmt}')
                row = dict(model=name, format=fmt, generator_weights=int(params))
                try:
                    done = export.export_trained(trained, fmt, path)
                    got = run_artifact(fmt, path, g, xs)
                    row.update(seconds=done['seconds'], megabytes=round(done['bytes'] / 1e6, 2),
                               max_abs_diff=float(np.abs(got - want).max()), signature=done['signature'])
                except Exception as e:  # noqa: BLE001 (a converter's failure is a result to record)
                    row.update(error=f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}')
                print(json.dumps(row), flush=True)
                rows.append(row)
    result = dict(machine=f'{platform.machine()}, {os.cpu_count()} CPU cores', jax=jax.__version__,
                  device=jax.devices()[0].device_kind, rows=rows)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=1)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
