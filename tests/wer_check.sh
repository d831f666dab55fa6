#!/bin/sh
# CI's run of bench/wer: pocketsphinx only (no Whisper models here), and the
# word error rate over all sentences must stay under a bound, so that a
# change that makes recognition worse fails here first. Usage: wer_check.sh BENCH_WER MAX_WER [JFK_WAV]
set -eu
bench=$1 max=$2 jfk=${3:-}
out=$("$bench" --ps default --models /nonexistent ${jfk:+--jfk "$jfk"})
echo "$out"
# The "WER all" column, found by its header.
echo "$out" | awk -F'|' -v max="$max" '
  /WER all/ { for (i = 1; i <= NF; i++) if ($i ~ /WER all/) col = i; next }
  /^\| pocketsphinx/ { seen = 1; wer = $col + 0; if (wer > max) { print "WER " wer "% is over " max "%"; bad = 1 } }
  END { if (!seen || !col) { print "no pocketsphinx row"; exit 1 } exit bad }'
