/* Protocol v1 client messages: any bytes as a WebSocket text frame. */
#include <stdint.h>
#include <stdlib.h>

#include "protocol/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_client_msg m;
    int fatal;
    char err[256];
    if (proto_parse((const char *)data, size, &m, &fatal, err, sizeof err) == 0)
        proto_client_msg_clear(&m);
    return 0;
}
