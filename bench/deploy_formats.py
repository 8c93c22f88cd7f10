#!/usr/bin/env python3
"""Size and single-image CPU latency of each format in an exported model folder.

    .venv/bin/python bench/deploy_formats.py MODEL_DIR IMAGE [--mammosweep BIN] [--repeats 20]

Prints one JSON line per measurement (docs/performance.md, "Deployment formats"):
  - every file listed in model.json's `formats`, with its size;
  - onnx: onnxruntime (CPU, 1 intra-op thread) in-process latency of one image (batch 1),
    median of --repeats runs after 3 warm-up runs, and the session load time;
  - safetensors: `mammosweep predict --threads 1` on one image, whole command (process start,
    model load, decode, forward), median of --repeats runs. LibTorch's in-process forward
    alone is not timed here.
The image is preprocessed for onnxruntime as predict does only when it is already
image_size square 8-bit gray (what `mammosweep synth --size S` writes): this is a latency
bench, the numbers' agreement is tested in tests/deploy/onnx_export.test.sh.
"""
import argparse, json, os, platform, statistics, subprocess, sys, time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("image")
    ap.add_argument("--mammosweep", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                         "orchestrator", "mammosweep"))
    ap.add_argument("--repeats", type=int, default=20)
    a = ap.parse_args()
    card = json.load(open(os.path.join(a.model_dir, "model.json")))
    common = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
              "loadavg_1m": os.getloadavg()[0], "image_size": card["preprocessing"]["image_size"]}
    for f in card.get("formats", []):
        print(json.dumps({**common, "what": "size", "format": f["format"], "file": f["file"],
                          "bytes": f["bytes"]}))

    size = card["preprocessing"]["image_size"]
    x = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
    onnx_path = os.path.join(a.model_dir, "model.onnx")
    if os.path.exists(onnx_path):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        t0 = time.perf_counter()
        sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        load = time.perf_counter() - t0
        for _ in range(3):
            sess.run(["p_malignant"], {"image": x})
        times = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            sess.run(["p_malignant"], {"image": x})
            times.append(time.perf_counter() - t0)
        print(json.dumps({**common, "what": "latency", "format": "onnx",
                          "runtime": f"onnxruntime {ort.__version__}, 1 thread, in-process",
                          "median_ms": 1e3 * statistics.median(times),
                          "min_ms": 1e3 * min(times), "repeats": a.repeats,
                          "session_load_ms": 1e3 * load}))

    times = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        subprocess.run([a.mammosweep, "predict", "--model", a.model_dir, "--threads", "1", a.image],
                       check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    print(json.dumps({**common, "what": "latency", "format": "safetensors",
                      "runtime": "mammosweep predict (LibTorch), 1 thread, whole command",
                      "median_ms": 1e3 * statistics.median(times), "min_ms": 1e3 * min(times),
                      "repeats": a.repeats}))


if __name__ == "__main__":
    sys.exit(main())
