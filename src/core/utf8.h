/* UTF-8 at the edges: text from clients and from LLM servers is checked or
 * repaired here before it reaches a JSON message, a phrase or the store,
 * because a browser closes a WebSocket (1007) on one invalid byte. */
#ifndef PARLEY_UTF8_H
#define PARLEY_UTF8_H
#include <stddef.h>

/* Bytes of the longest valid prefix of s[0..n) (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF). */
size_t utf8_valid_prefix(const char *s, size_t n);
int utf8_valid(const char *s, size_t n);
/* Code points in valid s[0..n). */
size_t utf8_chars(const char *s, size_t n);
/* The largest character boundary <= at in s[0..n). */
size_t utf8_floor(const char *s, size_t n, size_t at);
/* Bytes at the end of s[0..n) that begin a character and could be completed
 * by what follows (0 when the text ends on a boundary or is invalid there). */
size_t utf8_incomplete_tail(const char *s, size_t n);
/* A NUL-terminated copy of s[0..n) with each invalid sequence replaced by
 * U+FFFD; NULL when out of memory. */
char *utf8_repair(const char *s, size_t n, size_t *outlen);

#endif
