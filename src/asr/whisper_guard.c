/* Words are split on spaces and compared without case or punctuation, which
 * is how the same words come back from one decode to the next. */
#include "asr/whisper_guard.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_WORDS 512


/* Lowercase letters and digits only: "Watching." and "watching" agree. */
static void norm(const char *w, size_t len, char *out, size_t outlen)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < outlen; i++)
        if (isalnum((unsigned char)w[i]) || (unsigned char)w[i] >= 0x80)
            out[n++] = (char)tolower((unsigned char)w[i]);
    out[n] = 0;
}

/* Splits text into words (pointers into it); returns the count. */
static int split(const char *text, const char **w, size_t *len, int max)
{
    int n = 0;
    for (const char *p = text; *p && n < max;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && *p != ' ')
            p++;
        w[n] = s;
        len[n] = (size_t)(p - s);
        n++;
    }
    return n;
}

static int same_word(const char *a, size_t al, const char *b, size_t bl)
{
    char x[64], y[64];
    norm(a, al, x, sizeof x);
    norm(b, bl, y, sizeof y);
    return !strcmp(x, y);
}

void whisper_guard_clean(char *text)
{
    /* 1. non-speech tags: [BLANK_AUDIO], (music), *laughs* */
    char *out = text;
    for (const char *p = text; *p;) {
        char close = *p == '[' ? ']' : *p == '(' ? ')' : *p == '*' ? '*' : 0;
        const char *end = close ? strchr(p + 1, close) : NULL;
        if (end) {
            p = end + 1;
            continue;
        }
        *out++ = *p++;
    }
    *out = 0;
    /* 2. a phrase of 1-6 words repeated 3+ times in a row: keep one */
    const char *w[MAX_WORDS];
    size_t len[MAX_WORDS];
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", text);
    int n = split(copy, w, len, MAX_WORDS);
    int keep[MAX_WORDS];
    for (int i = 0; i < n; i++)
        keep[i] = 1;
    for (int k = 1; k <= 6; k++) {
        for (int i = 0; i + 3 * k <= n; i++) {
            int reps = 1;
            while (i + (reps + 1) * k <= n) {
                int same = 1;
                for (int j = 0; j < k && same; j++)
                    same = same_word(w[i + j], len[i + j], w[i + reps * k + j], len[i + reps * k + j]);
                if (!same)
                    break;
                reps++;
            }
            if (reps >= 3)
                for (int j = i + k; j < i + reps * k; j++)
                    keep[j] = 0;
        }
    }
    size_t o = 0;
    text[0] = 0;
    for (int i = 0; i < n; i++)
        if (keep[i])
            o += (size_t)snprintf(text + o, sizeof copy - o, "%s%.*s", o ? " " : "", (int)len[i], w[i]);
    /* 3. punctuation alone is no words. (Which words were "invented" is not
     * judged here: "Thank you" and "Bye" are what people say to an
     * assistant. Silence and noise are caught before the decode, by energy,
     * and after it, by Whisper's own no-speech probability.) */
    char whole[4096];
    norm(text, strlen(text), whole, sizeof whole);
    if (!whole[0])
        text[0] = 0;
}

int whisper_guard_quiet(const float *samples, size_t n, int rate)
{
    size_t win = (size_t)rate / 10; /* 100 ms */
    if (win == 0)
        return 1;
    double loudest = 0;
    for (size_t i = 0; i + win <= n; i += win / 2) {
        double sum = 0;
        for (size_t k = i; k < i + win; k++)
            sum += (double)samples[k] * samples[k];
        if (sum / (double)win > loudest)
            loudest = sum / (double)win;
    }
    double db = loudest > 0 ? 10 * log10(loudest) : -200; /* dBFS of the loudest 100 ms */
    return db < WHISPER_GUARD_QUIET_DBFS;
}

void whisper_stabilizer_reset(struct whisper_stabilizer *s)
{
    s->prev[0] = 0;
    s->stable_words = 0;
}

void whisper_stabilize(struct whisper_stabilizer *s, const char *hyp, char *out, size_t outlen)
{
    const char *pw[MAX_WORDS], *hw[MAX_WORDS];
    size_t pl[MAX_WORDS], hl[MAX_WORDS];
    char prev[4096];
    snprintf(prev, sizeof prev, "%s", s->prev);
    int np = split(prev, pw, pl, MAX_WORDS);
    int nh = split(hyp, hw, hl, MAX_WORDS);
    int agree = 0;
    while (agree < np && agree < nh && same_word(pw[agree], pl[agree], hw[agree], hl[agree]))
        agree++;
    /* The stable words, as first shown; then the new decode's words. */
    size_t o = 0;
    out[0] = 0;
    int shown = 0;
    for (int i = 0; i < s->stable_words && i < np && o + 1 < outlen; i++, shown++)
        o += (size_t)snprintf(out + o, outlen - o, "%s%.*s", o ? " " : "", (int)pl[i], pw[i]);
    for (int i = shown; i < nh && o + 1 < outlen; i++)
        o += (size_t)snprintf(out + o, outlen - o, "%s%.*s", o ? " " : "", (int)hl[i], hw[i]);
    if (agree > s->stable_words)
        s->stable_words = agree;
    snprintf(s->prev, sizeof s->prev, "%s", out);
}
