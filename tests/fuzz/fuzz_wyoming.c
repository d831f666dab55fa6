/* Wyoming framing: any bytes from a TCP client, fed in two pieces (split at
 * a point the input chooses), as a stream arrives. */
#include <stdint.h>
#include <stdlib.h>

#include "protocol/wyoming.h"

static int on_event(void *ud, const struct wy_event *ev)
{
    (void)ud;
    /* Touch what a handler reads. */
    volatile size_t n = ev->payload_len + (ev->payload ? ev->payload[0] : 0) + (size_t)cJSON_GetArraySize(ev->data);
    (void)n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t split = data[0] % size;
    char err[256];
    wy_reader *r = wy_reader_new();
    if (wy_reader_feed(r, data + 1, split, on_event, NULL, err, sizeof err) == 0)
        wy_reader_feed(r, data + 1 + split, size - 1 - split, on_event, NULL, err, sizeof err);
    wy_reader_free(r);
    return 0;
}
