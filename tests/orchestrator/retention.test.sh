#!/usr/bin/env bash
# Checkpoint retention (docs/sweep-spec.md, "checkpoints"), on real tiny sweeps:
#  1. keep_top_trials 1, keep best: when the sweep ends only the model of the week (read from
#     `leaderboard --format json`) has a trial folder, holding exactly its selected epoch's
#     checkpoint, rewritten as weights only (magic MSCKPW02); `export` and `evaluate` work;
#     `status` and `leaderboard` say which trials have weights; status's byte counts equal
#     the files' sizes (du -b).
#  2. keep_top_trials all: every trial keeps its best and last epochs' weights; `prune
#     --dry-run` with a stricter policy changes no byte; `prune` then applies it, and the
#     winner's export is byte-identical to the one made before pruning.
#  3. `prune` refuses while a sweep holds the store's writer lock.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/sweep_fixture.sh"
bin="$MAMMOSWEEP"
make_data
run_opts=(--cache-dir "$tmp/cache" --threads 2 --no-progress)

# ---- 1. keep the top trial only ---------------------------------------------------------------
write_spec "$tmp/top1.yaml" "checkpoints: {keep_top_trials: 1, keep: best}"
check "run top1" 0 "$bin" run "$tmp/top1.yaml" --out "$tmp/top1" "${run_opts[@]}"
expect_in "$tmp/out" "checkpoints: "
check "leaderboard json" 0 "$bin" leaderboard "$tmp/top1" --format json
cp "$tmp/out" "$tmp/top1.json"
check "status json" 0 "$bin" status "$tmp/top1" --format json
cp "$tmp/out" "$tmp/top1-status.json"
py "$tmp/top1.json" "$tmp/top1-status.json" "$tmp/top1" <<'PY'
import json, os, subprocess, sys
lb, st, d = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
win = lb["winner"]["id"]
epoch = next(r["epoch"] for r in lb["rows"] if r["id"] == win)
trials = sorted(os.listdir(os.path.join(d, "trials")))
assert trials == [win], ("only the winner keeps a folder", trials, win)
files = os.listdir(os.path.join(d, "trials", win))
assert files == ["epoch-%04d.ckpt" % epoch], (files, epoch)
path = os.path.join(d, "trials", win, files[0])
assert open(path, "rb").read(8) == b"MSCKPW02", "the kept checkpoint is not weights only"
rows = {r["id"]: r for r in lb["rows"]}
for tid, r in rows.items():
    assert r["weights"] == (str(epoch) if tid == win else "none"), (tid, r["weights"])
by = {t["id"]: t for t in st["trials"]}
for tid, t in by.items():
    size = os.path.getsize(path) if tid == win else 0
    assert t["disk_bytes"] == size, (tid, t["disk_bytes"], size)
    assert t["weights_epochs"] == ([epoch] if tid == win else []), t
    assert t["optimizer_state_epochs"] == [], t
du = int(subprocess.check_output(["du", "-sb", d]).split()[0])
dirs = sum(os.path.getsize(os.path.join(r, x)) for r, ds, _ in os.walk(d) for x in ds) + os.path.getsize(d)
assert st["disk"]["total_bytes"] == du - dirs, (st["disk"], du, dirs)  # du -b counts folders too
assert st["disk"]["trials_bytes"] == os.path.getsize(path)
assert 0 < st["disk"]["free_bytes"] <= st["disk"]["filesystem_bytes"], st["disk"]
print("top1: winner", win, "epoch", epoch, "kept,", len(by) - 1, "trials pruned")
PY
check "status table" 0 "$bin" status "$tmp/top1"
expect_in "$tmp/out" "weights (epochs)"
expect_in "$tmp/out" "free on the file system"
check "leaderboard md" 0 "$bin" leaderboard "$tmp/top1"
expect_in "$tmp/out" "weights (epochs)"
check "export after retention" 0 "$bin" export "$tmp/top1" --out "$tmp/model1"
check "evaluate after retention" 0 "$bin" evaluate "$tmp/top1" --threads 2
loser="$(python3 -c 'import json,sys; lb=json.load(open(sys.argv[1])); print([r["id"] for r in lb["rows"] if r["id"]!=lb["winner"]["id"] and r["rank"]][0])' "$tmp/top1.json")"
check "export of a pruned trial" 2 "$bin" export "$tmp/top1" --out "$tmp/x" --trial "$loser"
expect_in "$tmp/err" "checkpoints: policy"

# ---- 2. keep everything, then prune after the fact -------------------------------------------
write_spec "$tmp/all.yaml" "checkpoints: {keep_top_trials: all}"
check "run all" 0 "$bin" run "$tmp/all.yaml" --out "$tmp/all" "${run_opts[@]}"
check "leaderboard all" 0 "$bin" leaderboard "$tmp/all" --format json
cp "$tmp/out" "$tmp/all.json"
py "$tmp/all.json" "$tmp/all" <<'PY'
import json, os, sys
lb, d = json.load(open(sys.argv[1])), sys.argv[2]
for r in lb["rows"]:
    if r["rank"] is None:
        continue
    files = sorted(os.listdir(os.path.join(d, "trials", r["id"])))
    # best_and_last (the default keep): the selected epoch and the last one (2).
    want = sorted({"epoch-%04d.ckpt" % r["epoch"], "epoch-0002.ckpt"})
    assert files == want, (r["id"], files, want)
    for f in files:
        assert open(os.path.join(d, "trials", r["id"], f), "rb").read(8) == b"MSCKPW02", f
PY
check "export before prune" 0 "$bin" export "$tmp/all" --out "$tmp/before"
snapshot() { (cd "$tmp/all/trials" && find . -type f -exec md5sum {} + | sort); }
snapshot >"$tmp/files-before"
check "prune --dry-run" 0 "$bin" prune "$tmp/all" --dry-run --keep-top-trials 1 --keep best
expect_in "$tmp/out" "dry run: would free"
expect_in "$tmp/out" "remove every checkpoint"
snapshot >"$tmp/files-after-dry"
cmp -s "$tmp/files-before" "$tmp/files-after-dry" || fail "--dry-run changed files"
check "prune bad K" 2 "$bin" prune "$tmp/all" --keep-top-trials zero
expect_in "$tmp/err" "--keep-top-trials 'zero'"
check "prune bad keep" 2 "$bin" prune "$tmp/all" --keep newest
expect_in "$tmp/err" "--keep 'newest': expected best, last or best_and_last"

# 3. a sweep writing the folder holds the lock: prune refuses (the dry run still answers).
( exec 9>"$tmp/all/results.h5.lock"; flock -x 9; exec sleep 60 ) &   # sleep holds fd 9
holder=$!
wait_for 10 bash -c "! flock -n '$tmp/all/results.h5.lock' true" || fail "the lock was not taken"
check "prune while a writer runs" 2 "$bin" prune "$tmp/all" --keep-top-trials 1
expect_in "$tmp/err" "a sweep is writing this folder"
check "dry run while a writer runs" 0 "$bin" prune "$tmp/all" --dry-run --keep-top-trials 1
kill "$holder"; wait "$holder" 2>/dev/null

check "prune" 0 "$bin" prune "$tmp/all" --keep-top-trials 1 --keep best
expect_in "$tmp/out" "freed"
py "$tmp/all.json" "$tmp/all" <<'PY'
import json, os, sys
lb, d = json.load(open(sys.argv[1])), sys.argv[2]
win = lb["winner"]["id"]
epoch = next(r["epoch"] for r in lb["rows"] if r["id"] == win)
assert sorted(os.listdir(os.path.join(d, "trials"))) == [win]
assert os.listdir(os.path.join(d, "trials", win)) == ["epoch-%04d.ckpt" % epoch]
PY
check "export after prune" 0 "$bin" export "$tmp/all" --out "$tmp/after"
cmp "$tmp/before/model.safetensors" "$tmp/after/model.safetensors" ||
  fail "the exported weights changed with pruning"
check "prune again" 0 "$bin" prune "$tmp/all" --keep-top-trials 1 --keep best
expect_in "$tmp/out" "nothing to prune"
finish
