#!/usr/bin/env bash
# fuzz-campaign — a longer run of every fuzz target than CI's, one target
# at a time, with the -max_len, seeds and sanitizers of `make test-fuzz`
# (it runs the same ctest tests, only for longer). Prints one line per
# target: executions, coverage (libFuzzer's cov: and ft: at the end),
# corpus files, and the result; crash inputs are left in build-fuzz/
# (crash-*, leak-*, timeout-*, oom-*).
#
#   scripts/fuzz-campaign.sh [SECONDS_PER_TARGET] [TARGET_REGEX]
#
# SECONDS_PER_TARGET defaults to 300. The corpus each target grows stays in
# build-fuzz/fuzz-corpus/<name>/ and the next run (and CI) starts from it.
# docs/fuzzing.md keeps the figures of past campaigns.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-300}
regex=${2:-.}
build=${FUZZ_BUILD:-build-fuzz}

scripts/deps.sh
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DHEED_FUZZ=ON \
  -DHEED_FUZZ_SECONDS="$secs" >/dev/null
cmake --build "$build" -j"${JOBS:-2}" >/dev/null
log="$build/campaign.log"
rc=0
ctest --test-dir "$build" -R "$regex" -j1 -V --timeout $((secs * 2 + 120)) >"$log" 2>&1 || rc=$?

printf '%-18s %12s %6s %7s %8s  %s\n' target execs cov ft corpus result
for t in $(ctest --test-dir "$build" -R "$regex" -N | sed -n 's/^ *Test *#[0-9]*: //p'); do
  num=$(ctest --test-dir "$build" -R "^$t\$" -N | sed -n 's/^ *Test *#\([0-9]*\):.*/\1/p')
  runs=$(sed -n "s/^$num: Done \([0-9]*\) runs.*/\1/p" "$log" | tail -1)
  cov=$(sed -n "s/^$num: #[0-9]*.* cov: \([0-9]*\) ft: \([0-9]*\) .*/\1 \2/p" "$log" | tail -1)
  files=$(find "$build/fuzz-corpus/${t#fuzz_}" -type f | wc -l)
  if grep -q "^$num: .*ERROR: \|^$num: .*deadly signal\|^$num: .*Test unit written" "$log"; then
    result="FAILED (see $log)"
  else
    result=ok
  fi
  printf '%-18s %12s %6s %7s %8s  %s\n' "$t" "${runs:-?}" ${cov:-- -} "$files" "$result"
done
exit $rc
