#!/usr/bin/env python3
"""The week-7 sweep as a plain Python PyTorch/torchvision script, for the whole-sweep
wall-time comparison in docs/performance.md.

It trains the report's three variants (sweeps/week7.yaml) the way a typical user script
would: torchvision ImageFolder + DataLoader with per-epoch decoding and transforms,
torchvision's resnet50 with the same head (Linear -> ReLU -> Dropout -> Linear), the same
unfrozen-fraction rule (the last ceil(f*106) conv/BN layers train, frozen BN in eval mode),
oversampling of the minority class in the training split, the same augmentation
(horizontal flip, brightness/contrast/saturation 0.2), the same optimizers, batch size,
epochs, image size and thread count. It prints per-epoch val accuracy/AUC and the total
wall time.

    .venv/bin/python bench/week7_sweep.py --data demo-out/data --size 64 --threads 2
"""
import argparse
import time

import torch
import torch.nn as nn
import torchvision
from torchvision import transforms

from train_throughput import build_model, freeze

VARIANTS = [  # sweeps/week7.yaml
    dict(name="Model 1", unfrozen=0.5, dense=1024, dropout=0.5, optimizer="adam", lr=1e-4),
    dict(name="Model 2", unfrozen=0.6, dense=512, dropout=0.3, optimizer="adam", lr=5e-5),
    dict(name="Model 3", unfrozen=0.7, dense=1024, dropout=0.4, optimizer="rmsprop", lr=1e-4),
]


def auc(labels, scores):
    """ROC-AUC by ranks (ties count one half)."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    pos = sum(labels)
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    return (sum(r for r, y in zip(ranks, labels) if y == 1) - pos * (pos + 1) / 2) / (pos * neg)


def make_model(v, seed):
    """torchvision's resnet50 with the variant's head, frozen by mammosweep's rule (the last
    ceil(f * 106) conv/BN layers train), as bench/train_throughput.py builds and freezes it."""
    torch.manual_seed(seed)
    m = build_model(v["dense"], v["dropout"])
    return m, freeze(m, v["unfrozen"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=7)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                    help="bf16: forward under CPU autocast (training.precision: bf16)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    bf16 = args.precision == "bf16"
    norm = transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    train_tf = transforms.Compose([
        transforms.Grayscale(3), transforms.Resize((args.size, args.size)),
        transforms.RandomHorizontalFlip(),
        transforms.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2),
        transforms.ToTensor(), norm])
    val_tf = transforms.Compose([transforms.Grayscale(3), transforms.Resize((args.size, args.size)),
                                 transforms.ToTensor(), norm])
    train = torchvision.datasets.ImageFolder(f"{args.data}/train", train_tf)
    val = torchvision.datasets.ImageFolder(f"{args.data}/valid", val_tf)
    # Oversample the minority class of the training split only.
    counts = [train.targets.count(c) for c in (0, 1)]
    weights = [1.0 / counts[y] for y in train.targets]
    sampler = torch.utils.data.WeightedRandomSampler(weights, num_samples=2 * max(counts),
                                                     replacement=True)
    start = time.time()
    for v in VARIANTS:
        model, frozen_bn = make_model(v, seed=7)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = (torch.optim.Adam(params, lr=v["lr"]) if v["optimizer"] == "adam" else
               torch.optim.RMSprop(params, lr=v["lr"], alpha=0.9, eps=1e-7))
        loss_fn = nn.CrossEntropyLoss()
        for epoch in range(1, args.epochs + 1):
            t0 = time.time()
            model.train()
            for bn in frozen_bn:
                bn.eval()
            n = 0
            for x, y in torch.utils.data.DataLoader(train, batch_size=args.batch, sampler=sampler,
                                                    drop_last=True):
                opt.zero_grad(set_to_none=True)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    logits = model(x)
                loss_fn(logits.float(), y).backward()
                opt.step()
                n += len(y)
            model.eval()
            labels, scores = [], []
            with torch.no_grad():
                for x, y in torch.utils.data.DataLoader(val, batch_size=args.batch):
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                        logits = model(x)
                    scores += torch.softmax(logits.float(), 1)[:, 1].tolist()
                    labels += y.tolist()
            acc = sum((s >= 0.5) == (l == 1) for s, l in zip(scores, labels)) / len(labels)
            print(f"{v['name']} epoch {epoch}/{args.epochs}: val acc {acc:.3f} "
                  f"AUC {auc(labels, scores):.3f} | {time.time() - t0:.1f}s "
                  f"{n / (time.time() - t0):.1f} img/s", flush=True)
    print(f"total wall time: {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
