#!/bin/sh
# Builds the libFuzzer targets (tests/fuzz, clang, ASan+UBSan) into
# build-fuzz and runs each for FUZZ_SECONDS (default 60) from its seed corpus
# in tests/fuzz/corpus/NAME. Prints "NAME: N execs, 0 crashes" per target and
# exits non-zero on a crash; the crashing input is kept in build-fuzz/crashes/
# (turn it into a regression test: tests/fuzz/regressions/NAME/, replayed by
# every run). New inputs found go to build-fuzz/corpus/NAME, not the repo.
set -eu
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-60}
OUT=build-fuzz
command -v clang >/dev/null 2>&1 || { echo "fuzz: clang is missing (scripts/setup.sh --tests installs it)" >&2; exit 1; }
cmake -S . -B "$OUT" -DCMAKE_C_COMPILER=clang -DPARLEY_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$OUT" -j "$(nproc)" >/dev/null
mkdir -p "$OUT/crashes"
failed=0
total=0
for src in tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c | sed 's/^fuzz_//')
  work="$OUT/corpus/$name"
  mkdir -p "$work"
  seeds="tests/fuzz/corpus/$name"
  regress="tests/fuzz/regressions/$name"
  # every crash found before is replayed first
  if [ -d "$regress" ] && ! "$OUT/tests/fuzz/fuzz_$name" "$regress"/* >"$OUT/$name.replay.log" 2>&1; then
    echo "$name: a regression input crashes again (see $OUT/$name.replay.log)"
    failed=1
    continue
  fi
  log="$OUT/$name.log"
  if ASAN_OPTIONS=detect_leaks=1 "$OUT/tests/fuzz/fuzz_$name" -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
      -timeout=10 -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$OUT/crashes/$name-" "$work" "$seeds" >"$log" 2>&1; then
    crashes=0
  else
    crashes=1
    failed=1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  execs=${execs:-0}
  total=$((total + execs))
  echo "$name: $execs execs, $crashes crashes"
  [ "$crashes" = 0 ] || tail -30 "$log"
done
echo "fuzz: $total execs in all"
exit $failed
