"""The PyTorch peer of jaxgan's DCGAN-64 train step, for side-by-side throughput on one GPU.

    python benchmarks/torch_dcgan.py --batch_sizes=128,1024 --steps=50 [--variants=eager_fp32,...]

The architecture of the official PyTorch DCGAN example (no biases, BatchNorm, N(0, 0.02) weights are
irrelevant to speed and not set) and its update order: G forward once; D on the real batch and on the
detached fake batch, D step; then G through D, G step. Data: one random batch on the device. Variants:
eager_fp32, eager_cl_bf16 (channels_last memory, bf16 autocast), compile_fp32 and compile_bf16
(torch.compile on G and D). Prints a JSON line per run and a table; counts 2.29 GFLOP per image and step
(see jaxgan.bench for the count).
"""

import argparse
import json
import time

GFLOP_PER_IMAGE = 2.29


def build(nz=100, ngf=64, ndf=64, nc=3):
    import torch.nn as nn

    def up(cin, cout, stride, pad):
        return [nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]

    def down(cin, cout, bn=True):
        layers = [nn.Conv2d(cin, cout, 4, 2, 1, bias=False)]
        return layers + ([nn.BatchNorm2d(cout)] if bn else []) + [nn.LeakyReLU(0.2, True)]

    g = nn.Sequential(*up(nz, ngf * 8, 1, 0), *up(ngf * 8, ngf * 4, 2, 1), *up(ngf * 4, ngf * 2, 2, 1),
                      *up(ngf * 2, ngf, 2, 1), nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())
    d = nn.Sequential(*down(nc, ndf, bn=False), *down(ndf, ndf * 2), *down(ndf * 2, ndf * 4), *down(ndf * 4, ndf * 8),
                      nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False))
    return g, d


def run(variant: str, batch: int, steps: int, warmup: int = 5) -> dict:
    import torch
    import torch.nn as nn
    device = 'cuda'
    torch.manual_seed(0)
    g, d = (m.to(device) for m in build())
    channels_last = '_cl' in variant
    if channels_last:
        g, d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
    if variant.startswith('compile'):
        g, d = torch.compile(g), torch.compile(d)
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real = torch.randn(batch, 3, 64, 64, device=device)
    if channels_last:
        real = real.contiguous(memory_format=torch.channels_last)
    ones, zeros = torch.ones(batch, device=device), torch.zeros(batch, device=device)
    autocast = torch.autocast('cuda', dtype=torch.bfloat16, enabled='bf16' in variant)

    def step():
        z = torch.randn(batch, 100, 1, 1, device=device)
        opt_d.zero_grad(set_to_none=True)
        with autocast:
            fake = g(z)
            loss_d = bce(d(real).view(-1), ones) + bce(d(fake.detach()).view(-1), zeros)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        with autocast:
            loss_g = bce(d(fake).view(-1), ones)
        loss_g.backward()
        opt_g.step()

    start = time.perf_counter()
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    warmup_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / steps
    return {'impl': f'torch_{variant}', 'batch': batch, 'step_ms': seconds * 1e3, 'images_per_s': batch / seconds,
            'tflops': GFLOP_PER_IMAGE * batch / seconds / 1e3, 'warmup_s': warmup_s}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--batch_sizes', default='128,1024')
    parser.add_argument('--steps', type=int, default=50)
    parser.add_argument('--variants', default='eager_fp32,eager_cl_bf16,compile_fp32,compile_bf16')
    parser.add_argument('--out', default='')
    args = parser.parse_args()
    rows = []
    for variant in args.variants.split(','):
        for batch in (int(b) for b in args.batch_sizes.split(',')):
            try:
                row = run(variant, batch, args.steps)
            except Exception as e:  # report and go on to the next variant
                row = {'impl': f'torch_{variant}', 'batch': batch, 'error': repr(e)[:300]}
            print(json.dumps(row), flush=True)
            rows.append(row)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(rows, f, indent=1)
    print(f'\n{"impl":26} {"batch":>6} {"step ms":>9} {"img/s":>10} {"TFLOP/s":>8}')
    for r in rows:
        if 'error' in r:
            print(f'{r["impl"]:26} {r["batch"]:>6} error: {r["error"][:60]}')
        else:
            print(f'{r["impl"]:26} {r["batch"]:>6} {r["step_ms"]:>9.2f} {r["images_per_s"]:>10.0f} {r["tflops"]:>8.1f}')


if __name__ == '__main__':
    main()
