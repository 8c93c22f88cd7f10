#!/usr/bin/env python3
"""TF Lite for `mammosweep export --format tflite` (docs/export-and-predict.md, "TF Lite").

Runs in the deploy venv (`scripts/setup --with-deploy`), started by
orchestrator/tflite_format.cpp:

    python deploy/tflite_convert.py JOB.json RESULT.json

JOB.json (written by the C++ tool):
    {"onnx": "MODEL/model.onnx", "out_dir": "MODEL", "work_dir": "MODEL/.tflite-work",
     "image_size": S, "latency_runs": N,
     "calibration": {"split": "train", "pixels": "train.u8", "paths": [...]},
     "eval": [{"split": "val", "pixels": "val.u8", "paths": [...]}, ...]}
A pixels file holds len(paths) images as uint8 [n, S, S, 3], RGB: predict's preprocessing
(worker::Predictor::preprocess_file) before the division by 255.

It converts model.onnx at batch 1: onnx2tf builds the TensorFlow graph from the ONNX graph,
and TensorFlow's TFLiteConverter writes (TF Lite builtin ops only)
    MODEL/model.tflite       float32 input [1, S, S, 3] (NHWC, pixel / 255), float32 outputs
    MODEL/model-int8.tflite  full-integer int8: int8 input, int8 outputs, int8 ops, calibrated
                             on the calibration images, which must be the TRAINING split's
both with one signature, `serving_default`, named as the ONNX graph is (input `image`,
outputs `probabilities` and `p_malignant`). Then it runs both with the LiteRT interpreter
(ai-edge-litert) through that signature on every eval image, times a single-image run of each
(and of model.onnx under onnxruntime), and writes RESULT.json: the probabilities per model and
split, sizes, input/output quantisation, latencies, versions.

Exit codes: 0 done; 2 a bad job (calibration not from the training split, a calibration image
that is also an eval image, a missing or short file); 3 the deploy venv lacks a package.
"""
import json
import os
import platform
import shutil
import statistics
import sys
import time

INSTALL = "scripts/setup --with-deploy"
SAMPLE = "calibration_image_sample_data_20x128x128x3_float32.npy"  # onnx2tf's fixed name


class JobError(Exception):
    pass


def check_job(job):
    """The split rules, before anything is loaded: calibrate on training images only."""
    cal = job["calibration"]
    if cal.get("split") != "train":
        raise JobError(f"calibration images must come from the training split only, not "
                       f"'{cal.get('split')}' (validation and test stay unseen by the quantiser)")
    if not cal["paths"]:
        raise JobError("no calibration image: the training split is empty")
    seen = set(cal["paths"])
    for ev in job["eval"]:
        if ev["split"] not in ("val", "test"):
            raise JobError(f"eval split '{ev['split']}' is neither val nor test")
        both = seen.intersection(ev["paths"])
        if both:
            raise JobError(f"{sorted(both)[0]} is a calibration image and a {ev['split']} "
                           f"image: calibration must not see the images it is scored on")
    for path in [job["onnx"]]:
        if not os.path.isfile(path):
            raise JobError(f"{path}: missing (the ONNX graph the TF Lite files are made from)")


def read_pixels(entry, size):
    import numpy as np
    n = len(entry["paths"])
    want = n * size * size * 3
    have = os.path.getsize(entry["pixels"]) if os.path.isfile(entry["pixels"]) else -1
    if have != want:
        raise JobError(f"{entry['pixels']}: {have} bytes, expected {want} ({n} images of "
                       f"{size}x{size}x3)")
    return np.fromfile(entry["pixels"], dtype=np.uint8).reshape(n, size, size, 3)


def relu_before_maxpool(path):
    """Zero padding before a MaxPool equals -inf padding only when its input is >= 0."""
    import onnx
    graph = onnx.load(path, load_external_data=False).graph
    producer = {out: node.op_type for node in graph.node for out in node.output}
    for node in graph.node:
        if node.op_type == "MaxPool" and producer.get(node.input[0]) != "Relu":
            raise RuntimeError(f"{path}: MaxPool {node.name} does not follow a Relu: its zero "
                               f"padding in TF Lite would not be exact")


def log(what):
    print(f"tflite_convert: {time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)


def convert(job, calib_u8):
    """onnx2tf's graph at batch 1, converted twice by TensorFlow's TFLiteConverter; returns the
    (float32, int8) files inside the work folder."""
    import numpy as np
    import onnx2tf
    import tensorflow as tf
    work = os.path.abspath(job["work_dir"])
    os.makedirs(work, exist_ok=True)
    # onnxsim, which onnx2tf runs by name, rewrites its input in place: give it a copy.
    onnx_copy = os.path.join(work, "model.onnx")
    shutil.copyfile(job["onnx"], onnx_copy)
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    os.chdir(work)
    calib = calib_u8.astype(np.float32) / 255.0
    # With a fixed batch, onnx2tf compares ONNX and TF outputs on sample images that it
    # downloads unless SAMPLE is in the working folder: give it training images.
    np.save(SAMPLE, tf.image.resize(calib[:20], (128, 128)).numpy())
    s = job["image_size"]
    # onnx2tf builds the TensorFlow graph (NCHW -> NHWC) and returns it as a Keras model;
    # disable_model_save skips its SavedModel export, which takes minutes for this graph.
    # output_integer_quantized_tflite makes it pad MaxPool with 0 instead of the float minimum
    # (onnx2tf issue 444: the minimum wrecks the int8 scale of the stem); exact here, as
    # every MaxPool input is a ReLU output (>= 0), checked by relu_before_maxpool.
    relu_before_maxpool(onnx_copy)
    np.save(os.path.join(work, "calibration.npy"), calib)
    model = onnx2tf.convert(
        input_onnx_file_path=onnx_copy,
        output_folder_path=os.path.join(work, "onnx2tf"),
        overwrite_input_shape=[f"image:1,3,{s},{s}"],  # the dynamic batch does not convert
        output_integer_quantized_tflite=True,
        custom_input_op_name_np_data_path=[
            ["image", os.path.join(work, "calibration.npy"), [[[[0.0, 0.0, 0.0]]]],
             [[[[1.0, 1.0, 1.0]]]]]],
        disable_model_save=True,
        verbosity="error",
    )
    log("onnx2tf built the TensorFlow graph")
    by_shape = {tuple(t.shape): i for i, t in enumerate(model.outputs)}

    @tf.function(input_signature=[tf.TensorSpec([1, s, s, 3], tf.float32, name="image")])
    def serve(image):
        out = model(image)
        return {"probabilities": out[by_shape[(1, 2)]], "p_malignant": out[by_shape[(1,)]]}

    # Frozen once here (the variables become constants): handing the converter the Keras
    # model instead makes each conversion take minutes. Freezing flattens the outputs, so a
    # second function names them again for the signature.
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
    frozen = convert_variables_to_constants_v2(serve.get_concrete_function())

    @tf.function(input_signature=[tf.TensorSpec([1, s, s, 3], tf.float32, name="image")])
    def named(image):
        out = {tuple(t.shape): t for t in frozen(image)}
        return {"probabilities": out[(1, 2)], "p_malignant": out[(1,)]}

    def tflite(int8):
        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [named.get_concrete_function()], tf.Module())
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no TF ops
        if int8:  # full integer: int8 ops, int8 input and output
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
            # The graph normalises itself: calibration images go in as the input does, pixel / 255.
            converter.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
        log(f"converting ({'int8' if int8 else 'float32'})")
        path = os.path.join(work, "model-int8.tflite" if int8 else "model.tflite")
        with open(path, "wb") as f:
            f.write(converter.convert())
        return path

    return tflite(False), tflite(True)


def publish(src, dst):
    """Copies src to dst atomically (the model folder never holds half a file)."""
    if not os.path.isfile(src):
        raise RuntimeError(f"the converter did not write {src}")
    tmp = dst + ".tmp"
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def tensor_info(d, name):
    scale, zero = d["quantization"]
    return {"name": name, "dtype": d["dtype"].__name__, "shape": [int(v) for v in d["shape"]],
            "scale": float(scale), "zero_point": int(zero)}


def litert_scores(path, images_u8, runs):
    """p_malignant for each image (batch 1), and the median single-image invoke time."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=path, num_threads=1)
    runner = it.get_signature_runner("serving_default")
    inp = runner.get_input_details()["image"]
    outs = runner.get_output_details()
    if "p_malignant" not in outs:
        raise RuntimeError(f"{path}: no output named p_malignant (outputs: {sorted(outs)})")
    out = outs["p_malignant"]

    def run(u8):
        x = u8[None].astype(np.float32) / 255.0
        if inp["dtype"] == np.int8:
            scale, zero = inp["quantization"]
            x = np.clip(np.round(x / scale) + zero, -128, 127).astype(np.int8)
        y = runner(image=x)["p_malignant"].reshape(-1)[0]
        if out["dtype"] == np.int8:
            scale, zero = out["quantization"]
            return (float(y) - zero) * scale
        return float(y)

    scores = {split: [run(u8) for u8 in imgs] for split, imgs in images_u8.items()}
    first = next(iter(images_u8.values()))[0]
    times = []
    for i in range(runs + 3):
        t = time.perf_counter()
        run(first)
        if i >= 3:  # the first runs warm caches up
            times.append((time.perf_counter() - t) * 1e3)
    return scores, statistics.median(times), tensor_info(inp, "image"), tensor_info(out, "p_malignant")


def onnx_latency(path, u8, runs):
    import numpy as np
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    x = (u8[None].astype(np.float32) / 255.0).transpose(0, 3, 1, 2).copy()
    times = []
    for i in range(runs + 3):
        t = time.perf_counter()
        sess.run(["p_malignant"], {"image": x})
        if i >= 3:
            times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up noise
    if len(argv) != 3:
        print(f"usage: {argv[0]} JOB.json RESULT.json", file=sys.stderr)
        return 2
    job = json.load(open(argv[1]))
    result_path = os.path.abspath(argv[2])  # convert() changes the working folder
    try:
        check_job(job)
    except JobError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        import ai_edge_litert  # noqa: F401
        import numpy  # noqa: F401
        import onnx2tf  # noqa: F401
        import onnxruntime  # noqa: F401
        import tensorflow  # noqa: F401
    except ImportError as e:
        print(f"error: the TF Lite converter is not installed in {sys.prefix} ({e}); run "
              f"`{INSTALL}`", file=sys.stderr)
        return 3
    from importlib.metadata import version
    s = job["image_size"]
    try:
        calib = read_pixels(job["calibration"], s)
        evals = {ev["split"]: read_pixels(ev, s) for ev in job["eval"]}
    except JobError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out_dir = os.path.abspath(job["out_dir"])
    onnx_path = os.path.abspath(job["onnx"])
    start = time.perf_counter()
    fp32, int8 = convert(job, calib)
    seconds = time.perf_counter() - start
    files = {"tflite": os.path.join(out_dir, "model.tflite"),
             "tflite-int8": os.path.join(out_dir, "model-int8.tflite")}
    publish(fp32, files["tflite"])
    publish(int8, files["tflite-int8"])
    runs = int(job.get("latency_runs", 30))
    models = {}
    for fmt, path in files.items():
        scores, ms, inp, out = litert_scores(path, evals, runs)
        models[fmt] = {"file": os.path.basename(path), "bytes": os.path.getsize(path),
                       "input": inp, "output": out, "latency_ms": ms, "p": scores}
    models["onnx"] = {"latency_ms": onnx_latency(onnx_path, next(iter(evals.values()))[0], runs)}
    result = {
        "converter": {p: version(p) for p in ("onnx2tf", "tensorflow", "ai-edge-litert",
                                              "onnxruntime")},
        "conversion_s": seconds,
        "calibration": {"split": "train", "images": int(calib.shape[0])},
        "latency": {"runs": runs, "threads": 1, "cpu": cpu_name(),
                    "load_average": list(os.getloadavg())},
        "models": models,
    }
    with open(result_path, "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
