/* The tool registry: what the LLM may call, and running a call. Built-in
 * tools (memory, the structured tables, the time) and MCP servers' tools sit
 * behind the same handler signature, so a new source of tools is one file. */
#ifndef PARLEY_TOOLS_H
#define PARLEY_TOOLS_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* What a running call may know of the turn it serves. */
struct tool_ctx {
    const char *name; /* the tool's registered name (set by tools_call) */
    const char *conversation_id;
    uint64_t turn;
    int64_t user_id; /* whose data the built-in tools see (store.h) */
    /* Polled by slow handlers: 1 once the turn was interrupted. */
    int (*cancelled)(void *ud);
    void *cancelled_ud;
    int timeout_ms;
};

/* Runs on a worker. Returns 0 with a malloc'd result text in *result, or
 * -1 with a malloc'd error message in *result. */
typedef int (*tool_fn)(void *ud, const cJSON *args, const struct tool_ctx *ctx, char **result);

struct tool_def {
    const char *name;
    const char *description;
    const char *parameters;  /* JSON Schema text of the arguments object */
    int changes_data;        /* logged in the conversation when called */
    tool_fn fn;
    void *ud;
};

typedef struct tools tools;
tools *tools_new(void);
void tools_free(tools *t);
/* Adds or replaces a tool by name. Returns 0, or -1 past TOOLS_MAX. */
#define TOOLS_MAX 256
int tools_add(tools *t, const struct tool_def *def);
/* Drops every tool whose name starts with prefix (an MCP server went away). */
void tools_remove_prefix(tools *t, const char *prefix);
/* Drops the tools whose name starts with prefix but is not among keep (a
 * server's new list replaces its old one without an empty moment). */
void tools_retain_prefix(tools *t, const char *prefix, char *const *keep, int nkeep);
int tools_count(tools *t);
/* The definitions as the LLM wire takes them (a JSON array's text); NULL when
 * there are none. The caller frees it. */
char *tools_definitions(tools *t);
/* Runs a call by name. args_json is the model's argument text, which may be
 * anything. Returns the result text (malloc'd) and sets *is_error and
 * *changes_data. */
char *tools_call(tools *t, const char *name, const char *args_json, const struct tool_ctx *ctx, int *is_error,
                 int *changes_data);

#endif
