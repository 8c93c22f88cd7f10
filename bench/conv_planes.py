#!/usr/bin/env python3
"""ATen's CPU convolution (oneDNN) on small output planes, for worker/conv.h
(docs/performance.md, "Convolutions on small planes"). For each ResNet50 convolution shape, the
median milliseconds of a forward and backward pass (input and weight gradients), or with --eval
of a forward pass without gradients, in two ways: as PyTorch runs it (F.conv2d, NCHW), and as
worker::Conv runs small output planes (one matrix product of N*H*W rows, after im2col for a
k x k kernel), whichever side of its rule the shape is on.

    .venv/bin/python bench/conv_planes.py [--threads 1] [--batch 32] [--eval]
"""
import argparse

import torch
import torch.nn.functional as F

from batch_norm_planes import median_ms  # the same timing: warm-up calls, then the median

# (C_in, C_out, kernel, stride, input H = W): layer4 at 64 px (output 2 x 2), at 96 px
# (3 x 3), at 128 px (4 x 4), layer3 at 64 px (4 x 4), and 1x1 kernels at 8 x 8 (layer2 at
# 64 px, layer3 at 128 px), which the rule leaves to oneDNN.
SHAPES = [(1024, 512, 1, 1, 4), (512, 512, 3, 2, 4), (512, 2048, 1, 1, 2), (1024, 2048, 1, 2, 4),
          (2048, 512, 1, 1, 2), (512, 512, 3, 1, 2),
          (512, 512, 3, 2, 6), (512, 2048, 1, 1, 3), (1024, 2048, 1, 2, 6), (2048, 512, 1, 1, 3),
          (512, 512, 3, 1, 3),
          (512, 2048, 1, 1, 4), (2048, 512, 1, 1, 4), (512, 512, 3, 1, 4),
          (512, 1024, 1, 2, 8), (1024, 256, 1, 1, 4), (256, 256, 3, 1, 4), (256, 1024, 1, 1, 4),
          (512, 128, 1, 1, 8), (128, 512, 1, 1, 8), (1024, 256, 1, 1, 8), (256, 1024, 1, 1, 8)]


def as_matrix_product(x, weight, stride, padding):
    n = x.shape[0]
    c_out, _, k, _ = weight.shape
    if k == 1:
        x = x[:, :, ::stride, ::stride]
        h, w = x.shape[2], x.shape[3]
        rows = x.permute(0, 2, 3, 1).reshape(n * h * w, -1)
    else:
        h = (x.shape[2] + 2 * padding - k) // stride + 1
        w = (x.shape[3] + 2 * padding - k) // stride + 1
        rows = F.unfold(x, k, padding=padding, stride=stride).transpose(1, 2).reshape(n * h * w, -1)
    out = rows @ weight.view(c_out, -1).t()
    return out.view(n, h, w, c_out).permute(0, 3, 1, 2).contiguous()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--eval", action="store_true", help="forward passes without gradients")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print("| C_in → C_out, kernel, stride | input H × W → output | conv2d (ms) | matrix product (ms) | ratio |")
    print("|---|---|---:|---:|---:|")
    for c_in, c_out, k, stride, size in SHAPES:
        padding = k // 2
        x = torch.randn(args.batch, c_in, size, size, requires_grad=True)
        weight = (torch.randn(c_out, c_in, k, k) * 0.01).requires_grad_()
        out = (size + 2 * padding - k) // stride + 1
        grad = torch.randn(args.batch, c_out, out, out)
        ours = as_matrix_product(x, weight, stride, padding)
        ref = F.conv2d(x, weight, None, stride, padding)
        assert (ours - ref).abs().max() <= 1e-5 * ref.abs().max(), "the two ways disagree"
        if args.eval:
            with torch.no_grad():
                a = median_ms(lambda: F.conv2d(x, weight, None, stride, padding), 20)
                b = median_ms(lambda: as_matrix_product(x, weight, stride, padding), 20)
        else:
            a = median_ms(lambda: F.conv2d(x, weight, None, stride, padding).backward(grad), 20)
            b = median_ms(lambda: as_matrix_product(x, weight, stride, padding).backward(grad), 20)
        print(f"| {c_in} → {c_out}, {k}×{k}, {stride} | {size} × {size} → {out} × {out} | "
              f"{a:.2f} | {b:.2f} | {b / a:.2f} |")


if __name__ == "__main__":
    main()
