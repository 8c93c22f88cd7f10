#!/usr/bin/env python3
"""Data pipeline throughput of the usual PIL + torchvision.transforms way: the Python
counterpart of bench/data_pipeline.cpp, over the same files.

    .venv/bin/python bench/data_pipeline.py [--data DIR] [--size 224] [--batch 16]
        [--threads 2] [--loader-epochs 4]

DIR must already hold the synthetic dataset written by build/bench/data_pipeline (it lists
DIR/**/*.png). Measurements (one JSON line each):
  decode:  Image.open(p).convert("RGB") -> Resize((size, size)) -> ToTensor(), every image,
           in this process (threads=1) and through a DataLoader with `threads` worker
           processes (batch `batch`).
  loader:  the in-memory equivalent of mammosweep's cached loader: all images preprocessed
           once into a uint8 [N, size, size, 3] tensor, then per batch (shuffled train split)
           per-sample RandomHorizontalFlip + ColorJitter(0.2, 0.2, 0.2) + Normalize (ImageNet
           mean/std), stacked; 1 intra-op thread, `loader-epochs` epochs after one untimed.
"""
import argparse
import glob
import json
import os
import time

import torch
from PIL import Image
from torchvision import transforms


class Files(torch.utils.data.Dataset):
    def __init__(self, paths, tf):
        self.paths, self.tf = paths, tf

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return self.tf(Image.open(self.paths[i]).convert("RGB"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/tmp/mammosweep-bench/synth640")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--loader-epochs", type=int, default=4)
    a = ap.parse_args()
    torch.set_num_threads(1)

    paths = sorted(glob.glob(os.path.join(a.data, "**", "*.png"), recursive=True))
    if not paths:
        raise SystemExit("data_pipeline.py: no *.png under %s (run build/bench/data_pipeline "
                         "first: it writes the dataset)" % a.data)
    tf = transforms.Compose([transforms.Resize((a.size, a.size)), transforms.ToTensor()])

    t0 = time.perf_counter()
    for p in paths:
        tf(Image.open(p).convert("RGB"))
    s = time.perf_counter() - t0
    print(json.dumps({"bench": "decode", "impl": "python", "images": len(paths),
                      "size": a.size, "threads": 1, "seconds": s, "img_per_s": len(paths) / s}),
          flush=True)

    if a.threads > 1:
        dl = torch.utils.data.DataLoader(Files(paths, tf), batch_size=a.batch,
                                         num_workers=a.threads)
        t0 = time.perf_counter()
        n = sum(b.shape[0] for b in dl)
        s = time.perf_counter() - t0
        print(json.dumps({"bench": "decode", "impl": "python", "images": n, "size": a.size,
                          "threads": a.threads, "seconds": s, "img_per_s": n / s,
                          "note": "DataLoader workers (includes worker start-up)"}),
              flush=True)

    # Cached (pre-decoded) uint8 images of the train split, then per-batch augmentation.
    train = [p for p in paths if os.sep + "train" + os.sep in p]
    to_u8 = transforms.Compose([transforms.Resize((a.size, a.size)), transforms.PILToTensor()])
    cache = torch.stack([to_u8(Image.open(p).convert("RGB")) for p in train])  # [N,3,S,S]
    aug = transforms.Compose([
        transforms.RandomHorizontalFlip(),
        transforms.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    g = torch.Generator().manual_seed(0)

    def epoch():
        order = torch.randperm(len(train), generator=g)
        n = 0
        for b in range(len(train) // a.batch):  # drop_last, as mammosweep's train loader
            idx = order[b * a.batch:(b + 1) * a.batch]
            x = cache[idx].float().div_(255)
            x = torch.stack([aug(img) for img in x])
            n += x.shape[0]
        return n

    epoch()
    t0 = time.perf_counter()
    n = sum(epoch() for _ in range(a.loader_epochs))
    s = time.perf_counter() - t0
    print(json.dumps({"bench": "loader", "impl": "python", "images": n, "size": a.size,
                      "batch": a.batch, "augment": "hflip+bcs0.2", "seconds": s,
                      "img_per_s": n / s}), flush=True)


if __name__ == "__main__":
    main()
