#!/usr/bin/env python3
"""Training throughput of torchvision's ResNet50 with mammosweep's head: the Python
counterpart of bench/train_throughput.cpp (same settings, same torch, same batch).

    .venv/bin/python bench/train_throughput.py --size 224 --batch 16 --threads 2 \
        [--precision fp32|bf16] [--channels-last] [--unfrozen 1.0] [--fold] [--warmup 2] [--steps 5] [--device cuda]
        [--profile]

One training step = zero_grad, forward (under bf16 CPU autocast when --precision bf16),
cross-entropy in float32, loss.item(), backward, Adam step: what worker/trainer.cpp does per
batch; loss.item() waits for the device, so host time is GPU time on --device cuda (autocast
on that device). The input is a fixed random batch (no data pipeline; see bench/data_pipeline.py).
Prints ONE line of JSON: img_per_s over the timed steps (batch * steps / their total time),
median step time and peak RSS (VmHWM) of this process. Run one configuration per process so
that peak RSS is per configuration. --profile also prints, on stderr, torch.profiler's
operators by their own CPU time per timed step (docs/performance.md, "BatchNorm on small planes").
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch
import torchvision


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def build_model(dense_units=1024, dropout=0.5, num_classes=2):
    model = torchvision.models.resnet50(weights=None)
    model.fc = torch.nn.Sequential(
        torch.nn.Linear(2048, dense_units),
        torch.nn.ReLU(),
        torch.nn.Dropout(dropout),
        torch.nn.Linear(dense_units, num_classes),
    )
    return model


def freeze(model, unfrozen):
    """mammosweep's freezing rule (worker/resnet50.h): the last ceil(f * 106) conv/BN layers of
    the backbone train; frozen BatchNorm layers run in eval mode. Returns the frozen BNs."""
    layers = [m for name, m in model.named_modules()
              if isinstance(m, (torch.nn.Conv2d, torch.nn.BatchNorm2d)) and not name.startswith("fc")]
    assert len(layers) == 106, len(layers)
    first_trainable = len(layers) - math.ceil(unfrozen * len(layers) - 1e-9)
    frozen_bn = []
    for i, m in enumerate(layers):
        for p in m.parameters():
            p.requires_grad_(i >= first_trainable)
        if isinstance(m, torch.nn.BatchNorm2d) and i < first_trainable:
            frozen_bn.append(m)
    return frozen_bn


def fold_frozen(model):
    """Folds each frozen conv + frozen (eval-mode) BatchNorm pair into one conv with a bias
    (torch.nn.utils.fusion.fuse_conv_bn_eval), as --fold asks: the Python side of
    bench/train_throughput.cpp's folded frozen units (worker/frozen_prefix.h)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    pairs = [(model, "conv1", "bn1")]
    for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
        for b in layer:
            pairs += [(b, "conv1", "bn1"), (b, "conv2", "bn2"), (b, "conv3", "bn3")]
            if b.downsample is not None:
                pairs.append((b.downsample, "0", "1"))
    for parent, c, n in pairs:
        conv, bn = getattr(parent, c), getattr(parent, n)
        if conv.weight.requires_grad or bn.weight.requires_grad:
            continue
        fused = fuse_conv_bn_eval(conv.eval(), bn.eval())
        for p in fused.parameters():
            p.requires_grad_(False)
        setattr(parent, c, fused)
        setattr(parent, n, torch.nn.Identity())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--unfrozen", type=float, default=1.0, help="unfrozen fraction of the backbone")
    ap.add_argument("--fold", action="store_true",
                    help="fold each frozen conv + BatchNorm pair (fuse_conv_bn_eval)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--profile", action="store_true",
                    help="print the timed steps' operators by own CPU time on stderr")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = build_model()
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    dev = torch.device(a.device)
    model = model.to(dev, memory_format=fmt)
    frozen_bn = freeze(model, a.unfrozen)
    if a.fold:
        fold_frozen(model)
    model.train()
    for bn in frozen_bn:
        bn.eval()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    x = torch.rand(a.batch, 3, a.size, a.size).contiguous(memory_format=fmt).to(dev)
    y = torch.randint(0, 2, (a.batch,)).to(dev)
    bf16 = a.precision == "bf16"

    times = []
    profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
    for i in range(a.warmup + a.steps):
        if a.profile and i == a.warmup:
            profiler.start()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.float(), y)
        loss_value = loss.item()
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if i >= a.warmup:
            times.append(dt)
        if loss_value != loss_value:
            raise SystemExit("train_throughput.py: loss became NaN at step %d" % (i + 1))
    if a.profile:
        profiler.stop()
        ops = sorted(profiler.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        total = sum(e.self_cpu_time_total for e in ops)
        print(f"operators by own CPU time, ms per step (of {total / 1e3 / a.steps:.0f}):", file=sys.stderr)
        for e in ops[:12]:
            print(f"  {e.key:40s} {e.self_cpu_time_total / 1e3 / a.steps:8.1f}  {100 * e.self_cpu_time_total / total:5.1f} %",
                  file=sys.stderr)

    print(json.dumps({
        "bench": "train_throughput", "impl": "python", "size": a.size, "batch": a.batch,
        "threads": a.threads, "device": a.device, "precision": a.precision, "channels_last": a.channels_last,
        "unfrozen": a.unfrozen, "fold": a.fold, "warmup": a.warmup, "steps": a.steps,
        "img_per_s": a.batch * a.steps / sum(times),
        "median_step_s": statistics.median(times),
        "peak_rss_mib": peak_rss_mib(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
