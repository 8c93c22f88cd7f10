# shellcheck shell=bash
# Helpers shared by the *.test.sh scripts. Source it after making the scratch folder $tmp.
#   fail MESSAGE...                   counts a failure
#   check NAME EXPECTED_RC COMMAND... runs COMMAND; stdout -> $tmp/out, stderr -> $tmp/err
#   expect_in FILE TEXT               FILE must contain TEXT (a fixed string)
#   py ARGS... <<'PY'                 a Python check (the script on stdin); failures count
#   wait_for TIMEOUT_S COMMAND...     retries COMMAND every 0.2 s; 1 when it never succeeds
#   finish                            prints the count; exits 1 on any failure, else 0
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() {
  local name="$1" want="$2"; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "$name: exit $rc, expected $want"; cat "$tmp/out" "$tmp/err"
  else echo "ok   $name"; fi
}
expect_in() { grep -qF -- "$2" "$1" || { fail "'$2' not in $1:"; cat "$1"; }; }
py() { python3 - "$@" || fail "python check on $*"; }
wait_for() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" 2>/dev/null; do (( $(date +%s) >= deadline )) && return 1; sleep 0.2; done
}
finish() { echo "$fails failure(s)"; exit $((fails > 0)); }
