#!/usr/bin/env bash
# The GPU figures of docs/benchmarks.md, taken in one run on one GPU, in order of importance:
#
#     bash benchmarks/gpu_figures.sh OUTDIR [PART ...]
#
#   1. jaxgan's DCGAN-64 step on synthetic data (python -m jaxgan.bench): batch 128 and 1024, bfloat16 and
#      float32, 1 and 8 steps per dispatch;
#   2. the PyTorch peer in the same run (benchmarks/torch_dcgan.py): eager fp32, eager channels-last bf16,
#      torch.compile bf16, batch 128 and 1024;
#   3. FID of 50,000 samples along jaxgan.evaluate's path (benchmarks/fid_speed.py): the device path (one
#      program generates, embeds and accumulates; the target, under 60 s warm), then the host path it
#      replaced (each batch through the host), in the same run;
#   4. the input pipeline on a folder of 64x64 JPEGs made here: the step alone, the host pipeline, and
#      data.on_device, batch 1024, bfloat16, 8 steps per dispatch;
#   5. StyleGAN2 at 256x256 (paper256, batch 64): seconds per thousand images, and its compile time in a
#      second process (the compilation cache, filled by the first);
#   6. ensembles: toy_2d and DCGAN-32, N = 1, 4, 16 GANs in one step;
#   7. R3GAN: r3gan_cifar10 (batch 64, the official 512 over 8 GPUs) and r3gan_ffhq256 (batch 32), bfloat16.
#
# PARTs (default all): dcgan64_jax dcgan64_torch fid50k pipeline_synthetic pipeline_host pipeline_on_device
# stylegan2_256 stylegan2_256_second ensemble_toy2d ensemble_dcgan32 r3gan_cifar10 r3gan_ffhq256. Their limits
# add up to 32 minutes, and on one H200 much of
# the time is compilation (StyleGAN2's alone took 147 s), so where one command may run for at most 10 minutes, run the
# parts in two halves. Each part has its own time limit, so that one that hangs leaves the rest; each
# writes NAME.json and NAME.log under OUTDIR/parts, and ARCHIVE (default OUTDIR/figures.tgz) holds them
# all after every part. PYTHON (default python3) runs everything, from the repository's root, with jaxgan
# installed or on PYTHONPATH; it needs jax for the GPU and PyTorch for part 2.
set -u
out=${1:?usage: bash benchmarks/gpu_figures.sh OUTDIR [PART ...]}
shift
parts=" dcgan64_jax dcgan64_torch fid50k pipeline_synthetic pipeline_host pipeline_on_device stylegan2_256 stylegan2_256_second ensemble_toy2d ensemble_dcgan32 r3gan_cifar10 r3gan_ffhq256 "
for name in "$@"; do
    [[ "$parts" == *" $name "* ]] || { echo "error: unknown part $name; the parts are:$parts" >&2; exit 2; }
done
chosen=" $* "
py=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
archive=${ARCHIVE:-$out/figures.tgz}
mkdir -p "$out/parts"
export PYTHONUNBUFFERED=1

chosen() { [ "$chosen" = "  " ] || [[ "$chosen" == *" $1 "* ]]; }

part() {  # part NAME SECONDS COMMAND...: run it with a limit, log to parts/NAME.log, pack everything
    local name=$1 limit=$2
    shift 2
    chosen "$name" || return 0
    local start=$SECONDS
    timeout --kill-after=5 "$limit" "$@" >"$out/parts/$name.log" 2>&1
    local rc=$?
    echo "== $name: exit $rc after $((SECONDS - start)) s (limit $limit)" | tee -a "$out/parts/summary.log"
    tail -n 14 "$out/parts/$name.log" | cut -c1-240
    tar czf "$archive.tmp" -C "$out" parts && mv "$archive.tmp" "$archive"
}

{
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
    "$py" -c 'import sys, jax, flax, optax, orbax.checkpoint as o; print(sys.version.split()[0], "jax", jax.__version__, "flax", flax.__version__, "optax", optax.__version__, "orbax", o.__version__, jax.devices())'
    "$py" -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name())'
    echo "CPU cores: $(nproc)"
    "$py" -m pip list 2>/dev/null | grep -i -E '^(jax|jaxlib|jax-cuda)'
} >"$out/parts/env.log" 2>&1
cat "$out/parts/env.log"

bench="$py -m jaxgan.bench --peak_tflops=989"
part dcgan64_jax 200 $bench --experiment=dcgan_celeba --batch_sizes=128,1024 --dtypes=bfloat16,float32 \
    --steps_per_dispatch=1,8 --steps=160 --warmup=3 --out="$out/parts/dcgan64_jax.json"
part dcgan64_torch 110 "$py" benchmarks/torch_dcgan.py --batch_sizes=128,1024 --steps=100 \
    --variants=eager_fp32,eager_cl_bf16,compile_bf16 --out="$out/parts/dcgan64_torch.json"
part fid50k 240 "$py" benchmarks/fid_speed.py --num_samples=50000 --paths=device,host --out="$out/parts/fid50k.json"

chosen pipeline_synthetic || chosen pipeline_host || chosen pipeline_on_device &&
{ "$py" - "$work/jpegs" <<'EOF' >"$out/parts/jpegs.log" 2>&1 || echo "error: making the JPEGs failed; see parts/jpegs.log" | tee -a "$out/parts/summary.log"; }
import os, sys
import numpy as np
from PIL import Image
from sklearn.datasets import load_sample_images
os.makedirs(sys.argv[1])
photos = load_sample_images().images  # two 427x640 photographs shipped with scikit-learn
rng = np.random.default_rng(0)
for i in range(10_000):  # 64x64 crops, as a prepared face folder at 64x64 would be
    p = photos[i % 2]
    y, x = rng.integers(0, p.shape[0] - 64), rng.integers(0, p.shape[1] - 64)
    Image.fromarray(p[y:y + 64, x:x + 64]).save(os.path.join(sys.argv[1], f'{i:05d}.jpg'), quality=90)
print('10000 JPEGs')
EOF
pipe="$bench --experiment=dcgan_celeba --config.dataset=folder:$work/jpegs --config.data.crop=0 \
    --batch_sizes=1024 --dtypes=bfloat16 --steps_per_dispatch=8 --steps=160 --warmup=2"
part pipeline_synthetic 40 $pipe --mode=synthetic --out="$out/parts/pipeline_synthetic.json"
part pipeline_host 120 $pipe --mode=pipeline --out="$out/parts/pipeline_host.json"
part pipeline_on_device 50 $pipe --mode=pipeline --config.data.on_device=true \
    --out="$out/parts/pipeline_on_device.json"

part stylegan2_256 240 $bench --experiment=stylegan2_celebahq --config.model.resolution=256 --batch_sizes=64 \
    --dtypes=bfloat16 --steps=32 --warmup=2 --out="$out/parts/stylegan2_256.json"
part stylegan2_256_second 200 $bench --experiment=stylegan2_celebahq --config.model.resolution=256 --batch_sizes=64 \
    --dtypes=bfloat16 --steps=32 --warmup=2 --out="$out/parts/stylegan2_256_second.json"

part ensemble_toy2d 90 $bench --experiment=toy_2d --batch_sizes=256 --steps_per_dispatch=50 \
    --ensemble_sizes=1,4,16 --steps=1000 --warmup=2 --out="$out/parts/ensemble_toy2d.json"
part ensemble_dcgan32 90 $bench --experiment=dcgan_celeba --config.image_size=32 --config.model.g_width=16 \
    --config.model.d_width=16 --batch_sizes=32 --steps_per_dispatch=10 --ensemble_sizes=1,4,16 --steps=200 \
    --warmup=2 --out="$out/parts/ensemble_dcgan32.json"

part r3gan_cifar10 240 $bench --experiment=r3gan_cifar10 --batch_sizes=64 --dtypes=bfloat16 --steps=64 --warmup=2 \
    --out="$out/parts/r3gan_cifar10.json"
part r3gan_ffhq256 300 $bench --experiment=r3gan_ffhq256 --batch_sizes=32 --dtypes=bfloat16 --steps=32 --warmup=2 \
    --out="$out/parts/r3gan_ffhq256.json"
