/* Phrase aggregator boundaries: sentence ends, numbers, abbreviations, the
 * length cap, the first-phrase comma cut, flushing, and token-size independence. */
#include <stdlib.h>

#include "check.h"
#include "phrase/phrase.h"

struct got {
    char items[32][256];
    int n;
};

static void collect(void *ud, const char *p, size_t len)
{
    struct got *g = ud;
    if (g->n < 32)
        snprintf(g->items[g->n++], 256, "%.*s", (int)len, p);
}

/* Feeds text in chunks of `step` bytes (0: all at once), then flushes. */
static struct got split(const char *text, size_t step, int first_min_words)
{
    struct phrase_params p = {.max_chars = 60, .first_min_words = first_min_words};
    phrase_splitter *ps = phrase_new(&p);
    struct got g = {.n = 0};
    size_t len = strlen(text);
    if (!step)
        step = len;
    for (size_t off = 0; off < len; off += step)
        phrase_push(ps, text + off, off + step > len ? len - off : step, collect, &g);
    phrase_flush(ps, collect, &g);
    phrase_free(ps);
    return g;
}

int main(void)
{
    size_t steps[] = {0, 1, 3};
    for (int i = 0; i < 3; i++) {
        size_t st = steps[i];
        struct got g = split("Hello there. How are you? Fine!", st, 0);
        CHECK(g.n == 3);
        CHECK_STR(g.items[0], "Hello there.");
        CHECK_STR(g.items[1], "How are you?");
        CHECK_STR(g.items[2], "Fine!");

        g = split("Pi is about 3.14 today. Next.", st, 0);
        CHECK(g.n == 2);
        CHECK_STR(g.items[0], "Pi is about 3.14 today.");

        g = split("Dr. Smith met Mr. Jones in the U.S. yesterday. Then left.", st, 0);
        CHECK(g.n == 2);
        CHECK_STR(g.items[0], "Dr. Smith met Mr. Jones in the U.S. yesterday.");

        g = split("I met J. Doe, e.g. at work.", st, 0);
        CHECK(g.n == 1);

        g = split("Wait... what? \"Really!\" she said.", st, 0);
        CHECK(g.n == 4);
        CHECK_STR(g.items[0], "Wait...");
        CHECK_STR(g.items[1], "what?");
        CHECK_STR(g.items[2], "\"Really!\"");
    }

    /* The length cap cuts on a word boundary. */
    struct got g = split("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                         "sixteen seventeen eighteen",
                         2, 0);
    CHECK(g.n >= 2);
    for (int i = 0; i < g.n; i++) {
        CHECK(strlen(g.items[i]) <= 60);
        CHECK(g.items[i][strlen(g.items[i]) - 1] != ' ');
    }
    CHECK_STR(g.items[0], "one two three four five six seven eight nine ten eleven");

    /* First phrase: cut at a comma once it has enough words, later ones not. */
    g = split("Well, I think that, in general, it works. Yes, it does, really.", 1, 4);
    CHECK(g.n == 3);
    CHECK_STR(g.items[0], "Well, I think that,");
    CHECK_STR(g.items[1], "in general, it works.");
    CHECK_STR(g.items[2], "Yes, it does, really.");
    g = split("Well, I think that, in general, it works.", 1, 0);
    CHECK(g.n == 1);

    /* Flush, newlines, markdown and unspeakable fragments. */
    g = split("no punctuation here", 1, 0);
    CHECK(g.n == 1);
    CHECK_STR(g.items[0], "no punctuation here");
    g = split("**Bold** move\n\n- item one\n", 1, 0);
    CHECK(g.n == 2);
    CHECK_STR(g.items[0], "Bold move");
    CHECK_STR(g.items[1], "- item one");
    g = split("... !!! Ok.", 1, 0); /* fragments with nothing to say are dropped */
    CHECK(g.n == 1);
    CHECK_STR(g.items[0], "Ok.");
    g = split("Version 2. Done.", 1, 0);
    CHECK(g.n == 2);

    /* A reset drops buffered text and re-arms the first-phrase rule. */
    struct phrase_params p = {.max_chars = 60, .first_min_words = 2};
    phrase_splitter *ps = phrase_new(&p);
    struct got h = {.n = 0};
    phrase_push(ps, "stale text without end", 22, collect, &h);
    CHECK(phrase_buffered(ps) == 22);
    phrase_reset(ps);
    CHECK(phrase_buffered(ps) == 0);
    phrase_push(ps, "Hi there, friend. ", 18, collect, &h);
    CHECK(h.n == 2);
    CHECK_STR(h.items[0], "Hi there,");
    phrase_free(ps);
    return check_summary();
}
