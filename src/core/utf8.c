/* A strict decoder's view of sequences (Unicode table 3-7), byte by byte:
 * no tables, no locale. */
#include "core/utf8.h"

#include <stdlib.h>
#include <string.h>

/* Length of the valid sequence at s (n bytes left), or 0 if invalid; *short_
 * is set when it is a valid start cut off by the end. */
static size_t seq_len(const unsigned char *s, size_t n, int *short_)
{
    *short_ = 0;
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    for (size_t i = 1; i < len; i++) {
        if (i >= n) {
            *short_ = 1;
            return 0;
        }
        unsigned b = s[i];
        if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF))
            return 0;
    }
    return len;
}

size_t utf8_valid_prefix(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    int cut;
    while (i < n) {
        size_t l = seq_len(u + i, n - i, &cut);
        if (!l)
            break;
        i += l;
    }
    return i;
}

int utf8_valid(const char *s, size_t n) { return utf8_valid_prefix(s, n) == n; }

size_t utf8_chars(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += ((unsigned char)s[i] & 0xC0) != 0x80;
    return count;
}

size_t utf8_floor(const char *s, size_t n, size_t at)
{
    if (at >= n)
        return n;
    while (at > 0 && ((unsigned char)s[at] & 0xC0) == 0x80)
        at--;
    return at;
}

size_t utf8_incomplete_tail(const char *s, size_t n)
{
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        const unsigned char *u = (const unsigned char *)s + n - back;
        if ((*u & 0xC0) == 0x80)
            continue;
        int cut;
        return !seq_len(u, back, &cut) && cut ? back : 0;
    }
    return 0;
}

char *utf8_repair(const char *s, size_t n, size_t *outlen)
{
    char *out = malloc(n * 3 + 1); /* each bad byte may become 3 */
    if (!out)
        return NULL;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, o = 0;
    int cut;
    while (i < n) {
        size_t l = seq_len(u + i, n - i, &cut);
        if (l) {
            memcpy(out + o, s + i, l);
            o += l;
            i += l;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    out[o] = 0;
    if (outlen)
        *outlen = o;
    return out;
}
