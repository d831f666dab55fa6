/* Base64 from Realtime clients (input_audio_buffer.append's audio): any
 * bytes decoded; what decodes must encode back to the same text, padded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = 0, m = 0;
    unsigned char *d = base64_decode((const char *)data, size, &n);
    if (!d)
        return 0;
    char *e = base64_encode(d, n, &m);
    /* The re-encoding is the input, give or take padding and unused low bits. */
    if (e && m < size)
        abort();
    free(e);
    free(d);
    return 0;
}
