/* The phrase aggregator: turns an LLM token stream into speakable phrases, so
 * synthesis can start before the reply is finished. Pure text in, text out;
 * the session owns the clock and calls phrase_flush on a token gap. */
#ifndef PARLEY_PHRASE_H
#define PARLEY_PHRASE_H
#include <stddef.h>

struct phrase_params {
    int max_chars;       /* cut on a word boundary at this length */
    int first_min_words; /* the reply's first phrase may end at , ; : after this many words (0: off) */
};
struct phrase_params phrase_default_params(void);

typedef struct phrase_splitter phrase_splitter;
/* Called with one trimmed phrase (NUL-terminated, len bytes). */
typedef void (*phrase_fn)(void *ud, const char *phrase, size_t len);

phrase_splitter *phrase_new(const struct phrase_params *p);
void phrase_free(phrase_splitter *ps);
/* Starts a new reply: drops buffered text, re-arms the first-phrase rule. */
void phrase_reset(phrase_splitter *ps);
/* Appends streamed text and emits every phrase now complete. Returns -1 when
 * the text cannot be buffered. */
int phrase_push(phrase_splitter *ps, const char *text, size_t len, phrase_fn fn, void *ud);
/* Emits whatever is buffered (end of reply, or a token gap). */
void phrase_flush(phrase_splitter *ps, phrase_fn fn, void *ud);
size_t phrase_buffered(const phrase_splitter *ps);

#endif
