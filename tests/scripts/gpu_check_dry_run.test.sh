#!/usr/bin/env bash
# scripts/gpu-check's dry run on a machine without CUDA (GPU_CHECK_QUICK=1: tiny data): every
# CPU part runs for real and passes, every CUDA part is reported as skipped with "no CUDA
# device", and report.md shows each line of results.jsonl. No timing is asserted. On a
# machine WITH CUDA this test skips: the real check is `scripts/gpu-check OUTDIR` there.
set -uo pipefail
bin="${MAMMOSWEEP:?}"; src="${MAMMOSWEEP_SOURCE_DIR:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
# shellcheck source=../shell_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../shell_helpers.sh"
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  echo "SKIP: a GPU is present; run scripts/gpu-check there"; exit 0
fi
build="$(cd "$(dirname "$bin")/.." && pwd)"
GPU_CHECK_QUICK=1 GPU_CHECK_NO_BUNDLE=1 MAMMOSWEEP_BUILD_DIR="$build" "$src/scripts/gpu-check" "$tmp/report" \
  >"$tmp/gpu-check.log" 2>&1
rc=$?
[ "$rc" -eq 0 ] || { fail "gpu-check exited $rc"; cat "$tmp/gpu-check.log"; }
[ -s "$tmp/report/report.md" ] || fail "no report.md"
[ -s "$tmp/report/logs.tar.gz" ] || fail "no logs.tar.gz"
py "$tmp/report/results.jsonl" "$tmp/report/report.md" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {r["name"]: r for r in rows}
errors = []
for r in rows:
    if set(r) != {"name", "status", "reason", "numbers"} or r["status"] not in ("pass", "fail", "skip"):
        errors.append(f"malformed line {r}")
    if r["status"] == "fail":
        errors.append(f"failed on CPU: {r}")
# CPU parts, run for real.
for name in ("environment", "placement_tests", "throughput_dry_run_cpu", "pipeline_dry_run_cpu",
             "sweep_kill_resume_rank_export"):
    if by.get(name, {}).get("status") != "pass":
        errors.append(f"{name} should pass on CPU: {by.get(name)}")
if by.get("placement_tests", {}).get("numbers", {}).get("passed", 0) < 4:
    errors.append("placement_tests ran fewer than the 4 GpuPlacement/Placement tests")
if by["sweep_kill_resume_rank_export"]["numbers"].get("first_exit") != 3:
    errors.append("the first sweep run was not stopped by SIGUSR1 (exit 3)")
# CUDA parts: skipped, visibly, with the reason.
for name in ("week7_cuda_vs_cpu", "throughput_resnet50_224_bf16", "pipeline_loader_vs_synthetic",
             "trials_per_gpu", "nccl_1_rank", "cuda_trainer_tests", "loader_pinned_tests",
             "nccl_multi_rank"):
    r = by.get(name)
    if not r or r["status"] != "skip":
        errors.append(f"{name} should be skipped: {r}")
    elif "no CUDA device" not in r["reason"] and "NCCL refuses" not in r["reason"]:
        errors.append(f"{name} skipped without its reason: {r['reason']}")
# cuda_device_tests: the share check runs on CPU; its CUDA tests are listed as skipped.
r = by.get("cuda_device_tests", {})
if r.get("status") != "pass" or "no CUDA device" not in r.get("reason", ""):
    errors.append(f"cuda_device_tests: {r}")
report = open(sys.argv[2]).read()
for r in rows:
    if f"| {r['name']} | {r['status'].upper() if r['status'] != 'pass' else 'pass'} |" not in report:
        errors.append(f"{r['name']} missing from report.md")
if "SKIP" not in report or "no CUDA device" not in report:
    errors.append("report.md does not show the skipped CUDA parts")
for e in errors: print("FAIL:", e)
sys.exit(1 if errors else 0)
PY
[ "$fails" -eq 0 ] || cat "$tmp/gpu-check.log"
finish
