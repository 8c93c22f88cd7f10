#!/usr/bin/env bash
# The two programs (orchestrator/results_main.cpp): `mammosweep` runs status, leaderboard and
# plot itself without loading LibTorch, and hands every other command line to
# mammosweep-torch in the same process (execv).
#   - mammosweep does not list LibTorch among its libraries, and loads none while it runs
#     `status` (the dynamic loader's own log, LD_DEBUG=files);
#   - status, leaderboard and plot print the same from both programs (the fixture sweep of
#     results_cli.test.sh);
#   - another command reaches mammosweep-torch with its arguments intact, in the same process
#     (its pid is the one the shell started);
#   - without mammosweep-torch next to it, such a command fails naming the missing file.
set -uo pipefail
# shellcheck source=results_fixture.sh
source "$(dirname "${BASH_SOURCE[0]}")/results_fixture.sh"
full="$(dirname "$bin")/mammosweep-torch"

# --- no LibTorch in mammosweep ---------------------------------------------------------------
readelf -d "$bin" | grep NEEDED >"$tmp/needed"
grep -q "libhdf5" "$tmp/needed" || fail "readelf shows no NEEDED libhdf5 (is this the right file?)"
grep -E "libtorch|libc10" "$tmp/needed" && fail "mammosweep lists LibTorch among its libraries"
readelf -d "$full" | grep -q "libtorch_cpu" || fail "mammosweep-torch does not list libtorch_cpu"
LD_DEBUG=files "$bin" status "$sweep" >/dev/null 2>"$tmp/ld"
grep -q "file=libhdf5" "$tmp/ld" || fail "LD_DEBUG=files logged no libhdf5 load (no log?)"
grep -E "file=lib(torch|c10)" "$tmp/ld" && fail "mammosweep status loaded LibTorch"

# --- the same results from both programs -------------------------------------------------------
# The file system's free space, which `status` prints, changes while other tests run: dropped.
no_free() { sed -E -e 's/"free_bytes": [0-9]+/"free_bytes": N/' -e 's/[0-9.]+ [kMGT]?B free/N free/'; }
same() {  # NAME ARGS...: output and exit status of both programs agree
  local name="$1"; shift
  "$bin" "$@" 2>&1 | no_free >"$tmp/a"; local ra=${PIPESTATUS[0]}
  "$full" "$@" 2>&1 | no_free >"$tmp/b"; local rb=${PIPESTATUS[0]}
  if [ "$ra" -ne "$rb" ] || ! cmp -s "$tmp/a" "$tmp/b"; then
    fail "$name: mammosweep (exit $ra) and mammosweep-torch (exit $rb) differ"
    diff "$tmp/a" "$tmp/b" | head -20
  else echo "ok   $name (exit $ra, $(wc -l <"$tmp/a") lines)"; fi
}
same "status" status "$sweep"
same "status json" status "$sweep" --format json
same "leaderboard" leaderboard "$sweep"
same "leaderboard json" leaderboard "$sweep" --format json
same "status of a missing folder" status "$tmp/none"
same "leaderboard with a bad flag" leaderboard "$sweep" --no-such-flag
"$bin" plot "$sweep" --out "$tmp/pa" >/dev/null 2>&1; "$full" plot "$sweep" --out "$tmp/pb" >/dev/null 2>&1
if diff -r "$tmp/pa" "$tmp/pb" >/dev/null && [ -n "$(ls "$tmp/pa")" ]; then echo "ok   plot files"
else fail "plot: the two programs wrote different files"; diff -r "$tmp/pa" "$tmp/pb" | head; fi

# --- other commands run in mammosweep-torch, in the same process --------------------------------
check "--version" 0 "$bin" --version
expect_in "$tmp/out" "(LibTorch "
# `supervise` runs its launch as a child: the child's parent pid is the pid the shell started.
cat >"$tmp/launch.sh" <<'SH'
#!/usr/bin/env bash
echo "parent=$PPID args=$*"
SH
chmod +x "$tmp/launch.sh"
"$bin" supervise -- "$tmp/launch.sh" --resume "a b" >"$tmp/sup" 2>&1 &
pid=$!; wait "$pid"; rc=$?
[ "$rc" -eq 0 ] || { fail "supervise through mammosweep: exit $rc"; cat "$tmp/sup"; }
expect_in "$tmp/sup" "parent=$pid args=--resume a b"

# --- mammosweep-torch missing ---------------------------------------------------------------
mkdir "$tmp/alone" && cp "$bin" "$tmp/alone/mammosweep"
check "status without mammosweep-torch" 0 "$tmp/alone/mammosweep" status "$sweep"
check "run without mammosweep-torch" 1 "$tmp/alone/mammosweep" run x.yaml --out "$tmp/o"
expect_in "$tmp/err" "cannot run $tmp/alone/mammosweep-torch: No such file or directory"
finish
