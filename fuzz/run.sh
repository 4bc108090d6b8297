#!/usr/bin/env bash
# Builds the AFL++ fuzz binary (cargo-afl, stable toolchain) and runs every target for a
# bounded time; fails when any target found a crash. Usage: fuzz/run.sh [SECONDS] [TARGET...]
# (default: 10 s for each target in fuzz/seeds/); `fuzz/run.sh --build-only` only builds (CI
# builds while the tests run). Findings stay in target/afl/out/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."
build_only=0
if [ "${1:-}" = "--build-only" ]; then build_only=1; shift; fi
secs=${1:-10}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(ls fuzz/seeds)
fi
export CARGO_TARGET_DIR=target/afl
# The build's cost (docs/fuzzing.md, "Budget"): cargo-afl compiles every crate with
# `-C opt-level=3 -C codegen-units=1` and the coverage passes. `--target` keeps those flags
# off build scripts and proc-macros (syn, serde_derive, ...: host code that is never fuzzed);
# AFL_OPT_LEVEL=1 and no debug info make the rest quicker to build. A long run can set
# AFL_OPT_LEVEL=3 for more executions per second.
export AFL_OPT_LEVEL=${AFL_OPT_LEVEL:-1}
export CARGO_PROFILE_DEV_DEBUG=${CARGO_PROFILE_DEV_DEBUG:-0}
host=$(rustc -vV | sed -n 's/^host: //p')
build_start=$(date +%s)
cargo afl build -q -p proxylab-fuzz --features afl --bin proxylab-fuzz-afl --target "$host"
echo "fuzz: instrumented build took $(( $(date +%s) - build_start )) s"
[ "$build_only" = 1 ] && exit 0
bin=target/afl/$host/debug/proxylab-fuzz-afl
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
export AFL_SKIP_CRASHES=1 AFL_QUIET=1
failed=0
mkdir -p target/afl/out
for t in "${targets[@]}"; do
  out=target/afl/out/$t
  rm -rf "$out"
  start=$(date +%s)
  cargo afl fuzz -V "$secs" -t 5000 -i "fuzz/seeds/$t" -o "$out" -- "$bin" "$t" >"$out.log" 2>&1 || {
    echo "fuzz: $t: afl-fuzz failed (see $out.log)"; tail -n 20 "$out.log"; failed=1; continue; }
  execs=$(awk -F: '/^execs_done/ {gsub(/ /,"",$2); print $2}' "$out/default/fuzzer_stats" 2>/dev/null || echo '?')
  crashes=$(find "$out/default/crashes" -name 'id:*' 2>/dev/null | wc -l)
  echo "fuzz: $t: $execs execs in $(( $(date +%s) - start )) s, $crashes crashes"
  if [ "$crashes" -gt 0 ]; then
    failed=1
    for c in "$out"/default/crashes/id:*; do echo "fuzz: crash input $c"; done
  fi
done
exit $failed
