#!/usr/bin/env bash
# How the cost of a sweep's bookkeeping grows with its size (issue 13, "Scale";
# docs/performance.md section 13). For each size N it writes a finished random sweep of N
# trials x EPOCHS epochs through the real coordinator and results.h5 with a no-op trainer
# (build/bench/bayes_dispatch --method random), then times, as a user runs them on the
# finished sweep, `status`, `leaderboard` (markdown, the default 1,000 bootstrap resamples)
# and `plot`: the median of REPEATS runs each. The dispatch figures come from bayes_dispatch
# itself; the resume start (open_for_append + coordinator replay, in a fresh process) from
# bayes_dispatch --resume-only, median of REPEATS.
#   bench/sweep_scale.sh [EPOCHS=20] [REPEATS=3] [SIZES="10 100 1000"]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MAMMOSWEEP_BUILD_DIR:-$root/build}"
epochs="${1:-20}"; repeats="${2:-3}"; sizes="${3:-10 100 1000}"
bin="$build/orchestrator/mammosweep"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT

# median_seconds CMD...: the median wall time of `repeats` runs, in seconds.
median_seconds() {
  local times=() t0 t1
  for _ in $(seq "$repeats"); do
    t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; return 1; }
    t1=$(date +%s.%N); times+=("$(echo "$t1 - $t0" | bc)")
  done
  printf '%s\n' "${times[@]}" | sort -g | sed -n "$(( (repeats + 1) / 2 ))p"
}

echo "$(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $epochs epochs per trial"
printf '%8s %10s %14s %12s %10s %10s %10s %12s\n' trials "h5 MB" "dispatch ms/trial" "resume ms" \
  "status s" "leader s" "plot s" "sweep s"
for n in $sizes; do
  out="$work/n$n"
  t0=$(date +%s.%N)
  "$build/bench/bayes_dispatch" --method random --out "$out" --trials "$n" --epochs "$epochs" \
    --block "$n" >/dev/null 2>"$work/bd.err"
  t1=$(date +%s.%N)
  row="$(awk -v n="$n" '$1 == n {print $2 + $3}' "$work/bd.err")"   # next_job + epochs/finish
  # The resume start in a fresh process, as `run --resume` pays it: median of `repeats`.
  resume="$(for _ in $(seq "$repeats"); do
              "$build/bench/bayes_dispatch" --method random --out "$out" --trials "$n" \
                --epochs "$epochs" --resume-only 2>&1 | sed -n 's/.*resume start at [0-9]* trials: \([0-9]*\) ms/\1/p'
            done | sort -g | sed -n "$(( (repeats + 1) / 2 ))p")"
  mb="$(awk -v n="$n" '$1 == n {print $4}' "$work/bd.err")"
  st="$(median_seconds "$bin" status "$out")"
  lb="$(median_seconds "$bin" leaderboard "$out")"
  pl="$(median_seconds "$bin" plot "$out" --out "$work/plots")"
  printf '%8s %10s %14s %12s %10.2f %10.2f %10.2f %12.1f\n' "$n" "$mb" "$row" "$resume" "$st" "$lb" \
    "$pl" "$(echo "$t1 - $t0" | bc)"
done
