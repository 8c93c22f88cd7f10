#!/usr/bin/env bash
# Checkpoint files (format version 2: docs/results-format.md, worker/checkpoint.h) as outside
# tools read them. A one-trial run is SIGKILLed in epoch 4, which leaves full checkpoints of
# at least epoch 2 and one other (epoch 3's may be still in writing, and the trainer keeps the
# last two and the best); then:
#  - each file's XXH3 (Python's xxhash) equals its header's, and its size the header's;
#  - the payload loads with the safetensors reference reader (safetensors.torch.load);
#  - its metadata names the format and the file's epoch;
#  - optimizer state ("o.*") exists exactly for the parameters that changed between two
#    epochs (the trainable ones), with their shapes, and one step count per file that is the
#    same multiple of the epoch in each (as many batches each epoch);
#  - the resumed run ends, and the checkpoint retention keeps is weights only: the same
#    parameter and buffer names, no optimizer state.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/sweep_fixture.sh"
"$MAMMOSWEEP_PYTHON" -c "import safetensors, xxhash" 2>/dev/null || {
  echo "SKIP: $MAMMOSWEEP_PYTHON has no safetensors/xxhash (scripts/setup installs them)"; exit 77; }
make_data
write_spec "$tmp/spec.yaml" "checkpoints: {keep_top_trials: 1, keep: last}"
sed -i 's/epochs: 2/epochs: 4/' "$tmp/spec.yaml"
opts=(--cache-dir "$tmp/cache" --threads 2 --no-progress)
MAMMOSWEEP_INJECT_FAILURE="0:A:4:1:kill" "$MAMMOSWEEP" train "$tmp/spec.yaml" --trial A \
  --out "$tmp/a" "${opts[@]}" >"$tmp/killed.log" 2>&1
rc=$?
[ "$rc" -eq 137 ] || { cat "$tmp/killed.log"; fail "the injected SIGKILL: expected exit 137, got $rc"; }
trial_dir=$(ls -d "$tmp"/a/trials/*/)
"$MAMMOSWEEP_PYTHON" - "$trial_dir" "$tmp/weights.json" <<'PY' || fail "full checkpoints"
import json, os, struct, sys
import safetensors.torch, torch, xxhash
d = sys.argv[1]
files = sorted(f for f in os.listdir(d) if f.endswith(".ckpt"))
assert "epoch-0002.ckpt" in files and len(files) >= 2 and "epoch-0004.ckpt" not in files, files
ck = {}
for f in files:
    raw = open(os.path.join(d, f), "rb").read()
    assert raw[:8] == b"MSCKPT02", (f, raw[:8])
    size, checksum = struct.unpack("<QQ", raw[8:24])
    payload = raw[24:]
    assert size == len(payload), (f, size, len(payload))
    assert xxhash.xxh3_64_intdigest(payload) == checksum, f
    tensors = safetensors.torch.load(payload)
    n = struct.unpack("<Q", payload[:8])[0]
    meta = json.loads(payload[8:8 + n])["__metadata__"]
    assert meta["format"] == "mammosweep checkpoint 2", meta
    assert int(meta["epoch"]) == int(f[6:10]), (f, meta)
    ck[int(meta["epoch"])] = tensors
first, last = min(ck), max(ck)
one, two = ck[first], ck[last]
assert one.keys() == two.keys()
params = {k[2:] for k in one if k.startswith("p.")}
assert params and any(k.startswith("b.") for k in one)
changed = {p for p in params if not torch.equal(one["p." + p], two["p." + p])}
with_state = {k[2:].rsplit(".", 1)[0] for k in one if k.startswith("o.")}
assert changed == with_state, (sorted(changed ^ with_state)[:5], len(changed), len(with_state))
assert 0 < len(changed) < len(params), "unfrozen_fraction 0.1: some parameters are frozen"
per_epoch = set()
for epoch, t in ck.items():
    for p in with_state:
        for field in ("exp_avg", "exp_avg_sq"):
            assert t["o.%s.%s" % (p, field)].shape == t["p." + p].shape, (p, field)
        step = int(t["o.%s.step" % p])
        assert step > 0 and step % epoch == 0, (epoch, p, step)
        per_epoch.add(step // epoch)
assert len(per_epoch) == 1, per_epoch
print("full checkpoints of epochs", sorted(ck), ":", len(params), "parameters,",
      len(with_state), "trainable,", per_epoch.pop(), "steps per epoch")
json.dump(sorted(k for k in two if not k.startswith("o.")), open(sys.argv[2], "w"))
PY
check "resumed train" 0 "$MAMMOSWEEP" train "$tmp/spec.yaml" --trial A --out "$tmp/a" "${opts[@]}"
"$MAMMOSWEEP_PYTHON" - "$trial_dir" "$tmp/weights.json" <<'PY' || fail "weights-only checkpoint"
import json, os, struct, sys
import safetensors.torch, xxhash
d = sys.argv[1]
files = sorted(f for f in os.listdir(d) if f.endswith(".ckpt"))
assert files == ["epoch-0004.ckpt"], files
raw = open(os.path.join(d, files[0]), "rb").read()
assert raw[:8] == b"MSCKPW02", raw[:8]
size, checksum = struct.unpack("<QQ", raw[8:24])
assert size == len(raw) - 24 and xxhash.xxh3_64_intdigest(raw[24:]) == checksum
names = sorted(safetensors.torch.load(raw[24:]).keys())
assert names == json.load(open(sys.argv[2])), "not the full file's weights"
print("weights only:", len(names), "tensors")
PY
finish
