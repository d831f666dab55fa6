/* Opus packets from a client (protocol v1's "format":"opus"): any bytes as
 * one binary frame, decoded by the session's reader. */
#include <stdint.h>
#include <stdlib.h>

#include "codec/opus_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static opus_reader *r;
    static struct pcm_buf out;
    char err[256];
    if (!r) {
        struct opus_reader_params p = opus_reader_default_params();
        r = opus_reader_new(&p, err, sizeof err);
    }
    out.len = 0;
    opus_reader_decode(r, data, size, &out, err, sizeof err);
    return 0;
}
