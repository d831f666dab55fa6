/* Adaptive endpointing: how long a pause ends the user's turn. A sentence that trails off ("… with", "… and um") gets the
 * longest window; one that reads as finished (a question, a request, a
 * yes or no) the shortest; anything else the configured default. */
#include <ctype.h>
#include <string.h>

#include "session/endpoint.h"

/* Words after which a speaker is rarely done. */
static const char *const trailing[] = {
    "and", "or", "but", "so", "because", "then", "um", "uh", "er", "erm", "hmm", "the", "a", "an", "to", "of",
    "with", "for", "in", "on", "at", "from", "by", "about", "into", "my", "your", "our", "their", "his", "her", "its",
    "is", "are", "was", "were", "if", "that", "which", "who", "like", "i", "we", "you", "they", "he", "she", "it's",
    "i'm", "some", "any", "this", "these", "those", "than", "as", "also", "maybe", "well",
    /* verbs of a request that still wait for their object ("remind me to call …") */
    "call", "buy", "get", "send", "text", "email", "book", "order", "add", "put", "bring", "take", "need", "want",
};
/* Words a finished question or request usually starts with. */
static const char *const openers[] = {
    "what", "who", "where", "when", "why", "how", "which", "whose", "is", "are", "was", "were", "do", "does", "did",
    "can", "could", "will", "would", "should", "shall", "may", "tell", "play", "stop", "set", "turn", "please",
    "remind", "show", "give", "find", "call", "open", "start",
};
/* Whole answers on their own. */
static const char *const answers[] = {"yes", "no", "yeah", "nope", "okay", "ok", "thanks", "thank", "sure",
                                      "right", "correct", "hello", "hi", "bye", "goodbye", "stop", "cancel"};

static int in(const char *word, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(word, list[i]))
            return 1;
    return 0;
}

/* Copies the nth word (0-based; -1: the last) lowercased; returns the count. */
static int word_at(const char *text, int nth, char *out, size_t outlen)
{
    int count = 0;
    out[0] = 0;
    for (const char *p = text; *p;) {
        while (*p && !isalnum((unsigned char)*p) && *p != '\'')
            p++;
        if (!*p)
            break;
        size_t n = 0;
        while (*p && (isalnum((unsigned char)*p) || *p == '\'')) {
            if (n + 1 < outlen && (nth < 0 || count == nth))
                out[n++] = (char)tolower((unsigned char)*p);
            p++;
        }
        if (nth < 0 || count == nth)
            out[n] = 0;
        count++;
        if (nth >= 0 && count > nth)
            return count;
    }
    return count;
}

#define COUNT(a) (sizeof a / sizeof a[0])

int endpoint_window_ms(const struct parley_config *c, const char *words)
{
    char first[32], last[32];
    if (!words || !words[0])
        return c->vad_silence_ms;
    int n = word_at(words, -1, last, sizeof last);
    word_at(words, 0, first, sizeof first);
    if (in(last, trailing, COUNT(trailing)))
        return c->vad_max_silence_ms;
    if ((n >= 3 && in(first, openers, COUNT(openers))) || (n <= 2 && in(first, answers, COUNT(answers))))
        return c->vad_min_silence_ms;
    return c->vad_silence_ms;
}
