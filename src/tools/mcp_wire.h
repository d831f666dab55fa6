/* MCP's stdio framing and messages, as pure functions: one JSON-RPC message
 * a line (RFC: newline-delimited, no embedded newlines), classified into
 * requests, notifications and responses; and a tools/call result turned
 * into the text a model reads. What a server writes is outside input: these
 * are the parts fuzzed (tests/fuzz/fuzz_mcp.c). */
#ifndef PARLEY_MCP_WIRE_H
#define PARLEY_MCP_WIRE_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* Splits a byte stream into lines of at most max bytes; a longer line is
 * skipped whole (on_overlong is told once per such line). */
struct mcp_lines {
    char *buf;
    size_t len, max;
    int skipping;
    int keep_empty; /* hand on empty lines too (server-sent events end with one) */
};
int mcp_lines_init(struct mcp_lines *l, size_t max);
void mcp_lines_free(struct mcp_lines *l);
void mcp_lines_feed(struct mcp_lines *l, const char *data, size_t n, void (*on_line)(void *ud, const char *line, size_t len),
                    void (*on_overlong)(void *ud), void *ud);

enum mcp_kind { MCP_MSG_INVALID, MCP_MSG_REQUEST, MCP_MSG_NOTIFICATION, MCP_MSG_RESPONSE, MCP_MSG_OTHER };
struct mcp_message {
    enum mcp_kind kind;
    cJSON *root;          /* owned: free with mcp_message_free */
    const char *method;   /* requests and notifications */
    const cJSON *id;      /* requests (any JSON id) */
    int64_t response_id;  /* responses: our ids are integers */
    const cJSON *result;  /* responses: NULL on error */
    char error[400];      /* responses: the server's error message */
};
/* Parses one line. Returns its kind (MCP_MSG_INVALID: not JSON). */
enum mcp_kind mcp_message_parse(const char *line, size_t len, struct mcp_message *m);
void mcp_message_free(struct mcp_message *m);

/* Server-sent events (a Streamable HTTP server's answer): each event's data
 * lines joined by '\n', handed on at the blank line that ends it. Other
 * fields and comments are skipped; an event whose data exceeds max is
 * dropped whole. */
struct mcp_sse {
    struct mcp_lines lines;
    char *data;
    size_t len, max;
    int have, dropping;
    void (*on_event)(void *ud, const char *data, size_t len);
    void *ud;
};
int mcp_sse_init(struct mcp_sse *s, size_t max);
void mcp_sse_free(struct mcp_sse *s);
void mcp_sse_feed(struct mcp_sse *s, const char *bytes, size_t n, void (*on_event)(void *ud, const char *data, size_t len),
                  void *ud);

/* A tools/call result as text: the text parts joined by newlines, or the
 * structured content when there is no text; *is_error from isError.
 * malloc'd; never NULL unless out of memory. */
char *mcp_tool_result_text(const cJSON *result, int *is_error);

#endif
