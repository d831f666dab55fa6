/* Phrase boundaries: sentence ends (not in 3.14, "Dr." or "U.S."), newlines,
 * a length cap on word boundaries, and an early comma cut for the first
 * phrase of a reply, which is what the listener waits on. */
#include "phrase/phrase.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/utf8.h"

struct phrase_splitter {
    struct phrase_params p;
    char *buf;
    size_t len, cap;
    size_t scan; /* bytes before this were already examined */
    int emitted; /* phrases emitted in this reply */
};

struct phrase_params phrase_default_params(void) { return (struct phrase_params){.max_chars = 60, .first_min_words = 4}; }

phrase_splitter *phrase_new(const struct phrase_params *p)
{
    phrase_splitter *ps = calloc(1, sizeof *ps);
    if (ps)
        ps->p = p ? *p : phrase_default_params();
    return ps;
}

void phrase_free(phrase_splitter *ps)
{
    if (!ps)
        return;
    free(ps->buf);
    free(ps);
}

void phrase_reset(phrase_splitter *ps)
{
    ps->len = ps->scan = 0;
    ps->emitted = 0;
}

size_t phrase_buffered(const phrase_splitter *ps) { return ps->len; }

static const char *const abbreviations[] = {
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "e.g", "i.e", "approx", "no", "fig", "mt", "inc", "ltd", "co",
};

/* Is the '.' at i the end of an abbreviation or an initial ("J.", "U.S.")? */
static int is_abbreviation(const char *s, size_t i)
{
    size_t start = i;
    while (start > 0 && !isspace((unsigned char)s[start - 1]) && s[start - 1] != '(' && s[start - 1] != '"')
        start--;
    size_t n = i - start;
    if (n == 0)
        return 0;
    if (n == 1 && isalpha((unsigned char)s[start]))
        return 1; /* single-letter initial */
    if (memchr(s + start, '.', n) && n <= 4)
        return 1; /* U.S, e.g */
    for (size_t k = 0; k < sizeof abbreviations / sizeof *abbreviations; k++)
        if (strlen(abbreviations[k]) == n && !strncasecmp(s + start, abbreviations[k], n))
            return 1;
    return 0;
}

static int has_speakable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (isalnum((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80)
            return 1;
    return 0;
}

/* Emits buf[0..end) trimmed, minus markdown marks TTS would read aloud, and
 * drops it from the buffer. */
static void emit(phrase_splitter *ps, size_t end, phrase_fn fn, void *ud)
{
    char *out = malloc(end + 1);
    size_t n = 0;
    if (out) {
        for (size_t i = 0; i < end; i++) {
            char c = ps->buf[i];
            if (c == '*' || c == '#' || c == '`' || c == '_')
                continue;
            if (isspace((unsigned char)c)) {
                if (n == 0 || out[n - 1] == ' ')
                    continue;
                c = ' ';
            }
            out[n++] = c;
        }
        while (n > 0 && out[n - 1] == ' ')
            n--;
        out[n] = 0;
        if (has_speakable(out, n)) {
            ps->emitted++;
            /* what reaches TTS and the client's JSON is valid UTF-8, whatever the LLM sent */
            size_t clean_len = n;
            char *clean = utf8_valid(out, n) ? NULL : utf8_repair(out, n, &clean_len);
            fn(ud, clean ? clean : out, clean ? clean_len : n);
            free(clean);
        }
        free(out);
    }
    memmove(ps->buf, ps->buf + end, ps->len - end);
    ps->len -= end;
    ps->scan = 0;
}

static int count_words(const char *s, size_t n)
{
    int words = 0, in_word = 0;
    for (size_t i = 0; i < n; i++) {
        int w = !isspace((unsigned char)s[i]);
        words += w && !in_word;
        in_word = w;
    }
    return words;
}

/* Returns the end (exclusive) of the first complete phrase, or 0 if none yet.
 * final: no more text will come, so a trailing '.' needs no lookahead. */
static size_t find_boundary(phrase_splitter *ps, int final)
{
    const char *b = ps->buf;
    for (size_t i = ps->scan; i < ps->len; i++) {
        char c = b[i];
        if (c == '\n' && has_speakable(b, i))
            return i + 1;
        if (c == '.' || c == '?' || c == '!') {
            size_t j = i + 1;
            while (j < ps->len && strchr(".?!\"')]", b[j]))
                j++;
            if (j == ps->len && !final) {
                ps->scan = i; /* need the next character to decide */
                return 0;
            }
            if (j < ps->len && !isspace((unsigned char)b[j]))
                continue; /* 3.14, example.com, "...x" */
            if (c == '.' && j == i + 1 && is_abbreviation(b, i))
                continue;
            return j;
        }
        if ((c == ',' || c == ';' || c == ':') && ps->emitted == 0 && ps->p.first_min_words > 0 &&
            count_words(b, i) >= ps->p.first_min_words) {
            if (i + 1 == ps->len && !final) {
                ps->scan = i; /* "1,000" or "that, …": the next character decides */
                return 0;
            }
            if (i + 1 == ps->len || isspace((unsigned char)b[i + 1]))
                return i + 1;
        }
    }
    ps->scan = ps->len;
    if (ps->len > (size_t)ps->p.max_chars) {
        size_t cut = (size_t)ps->p.max_chars;
        while (cut > 0 && !isspace((unsigned char)b[cut]))
            cut--;
        ps->scan = 0;
        if (cut > 0)
            return cut;
        /* no space (CJK, a long number): cut between characters, never inside one */
        cut = utf8_floor(b, ps->len, (size_t)ps->p.max_chars);
        if (cut == 0) /* one character longer than the cap: take it whole */
            for (cut = 1; cut < ps->len && ((unsigned char)b[cut] & 0xC0) == 0x80; cut++)
                ;
        return cut;
    }
    return 0;
}

int phrase_push(phrase_splitter *ps, const char *text, size_t len, phrase_fn fn, void *ud)
{
    if (ps->len + len + 1 > ps->cap) {
        size_t cap = ps->cap ? ps->cap : 256;
        while (cap < ps->len + len + 1)
            cap *= 2;
        char *p = realloc(ps->buf, cap);
        if (!p)
            return -1;
        ps->buf = p;
        ps->cap = cap;
    }
    memcpy(ps->buf + ps->len, text, len);
    ps->len += len;
    ps->buf[ps->len] = 0;
    size_t end;
    while ((end = find_boundary(ps, 0)) > 0)
        emit(ps, end, fn, ud);
    return 0;
}

void phrase_flush(phrase_splitter *ps, phrase_fn fn, void *ud)
{
    size_t end;
    ps->scan = 0;
    while (ps->len > 0 && (end = find_boundary(ps, 1)) > 0)
        emit(ps, end, fn, ud);
    if (ps->len > 0)
        emit(ps, ps->len, fn, ud);
}
