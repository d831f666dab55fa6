/* Phrase aggregator boundaries: sentence ends, numbers, abbreviations, the
 * length cap, the first-phrase comma cut, flushing, and token-size independence. */
#include <stdlib.h>

#include "check.h"
#include "core/utf8.h"
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

    /* UTF-8: never cut inside a character, whatever the chunking */
    char accents[128] = "a";
    for (int i = 0; i < 40; i++)
        strcat(accents, "\xc3\xa9"); /* é */
    for (int i = 0; i < 3; i++) {
        struct got u = split(accents, steps[i], 0);
        CHECK(u.n == 2);
        size_t total = 0;
        for (int k = 0; k < u.n; k++) {
            CHECK(utf8_valid(u.items[k], strlen(u.items[k])));
            total += strlen(u.items[k]);
        }
        CHECK(total == 81); /* nothing lost */
    }
    /* CJK with digits: no spaces at all */
    const char *cjk = "\xe4\xbb\x8a\xe5\xa4\xa9\xe6\x98\xaf" "2026\xe5\xb9\xb4"
                      "\xe4\xbb\x8a\xe5\xa4\xa9\xe6\x98\xaf" "2026\xe5\xb9\xb4"
                      "\xe4\xbb\x8a\xe5\xa4\xa9\xe6\x98\xaf" "2026\xe5\xb9\xb4"
                      "\xe4\xbb\x8a\xe5\xa4\xa9\xe6\x98\xaf" "2026\xe5\xb9\xb4";
    struct got c = split(cjk, 1, 0);
    CHECK(c.n >= 2);
    for (int k = 0; k < c.n; k++)
        CHECK(utf8_valid(c.items[k], strlen(c.items[k])));
    /* invalid bytes from an LLM become U+FFFD, never reach TTS or JSON raw */
    struct got bad = split("caf\xc3 ok \xff\xfe done.", 0, 0);
    CHECK(bad.n == 1 && utf8_valid(bad.items[0], strlen(bad.items[0])) && strstr(bad.items[0], "\xef\xbf\xbd ok"));
    /* an emoji alone: 4 bytes kept whole */
    struct got emoji = split("\xf0\x9f\x98\x80", 1, 0);
    CHECK(emoji.n == 1 && !strcmp(emoji.items[0], "\xf0\x9f\x98\x80"));

    /* the module itself */
    CHECK(utf8_valid("h\xc3\xa9", 3) && !utf8_valid("\xc3", 1) && !utf8_valid("\xc0\x80", 2)); /* overlong */
    CHECK(!utf8_valid("\xed\xa0\x80", 3) && !utf8_valid("\xf4\x90\x80\x80", 4)); /* surrogate, > U+10FFFF */
    CHECK(utf8_chars("h\xc3\xa9\xf0\x9f\x98\x80", 7) == 3);
    CHECK(utf8_incomplete_tail("ab\xf0\x9f", 4) == 2 && utf8_incomplete_tail("ab\xc3\xa9", 4) == 0 &&
          utf8_incomplete_tail("ab\xff", 3) == 0);
    CHECK(utf8_floor("a\xc3\xa9" "b", 4, 2) == 1 && utf8_floor("a\xc3\xa9" "b", 4, 3) == 3);
    size_t rl;
    char *rep = utf8_repair("a\xff" "b", 3, &rl);
    CHECK(rep && rl == 5 && !strcmp(rep, "a\xef\xbf\xbd" "b"));
    free(rep);
    return check_summary();
}
