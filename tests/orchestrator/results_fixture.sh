# shellcheck shell=bash
# Sourced by the result-command tests: the scratch folder $tmp, the shell helpers, and the
# fixture sweep $sweep whose numbers tests/orchestrator/results_fixture_test.cpp chooses by
# hand and explains. Needs MAMMOSWEEP (ctest sets it); sets bin, build and sweep.
bin="${MAMMOSWEEP:?}"
build="$(cd "$(dirname "$bin")/.." && pwd)"   # .../build/orchestrator/mammosweep -> .../build
fixture="$build/tests/orchestrator_results_fixture_test"
[ -x "$fixture" ] || { echo "FAIL: $fixture not built (cmake --build BUILD --target all_tests)"; exit 1; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
# shellcheck source=../shell_helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../shell_helpers.sh"
sweep="$tmp/sweep"
MAMMOSWEEP_FIXTURE_OUT="$sweep" "$fixture" --gtest_filter='ResultsFixtureForShell.*' >"$tmp/fx" 2>&1 \
  || { echo "FAIL: fixture writer"; cat "$tmp/fx"; exit 1; }
[ -f "$sweep/results.h5" ] || { echo "FAIL: fixture wrote no results.h5"; cat "$tmp/fx"; exit 1; }
