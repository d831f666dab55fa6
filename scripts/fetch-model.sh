#!/bin/sh
# The default Whisper model (tiny.en, asr.whisper_model) into parley's data
# dir with parley's own model manager (progress shown, SHA-1 checked), so
# `make run` hears real voices with no further step. Run by scripts/setup.sh.
# It never fails setup: offline, it says in one line that it skipped the
# model, and parley hears with pocketsphinx until the model is pulled.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MODEL=${PARLEY_SETUP_MODEL:-tiny.en}
if [ ! -x "$BUILD/parley" ]; then
  { cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build "$BUILD" -j "$(nproc)"; } >/dev/null 2>&1 ||
    { echo "setup: skipped the Whisper model: parley did not build (make build says why)"; exit 0; }
fi
if "$BUILD/parley" models path "$MODEL" >/dev/null 2>&1; then
  echo "setup: the model $MODEL is there (parley models list)"
  exit 0
fi
log=$(mktemp)
echo "setup: fetching the Whisper model $MODEL so that parley hears real voices"
# Progress lines pass through; parley's own error line is kept for the one
# line that says the model was skipped.
"$BUILD/parley" models pull "$MODEL" 2>&1 | while IFS= read -r line; do
  case "$line" in
    parley:*) echo "${line#parley: }" >"$log" ;;
    *) echo "  $line" ;;
  esac
done
if "$BUILD/parley" models path "$MODEL" >/dev/null 2>&1; then
  rm -f "$log"
  exit 0
fi
why=$(cat "$log")
rm -f "$log"
echo "setup: skipped the Whisper model $MODEL (${why:-cannot download it}); parley hears with pocketsphinx until: $BUILD/parley models pull $MODEL"
exit 0
