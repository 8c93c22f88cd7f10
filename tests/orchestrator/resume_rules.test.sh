#!/usr/bin/env bash
# Resume rules in one process: an existing DIR needs --resume; a finished sweep resumes to
# a no-op; a changed spec is refused with a readable diff unless --allow-spec-change, which
# keeps the recorded trials and appends only the new ones; failed trials are retried only
# with --retry-failed.
set -uo pipefail
source "$(dirname "$0")/sweep_fixture.sh"
make_data
write_spec "$tmp/spec.yaml"
sed -i 's/epochs: 2,/epochs: 1,/' "$tmp/spec.yaml"
common=(--cache-dir "$tmp/cache" --threads 1 --no-progress)
run() { "$MAMMOSWEEP" run "$@" "${common[@]}" >"$tmp/log" 2>&1; }

run "$tmp/spec.yaml" --out "$tmp/out" || { cat "$tmp/log"; fail "first run"; }
epochs_of "$tmp/out/results.h5" >"$tmp/before"

run "$tmp/spec.yaml" --out "$tmp/out"
[ $? -eq 2 ] || fail "an existing sweep without --resume should exit 2"
grep -q "add --resume" "$tmp/log" || fail "no hint to add --resume"

run "$tmp/spec.yaml" --out "$tmp/out" --resume || fail "resume of a finished sweep"
grep -q "attempt" "$tmp/log" && fail "a finished sweep re-ran a trial: $(grep attempt "$tmp/log")"
diff "$tmp/before" <(epochs_of "$tmp/out/results.h5") >/dev/null || fail "resume changed the epochs"

# Change one variant (B's lr) and add nothing else.
sed 's/lr: 1.0e-2}/lr: 2.0e-2}/' "$tmp/spec.yaml" >"$tmp/changed.yaml"
cp "$tmp/spec.yaml" "$tmp/orig.yaml"; cp "$tmp/changed.yaml" "$tmp/spec.yaml"
run "$tmp/spec.yaml" --out "$tmp/out" --resume
[ $? -eq 2 ] || fail "a changed spec should be refused with exit 2"
grep -q "the spec changed since this sweep started" "$tmp/log" || fail "no refusal message"
grep -q -- "- .*lr: 1.0e-2}" "$tmp/log" && grep -q -- "+ .*lr: 2.0e-2}" "$tmp/log" \
  || fail "the refusal shows no readable diff: $(cat "$tmp/log")"

run "$tmp/spec.yaml" --out "$tmp/out" --resume --allow-spec-change || { cat "$tmp/log"; fail "allow-spec-change"; }
grep -q "keeping 3 recorded trial(s), adding 1 new" "$tmp/log" || fail "expected 1 new trial: $(grep spec "$tmp/log")"
[ "$(grep -c 'attempt 1' "$tmp/log")" -eq 1 ] || fail "only the new trial should run"
[ "$(status_of "$tmp/out" | grep -c ' done$')" -eq 4 ] || fail "expected 4 done trials"
epochs_of "$tmp/out/results.h5" | grep -F -x -f "$tmp/before" | wc -l | grep -qx 3 \
  || fail "the recorded trials' epochs changed"

# A failed trial stays failed on resume unless --retry-failed.
cp "$tmp/orig.yaml" "$tmp/f.yaml"
sed -i 's/  - {name: C, optimizer: rmsprop, lr: 1.0e-4, dropout: 0.4}/  - {name: C, optimizer: sgd, lr: 1.0e+12, unfrozen_fraction: 1.0}/' "$tmp/f.yaml"
run "$tmp/f.yaml" --out "$tmp/f" || fail "run with a failing trial"
status_of "$tmp/f" | grep -qx "C failed" || fail "C should have failed"
run "$tmp/f.yaml" --out "$tmp/f" --resume || fail "resume"
grep -q "attempt" "$tmp/log" && fail "a failed trial was retried without --retry-failed"
run "$tmp/f.yaml" --out "$tmp/f" --resume --retry-failed
grep -q "trial C (.*) attempt 2" "$tmp/log" || fail "--retry-failed did not retry C: $(cat "$tmp/log")"
echo "$fails failure(s)"
exit $((fails > 0))
