/* SHA-1 (FIPS 180-4), for checking downloaded models against published sums.
 * Not for security: the sums come from the same public source as the files. */
#ifndef PARLEY_SHA1_H
#define PARLEY_SHA1_H
#include <stddef.h>
#include <stdint.h>

struct sha1 {
    uint32_t h[5];
    uint64_t bytes;
    unsigned char block[64];
    size_t used;
};
void sha1_init(struct sha1 *s);
void sha1_update(struct sha1 *s, const void *data, size_t len);
/* Writes 40 lowercase hex digits and a NUL to hex. */
void sha1_final_hex(struct sha1 *s, char hex[41]);

#endif
