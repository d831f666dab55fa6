/* Guards against Whisper's failure modes on live audio: text it invents on
 * silence or noise ("Thank you for watching.", "[BLANK_AUDIO]"), loops that
 * repeat a phrase, and partials that flicker as each re-decode of the growing
 * utterance rewrites the last words. Pure text functions: no whisper.cpp. */
#ifndef PARLEY_WHISPER_GUARD_H
#define PARLEY_WHISPER_GUARD_H
#include <stddef.h>

/* Cleans a transcript in place: drops bracketed and starred non-speech tags
 * and punctuation alone, and keeps one of a phrase repeated three or more
 * times in a row; trims spaces. Real words are never dropped for being
 * words Whisper also invents ("Thank you", "Bye"). */
void whisper_guard_clean(char *text);

/* Below this, the loudest 100 ms of an utterance is no voice (a quiet voice
 * a metre from a laptop microphone is around -35 dBFS). */
#define WHISPER_GUARD_QUIET_DBFS -50.0
/* 1 when no 100 ms of the utterance (float samples, -1..1) reaches
 * WHISPER_GUARD_QUIET_DBFS: Whisper would only invent words for it. */
int whisper_guard_quiet(const float *samples, size_t n, int rate);

/* Local agreement: words two successive partials agree on (from the start)
 * become stable and are never taken back; the rest follows the newest
 * decode. */
struct whisper_stabilizer {
    char prev[4096];
    int stable_words;
};
void whisper_stabilizer_reset(struct whisper_stabilizer *s);
/* The partial to show for this hypothesis, written to out. */
void whisper_stabilize(struct whisper_stabilizer *s, const char *hyp, char *out, size_t outlen);

#endif
