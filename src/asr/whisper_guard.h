/* Guards against Whisper's failure modes on live audio: text it invents on
 * silence or noise ("Thank you for watching.", "[BLANK_AUDIO]"), loops that
 * repeat a phrase, and partials that flicker as each re-decode of the growing
 * utterance rewrites the last words. Pure text functions: no whisper.cpp. */
#ifndef PARLEY_WHISPER_GUARD_H
#define PARLEY_WHISPER_GUARD_H
#include <stddef.h>

/* Cleans a transcript in place: drops bracketed and starred non-speech tags,
 * a text that is only a known hallucination, and a phrase repeated three or
 * more times in a row (kept once); trims spaces. */
void whisper_guard_clean(char *text);

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
