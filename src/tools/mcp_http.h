/* MCP's Streamable HTTP transport (protocol 2025-06-18): every JSON-RPC
 * message is a POST to the server's URL; a request's answer is JSON, or
 * server-sent events that carry it; the session id the server gives at
 * initialize goes on every later request. libcurl, on the caller's thread. */
#ifndef PARLEY_MCP_HTTP_H
#define PARLEY_MCP_HTTP_H
#include <cjson/cJSON.h>
#include <stdint.h>

#include "tools/mcp_wire.h"

enum mcp_http_result {
    MCP_HTTP_OK = 0,
    MCP_HTTP_FAILED = -1,    /* no answer, or an HTTP error: the server is down or refusing */
    MCP_HTTP_GONE = -2,      /* the server forgot our session: initialize again */
    MCP_HTTP_CANCELLED = -3, /* cancelled() said so, or the time ran out */
};

typedef struct mcp_http mcp_http;
/* headers: "Name: value" lines sent with every request (authorization). */
mcp_http *mcp_http_new(const char *url, const char (*headers)[256], int nheaders, const char *protocol_version);
void mcp_http_free(mcp_http *h);
/* Posts msg. For a request (id >= 0) waits for the response with that id
 * (*out filled, free with mcp_message_free); for a notification (id < 0)
 * only for the server's acceptance. Messages the server sends meanwhile
 * (notifications) go to on_other. err says why on failure. */
enum mcp_http_result mcp_http_post(mcp_http *h, const cJSON *msg, int64_t id, int timeout_ms,
                                   int (*cancelled)(void *), void *cancelled_ud,
                                   void (*on_other)(void *ud, const struct mcp_message *m), void *other_ud,
                                   struct mcp_message *out, char *err, size_t errlen);
/* Ends the session on the server (DELETE) and forgets its id. */
void mcp_http_end_session(mcp_http *h);

#endif
