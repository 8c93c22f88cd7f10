"""The optimizer step alone: torch.optim.Adam single-tensor (PyTorch's CPU default), foreach and
fused, and RMSprop, over the week-7 Model 1's trainable parameters (torchvision ResNet50 with the
week-7 head; layer3 blocks 4-6, layer4 and the head: 20.4 M parameters), random gradients.
mammosweep's Adam runs the fused kernel (worker/fused_adam.h); docs/performance.md section 7.

    .venv/bin/python bench/adam_step.py [--threads 2] [--steps 10]
"""
import argparse
import time

import torch
import torchvision


def median_step_ms(optimizer, steps):
    for _ in range(3):
        optimizer.step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        optimizer.step()
        times.append(time.perf_counter() - t)
    times.sort()
    return 1000 * times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    m = torchvision.models.resnet50()
    m.fc = torch.nn.Sequential(torch.nn.Linear(2048, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 2))
    trainable = ("layer3.3", "layer3.4", "layer3.5", "layer4", "fc")
    params = [p for n, p in m.named_parameters() if n.startswith(trainable)]
    print(f"trainable parameters: {sum(p.numel() for p in params) / 1e6:.1f} M, {a.threads} threads")
    for p in params:
        p.grad = torch.randn_like(p)
    for name, kw in [("single tensor", {"foreach": False}), ("foreach", {"foreach": True}),
                     ("fused", {"fused": True})]:
        print(f"Adam, {name}: {median_step_ms(torch.optim.Adam(params, lr=1e-4, **kw), a.steps):.1f} ms")
    rms = torch.optim.RMSprop(params, lr=1e-4, alpha=0.9, eps=1e-7, foreach=False)
    print(f"RMSprop, single tensor: {median_step_ms(rms, a.steps):.1f} ms")


if __name__ == "__main__":
    main()
