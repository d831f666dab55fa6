/* MCP over stdio and over Streamable HTTP: bytes a server writes, in reads
 * of sizes the input also chooses, read as lines and as server-sent events;
 * each message is classified, and tool results are turned to text. */
#include <stdint.h>
#include <stdlib.h>

#include "tools/mcp_wire.h"

static void on_line(void *ud, const char *line, size_t len)
{
    (void)ud;
    struct mcp_message m;
    if (mcp_message_parse(line, len, &m) == MCP_MSG_RESPONSE && m.result) {
        int is_error;
        free(mcp_tool_result_text(m.result, &is_error));
    }
    mcp_message_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mcp_lines lines;
    struct mcp_sse sse;
    if (mcp_lines_init(&lines, 4096)) /* small, so overlong lines are exercised */
        return 0;
    if (mcp_sse_init(&sse, 4096)) {
        mcp_lines_free(&lines);
        return 0;
    }
    size_t off = 0;
    while (off < size) {
        size_t chunk = 1 + (data[off] % 64);
        if (chunk > size - off)
            chunk = size - off;
        mcp_lines_feed(&lines, (const char *)data + off, chunk, on_line, NULL, NULL);
        mcp_sse_feed(&sse, (const char *)data + off, chunk, on_line, NULL);
        off += chunk;
    }
    mcp_lines_free(&lines);
    mcp_sse_free(&sse);
    return 0;
}
