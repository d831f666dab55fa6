/* POST /v1/chat bodies: any bytes. What is accepted must be valid UTF-8
 * within the character limit, with a label for a conversation id. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "protocol/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_chat chat;
    char problem[200];
    if (proto_parse_chat((const char *)data, size, &chat, problem, sizeof problem) == 0) {
        size_t n = strlen(chat.text);
        if (!n || !utf8_valid(chat.text, n) || utf8_chars(chat.text, n) > PROTO_MAX_TEXT_CHARS ||
            !proto_label_valid(chat.conversation_id))
            abort();
        free(chat.text);
    }
    return 0;
}
