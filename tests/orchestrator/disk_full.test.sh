#!/usr/bin/env bash
# A full disk mid-sweep is a clean, resumable stop (docs/reliability.md): the sweep writes to
# a size-limited tmpfs that holds the first checkpoints but not all of them. Checked:
#  - the run exits 3 (resumable) and says "disk full" and how much space it needs;
#  - the trial whose checkpoint did not fit is `running` (resumable), not failed, and no trial
#    is failed;
#  - after the tmpfs is grown (remount), `run --resume` finishes, and every trial's epochs are
#    exactly those of an uninterrupted run on an ordinary disk (no epoch lost or changed);
#  - the same under mpirun (a coordinator and two workers): the worker's Failed{disk_full}.
# Needs permission to mount a tmpfs (root here); otherwise it is skipped (exit 77) and says why.
set -uo pipefail
# In a private mount namespace (where unshare works) the tmpfs disappears with the test even
# when ctest kills it on a timeout, before the EXIT trap can unmount it.
if [ -z "${MAMMOSWEEP_MOUNT_NS:-}" ] && unshare -m true 2>/dev/null; then
  MAMMOSWEEP_MOUNT_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
source "$(dirname "${BASH_SOURCE[0]}")/sweep_fixture.sh"
bin="$MAMMOSWEEP"
mnt="$tmp/small"
mkdir -p "$mnt"
if ! err=$(mount -t tmpfs -o size=1m tmpfs "$mnt" 2>&1); then
  echo "SKIP: cannot mount a size-limited tmpfs here: $err"
  exit 77
fi
trap 'umount "$mnt" 2>/dev/null; rm -rf "$tmp"' EXIT
umount "$mnt"
make_data
cat >"$tmp/spec.yaml" <<YAML
name: full-disk
seed: 3
method: variants
data: {root: $tmp/data, image_size: 32}
training: {epochs: 2, batch_size: 8, dense_units: 16, dropout: 0.2, unfrozen_fraction: 0.1}
checkpoints: {keep_top_trials: all}
resources: {lend_idle_threads: false}   # compared with a one-process run at full precision
variants:
  - {name: A, optimizer: adam, lr: 1.0e-3}
  - {name: B, optimizer: sgd, lr: 1.0e-2}
YAML
run_opts=(--cache-dir "$tmp/cache" --threads 2 --no-progress)

check "reference run" 0 "$bin" run "$tmp/spec.yaml" --out "$tmp/ref" "${run_opts[@]}"
epochs_of "$tmp/ref/results.h5" >"$tmp/ref.txt"
[ "$(wc -l <"$tmp/ref.txt")" -eq 4 ] || fail "the reference run has $(wc -l <"$tmp/ref.txt") epoch rows, expected 4"
# The reference kept every trial's weights (weights-only checkpoints, W bytes). A full
# checkpoint (weights + optimizer state) is larger than W but well under 2.5 W with these
# trials' few trainable layers, so a tmpfs of 2.5 W holds the first checkpoint but not the
# sweep's: A's two epochs, or A's kept weights plus B's first checkpoint, do not fit.
w=$(stat -c %s "$tmp"/ref/trials/*/epoch-0002.ckpt | sort -n | tail -1)
echo "a weights-only checkpoint: $w bytes"
size=$(( w * 5 / 2 / 1024 ))k
run_case() {  # NAME COMMAND-PREFIX...: the full-disk scenario, then the resume.
  local name=$1; shift
  mount -t tmpfs -o size="$size" tmpfs "$mnt" || { fail "$name: mount"; return; }
  check "$name: run into a full disk" 3 "$@" "$bin" run "$tmp/spec.yaml" --out "$mnt/sweep" "${run_opts[@]}"
  expect_in "$tmp/out" "warning: this sweep may need"
  expect_in "$tmp/out" "disk full: "
  expect_in "$tmp/out" "Free at least"
  expect_in "$tmp/out" "--resume"
  check "$name: status" 0 "$bin" status "$mnt/sweep" --format json
  py "$tmp/out" <<'PY'
import json, sys
st = json.load(open(sys.argv[1]))
statuses = [t["status"] for t in st["trials"]]
assert "failed" not in statuses, statuses
assert "running" in statuses, statuses      # the trial whose checkpoint did not fit
assert all(t["reason"] == "" or "disk" not in t["reason"] for t in st["trials"]), st["trials"]
print("after the full disk:", statuses)
PY
  mount -o remount,size=$(( w * 16 / 1024 ))k "$mnt" || { fail "$name: remount"; return; }
  check "$name: resume" 0 "$@" "$bin" run "$tmp/spec.yaml" --out "$mnt/sweep" --resume "${run_opts[@]}"
  epochs_of "$mnt/sweep/results.h5" >"$tmp/$name.txt"
  cmp -s "$tmp/ref.txt" "$tmp/$name.txt" ||
    { fail "$name: epochs differ from the uninterrupted run"; diff "$tmp/ref.txt" "$tmp/$name.txt" | head; }
  check "$name: status after resume" 0 "$bin" status "$mnt/sweep" --format json
  py "$tmp/out" <<'PY'
import json, sys
st = json.load(open(sys.argv[1]))
assert all(t["status"] == "done" for t in st["trials"]), [t["status"] for t in st["trials"]]
PY
  umount "$mnt"
}

run_case local
run_case mpi "$MPIEXEC" -n 3
finish
