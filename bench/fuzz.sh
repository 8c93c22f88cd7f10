#!/usr/bin/env bash
# Fuzzes every parser of outside input with libFuzzer (docs/reliability.md, "Fuzzing").
#   bench/fuzz.sh SECONDS [TARGET...]      (targets: fuzz/*_fuzz.cpp; default all)
# Builds build-fuzz/ (or $BUILD_DIR) with clang, ASan and UBSan through
# scripts/build, then runs each target for SECONDS, one after the other, on one core, at
# nice 19. Each target starts from tests/fuzz/<name>/ (seeds + regressions) and its kept
# corpus; findings (crash-*, timeout-*, oom-*, leak-*) land in
# build-fuzz/fuzz-out/<name>/findings/ and the seconds and executions per target in
# build-fuzz/fuzz-out/summary.tsv. A fixed finding's input goes to tests/fuzz/<name>/ as
# crash-<what>, where ctest's fuzz.<name> replays it in the normal build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:?usage: bench/fuzz.sh SECONDS [TARGET...]}"
shift
build="${BUILD_DIR:-$root/build-fuzz}"
if (($#)); then targets=("$@"); else
  targets=()
  for f in "$root"/fuzz/*_fuzz.cpp; do n="$(basename "$f")"; targets+=("${n%_fuzz.cpp}"); done
fi

out="$build/fuzz-out"
mkdir -p "$out"
# `dicom` fuzzes GDCM in process, where its assertions still abort; each finding is then
# replayed through dicom_isolated, the product's path (a helper process), which must contain it.
build_targets="$(printf 'fuzz_%s ' "${targets[@]}")"
[[ " ${targets[*]} " == *" dicom "* ]] && build_targets+=" fuzz_dicom_isolated"
# SKIP_BUILD=1 runs what is already built (as in bench/run_all.sh).
[ -n "${SKIP_BUILD:-}" ] || MAMMOSWEEP_BUILD_DIR="$build" MAMMOSWEEP_TARGETS="$build_targets" \
  nice -n 19 "$root/scripts/build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DMAMMOSWEEP_FUZZ=ON -DMAMMOSWEEP_BUILD_TESTS=OFF -DMAMMOSWEEP_BUILD_BENCH=OFF \
  -DMAMMOSWEEP_NCCL=OFF >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }

# LibTorch, HDF5 and GDCM are not instrumented; see docs/reliability.md for these options.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:malloc_context_size=20}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/fuzz/lsan.supp}"
[ -f "$out/summary.tsv" ] || printf 'date\ttarget\tseconds\texecutions\tfindings\n' >"$out/summary.tsv"
for t in "${targets[@]}"; do
  dir="$out/$t"
  mkdir -p "$dir/corpus" "$dir/findings"
  # dicom_isolated reads what dicom reads: it shares its seeds and dictionary.
  base="${t%_isolated}"
  seeds=("$root/tests/fuzz/$t"); [ "$base" != "$t" ] && seeds+=("$root/tests/fuzz/$base")
  dict=(); [ -f "$root/fuzz/$base.dict" ] && dict=(-dict="$root/fuzz/$base.dict")
  echo "fuzz: $t for ${seconds}s (log: $dir/log.txt)"
  start=$(date +%s)
  touch "$dir/.start"
  # -fork=1: one worker process at a time; a crash, timeout or OOM is saved and fuzzing
  # goes on, so one finding does not end the target's time.
  nice -n 19 "$build/fuzz/fuzz_$t" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
    -ignore_ooms=1 -timeout=25 -rss_limit_mb=4096 -max_total_time="$seconds" \
    -artifact_prefix="$dir/findings/" "${dict[@]}" "$dir/corpus" "${seeds[@]}" \
    >"$dir/log.txt" 2>&1 || true
  elapsed=$(($(date +%s) - start))
  execs=$(grep -oE '^#[0-9]+' "$dir/log.txt" | tail -1 | tr -d '#')
  found=$(find "$dir/findings" -type f -newer "$dir/.start" | wc -l)  # new in this run
  printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$elapsed" "${execs:-0}" "$found" \
    | tee -a "$out/summary.tsv"
  if [ "$t" = dicom ]; then
    escaped=0
    while IFS= read -r f; do
      "$build/fuzz/fuzz_dicom_isolated" "$f" >>"$dir/contained.log" 2>&1 \
        || { escaped=$((escaped + 1)); echo "fuzz: dicom: $f is not contained by the helper"; }
    done < <(find "$dir/findings" -type f -newer "$dir/.start")
    echo "fuzz: dicom: $found findings replayed through dicom_isolated, $escaped not contained"
  fi
done
