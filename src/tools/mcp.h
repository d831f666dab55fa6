/* An MCP client over stdio (starts the configured server as a child process)
 * or Streamable HTTP (a remote server's url): speaks JSON-RPC 2.0 to it
 * (initialize, tools/list, tools/call), and keeps its tools in the registry
 * as <name>__<tool>. A supervisor thread restarts a server that exits, or
 * reconnects to one that stops answering, with back-off; its tools are
 * withdrawn meanwhile. */
#ifndef PARLEY_MCP_H
#define PARLEY_MCP_H
#include "core/config.h"
#include "tools/tools.h"

struct mcp_params {
    int request_timeout_ms; /* initialize and tools/list; calls use the tool ctx's */
    int backoff_min_ms, backoff_max_ms;
};
struct mcp_params mcp_default_params(void);

typedef struct mcp_client mcp_client;
/* Starts the supervisor; returns at once (tools appear once the server is up). */
mcp_client *mcp_start(const struct mcp_server_config *cfg, const struct mcp_params *p, tools *registry);
/* Calls in progress give up at once, and no new one starts (shutdown). */
void mcp_begin_stop(mcp_client *c);
/* Withdraws the tools, ends the child (stdin closed, then SIGTERM) and joins. */
void mcp_stop(mcp_client *c);

enum mcp_state { MCP_STARTING, MCP_READY, MCP_RESTARTING };
enum mcp_state mcp_get_state(mcp_client *c, int *ntools, int *restarts);
const char *mcp_name(const mcp_client *c);
const char *mcp_state_name(enum mcp_state st);

#endif
