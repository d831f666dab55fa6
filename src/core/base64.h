/* Base64 (RFC 4648, with padding), for audio carried inside JSON. */
#ifndef PARLEY_BASE64_H
#define PARLEY_BASE64_H
#include <stddef.h>

/* The encoding of n bytes, NUL-terminated; malloc'd (NULL: out of memory). */
char *base64_encode(const void *data, size_t n, size_t *outlen);
/* Decodes text (padding optional, no whitespace) into a malloc'd buffer;
 * NULL when it is not base64 (or out of memory). */
unsigned char *base64_decode(const char *text, size_t len, size_t *outlen);

#endif
