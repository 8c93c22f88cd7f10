#!/usr/bin/env python3
"""ATen's CPU batch norm on small planes, for worker/batch_norm.h (docs/performance.md,
"BatchNorm on small planes"). For each shape, the median milliseconds of a training-mode
forward and backward pass, and of an eval-mode forward pass, in two ways: as PyTorch runs it
(NCHW), and as worker::BatchNorm runs planes of fewer than 16 values (the same values as
N*H*W rows of C channels, and back).

    .venv/bin/python bench/batch_norm_planes.py [--threads 1]
"""
import argparse
import time

import torch
import torch.nn.functional as F

SHAPES = [(32, 2048, 1, 1), (32, 2048, 2, 2), (32, 512, 2, 2), (32, 1024, 2, 2),
          (32, 2048, 3, 3), (32, 256, 4, 4), (32, 512, 4, 4), (32, 1024, 4, 4),
          (32, 2048, 4, 4), (32, 512, 7, 7), (32, 2048, 7, 7)]


def median_ms(fn, repeats=30):
    for _ in range(5):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2] * 1e3


def as_rows(fn, x):
    n, c, h, w = x.shape
    return fn(x.permute(0, 2, 3, 1).reshape(-1, c, 1, 1)).view(n, h, w, c).permute(0, 3, 1, 2).contiguous()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    torch.set_num_threads(ap.parse_args().threads)
    print("| N, C, H, W | train NCHW | train as rows | eval NCHW | eval as rows |")
    print("|---|---:|---:|---:|---:|")
    for shape in SHAPES:
        c = shape[1]
        x = torch.randn(shape, requires_grad=True)
        weight, bias = torch.randn(c, requires_grad=True), torch.randn(c, requires_grad=True)
        mean, var, grad = torch.zeros(c), torch.ones(c), torch.randn(shape)

        def bn(t, training):
            return F.batch_norm(t, mean, var, weight, bias, training, 0.1, 1e-5)

        def eval_pass(rows):
            with torch.no_grad():
                (as_rows(lambda t: bn(t, False), x) if rows else bn(x, False))

        cells = [median_ms(lambda: bn(x, True).backward(grad)),
                 median_ms(lambda: as_rows(lambda t: bn(t, True), x).backward(grad)),
                 median_ms(lambda: eval_pass(False)), median_ms(lambda: eval_pass(True))]
        print(f"| {', '.join(map(str, shape))} | " + " | ".join(f"{v:.2f}" for v in cells) + " |")


if __name__ == "__main__":
    main()
