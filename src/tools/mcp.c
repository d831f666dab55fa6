/* The MCP client. Per server: a supervisor thread (spawn, handshake, list the
 * tools, wait for the child to exit, back off, again) and, while a child
 * lives, a reader thread that routes its JSON-RPC responses to the callers
 * waiting on them. Calls come from tool jobs on the I/O pool. A remote server
 * (url:) has no child: writing a message is a POST (mcp_http), whose answer
 * is routed the same way, and a failed POST stands for the child's exit. */
#include "tools/mcp.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "tools/mcp_http.h"
#include "tools/mcp_wire.h"

extern char **environ;

#define MAX_MESSAGE (4 << 20) /* one JSON-RPC line from the server */
#define PROTOCOL_VERSION "2025-06-18"
#define STABLE_US (60 * 1000000LL) /* a run this long resets the back-off */

struct pending {
    int64_t id;
    int done;
    cJSON *result;
    char error[512];
    struct pending *next;
};

struct mcp_client {
    struct mcp_server_config cfg;
    struct mcp_params p;
    tools *registry;
    char prefix[40];
    pthread_t supervisor;

    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t cond;
    int stopping, refresh;
    enum mcp_state state;
    int ntools, restarts;
    int connected, reader_done;
    int64_t next_id;
    struct pending *pending;

    pthread_mutex_t write_lock;
    mcp_http *http; /* a remote server (url:); NULL: a child over stdio */
    pid_t pid;
    int to_child, from_child;
};

struct mcp_params mcp_default_params(void)
{
    return (struct mcp_params){.request_timeout_ms = 30000, .backoff_min_ms = 500, .backoff_max_ms = 30000};
}

const char *mcp_name(const mcp_client *c) { return c->cfg.name; }

const char *mcp_state_name(enum mcp_state st)
{
    return st == MCP_READY ? "ready" : st == MCP_STARTING ? "starting" : "restarting";
}

enum mcp_state mcp_get_state(mcp_client *c, int *ntools, int *restarts)
{
    pthread_mutex_lock(&c->lock);
    enum mcp_state st = c->state;
    if (ntools)
        *ntools = c->ntools;
    if (restarts)
        *restarts = c->restarts;
    pthread_mutex_unlock(&c->lock);
    return st;
}

/* Waits on the client's condition (lock held) for at most wait_us. */
static void wait_us(mcp_client *c, int64_t us)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)(us * 1000);
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&c->cond, &c->lock, &ts);
}

/* ---- the wire ---- */

static void handle_parsed(mcp_client *c, const struct mcp_message *m);

/* The connection is gone (the child exited, a POST failed): calls waiting
 * fail now, and the supervisor starts over. */
static void connection_lost(mcp_client *c, const char *why)
{
    pthread_mutex_lock(&c->lock);
    c->connected = 0;
    c->reader_done = 1;
    for (struct pending *p = c->pending; p; p = p->next)
        if (!p->done) {
            snprintf(p->error, sizeof p->error, "the MCP server '%s' %s during the call", c->cfg.name, why);
            p->done = 1;
        }
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void http_other(void *ud, const struct mcp_message *m)
{
    handle_parsed(ud, m);
}

struct http_cancel {
    mcp_client *c;
    int (*cancelled)(void *);
    void *ud;
};

static int http_cancelled(void *ud)
{
    struct http_cancel *hc = ud;
    pthread_mutex_lock(&hc->c->lock);
    int stopping = hc->c->stopping;
    pthread_mutex_unlock(&hc->c->lock);
    return stopping || (hc->cancelled && hc->cancelled(hc->ud));
}

/* A message to a remote server: a POST whose answer (the response, and any
 * notifications) is routed as if read from a child. Cancelled or timed out,
 * it counts as sent: the caller's wait then gives up as for a child. */
static int post_message(mcp_client *c, const cJSON *msg, int timeout_ms, int (*cancelled)(void *), void *ud)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
    int is_request = cJSON_IsNumber(id) && cJSON_GetObjectItemCaseSensitive(msg, "method");
    struct http_cancel hc = {c, cancelled, ud};
    struct mcp_message answer;
    char why[600];
    enum mcp_http_result r = mcp_http_post(c->http, msg, is_request ? (int64_t)id->valuedouble : -1, timeout_ms,
                                           http_cancelled, &hc, http_other, c, &answer, why, sizeof why);
    if (r == MCP_HTTP_OK && is_request) {
        handle_parsed(c, &answer);
        mcp_message_free(&answer);
    }
    if (r == MCP_HTTP_FAILED || r == MCP_HTTP_GONE) {
        log_warn("mcp %s: %s", c->cfg.name, why);
        connection_lost(c, r == MCP_HTTP_GONE ? "forgot the session" : "could not be reached");
        return -1;
    }
    return 0;
}

/* Writes one message and its newline, waiting at most timeout_ms for room
 * in the pipe: a server that stops reading cannot hang a worker. */
static int write_message(mcp_client *c, const cJSON *msg, int timeout_ms, int (*cancelled)(void *), void *ud)
{
    if (c->http)
        return post_message(c, msg, timeout_ms, cancelled, ud);
    char *text = cJSON_PrintUnformatted(msg);
    if (!text)
        return -1;
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the terminator; length is tracked */
    int64_t deadline = clock_now_us() + (int64_t)timeout_ms * 1000;
    int rc = 0;
    pthread_mutex_lock(&c->write_lock);
    for (size_t off = 0; off < len + 1 && rc == 0;) {
        if (c->to_child < 0) {
            rc = -1;
            break;
        }
        ssize_t n = write(c->to_child, text + off, len + 1 - off);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            rc = -1;
            break;
        }
        int left = (int)((deadline - clock_now_us()) / 1000);
        struct pollfd pfd = {c->to_child, POLLOUT, 0};
        if (left <= 0 || poll(&pfd, 1, left) <= 0)
            rc = -1;
    }
    pthread_mutex_unlock(&c->write_lock);
    free(text);
    return rc;
}

static void notify(mcp_client *c, const char *method, cJSON *params)
{
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "jsonrpc", "2.0");
    cJSON_AddStringToObject(msg, "method", method);
    if (params)
        cJSON_AddItemToObject(msg, "params", params);
    write_message(c, msg, 1000, NULL, NULL);
    cJSON_Delete(msg);
}

/* Sends a request and waits for its response. params is consumed. */
static int rpc(mcp_client *c, const char *method, cJSON *params, int timeout_ms, int (*cancelled)(void *), void *ud,
               cJSON **result, char *err, size_t errlen)
{
    *result = NULL;
    struct pending p = {0};
    pthread_mutex_lock(&c->lock);
    if (!c->connected) {
        pthread_mutex_unlock(&c->lock);
        cJSON_Delete(params);
        snprintf(err, errlen, "the MCP server '%s' is not running (it is being restarted)", c->cfg.name);
        return -1;
    }
    p.id = ++c->next_id;
    p.next = c->pending;
    c->pending = &p;
    pthread_mutex_unlock(&c->lock);

    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "jsonrpc", "2.0");
    cJSON_AddNumberToObject(msg, "id", (double)p.id);
    cJSON_AddStringToObject(msg, "method", method);
    cJSON_AddItemToObject(msg, "params", params ? params : cJSON_CreateObject());
    int sent = write_message(c, msg, timeout_ms, cancelled, ud) == 0;
    cJSON_Delete(msg);

    int64_t deadline = clock_now_us() + (int64_t)timeout_ms * 1000;
    int gave_up = 0;
    pthread_mutex_lock(&c->lock);
    while (sent && !p.done) {
        int64_t now = clock_now_us();
        if (now >= deadline || c->stopping || (cancelled && cancelled(ud))) {
            gave_up = now >= deadline ? 1 : 2;
            break;
        }
        wait_us(c, deadline - now < 100000 ? deadline - now : 100000); /* polls cancellation */
    }
    for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next)
        if (*pp == &p) {
            *pp = p.next;
            break;
        }
    pthread_mutex_unlock(&c->lock);

    if (!sent) {
        snprintf(err, errlen, "cannot write to the MCP server '%s'", c->cfg.name);
        return -1;
    }
    if (gave_up) {
        cJSON *cp = cJSON_CreateObject();
        cJSON_AddNumberToObject(cp, "requestId", (double)p.id);
        cJSON_AddStringToObject(cp, "reason", gave_up == 1 ? "timed out" : "the user interrupted");
        notify(c, "notifications/cancelled", cp);
        snprintf(err, errlen, gave_up == 1 ? "the MCP server '%s' did not answer %s within %d ms"
                                           : "the call to the MCP server '%s' was cancelled (%s)",
                 c->cfg.name, method, timeout_ms);
        return -1;
    }
    if (p.error[0]) {
        snprintf(err, errlen, "%s", p.error);
        cJSON_Delete(p.result);
        return -1;
    }
    *result = p.result;
    return 0;
}

/* ---- the reader ---- */

static void answer_server_request(mcp_client *c, const cJSON *id, const char *method)
{
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "jsonrpc", "2.0");
    cJSON_AddItemToObject(msg, "id", cJSON_Duplicate(id, 1));
    if (!strcmp(method, "ping")) {
        cJSON_AddItemToObject(msg, "result", cJSON_CreateObject());
    } else { /* sampling, roots, elicitation: not offered in our capabilities */
        cJSON *e = cJSON_AddObjectToObject(msg, "error");
        cJSON_AddNumberToObject(e, "code", -32601);
        cJSON_AddStringToObject(e, "message", "method not supported by this client");
    }
    write_message(c, msg, 1000, NULL, NULL);
    cJSON_Delete(msg);
}

static void handle_parsed(mcp_client *c, const struct mcp_message *m)
{
    switch (m->kind) {
    case MCP_MSG_INVALID: log_warn("mcp %s: ignoring a message that is not a JSON object", c->cfg.name); break;
    case MCP_MSG_REQUEST: answer_server_request(c, m->id, m->method); break;
    case MCP_MSG_NOTIFICATION:
        if (!strcmp(m->method, "notifications/tools/list_changed")) {
            pthread_mutex_lock(&c->lock);
            c->refresh = 1;
            pthread_cond_broadcast(&c->cond);
            pthread_mutex_unlock(&c->lock);
        }
        break;
    case MCP_MSG_RESPONSE:
        pthread_mutex_lock(&c->lock);
        for (struct pending *p = c->pending; p; p = p->next) {
            if (p->id != m->response_id)
                continue;
            if (m->error[0])
                snprintf(p->error, sizeof p->error, "the MCP server '%s' answered an error: %s", c->cfg.name, m->error);
            else
                p->result = cJSON_Duplicate(m->result, 1);
            p->done = 1;
            pthread_cond_broadcast(&c->cond);
            break;
        }
        pthread_mutex_unlock(&c->lock);
        break;
    case MCP_MSG_OTHER: break;
    }
}

static void handle_message(void *ud, const char *line, size_t len)
{
    struct mcp_message m;
    mcp_message_parse(line, len, &m);
    handle_parsed(ud, &m);
    mcp_message_free(&m);
}

static void message_too_long(void *ud)
{
    mcp_client *c = ud;
    log_warn("mcp %s: a message over %d bytes was dropped", c->cfg.name, MAX_MESSAGE);
}

static void *reader_main(void *arg)
{
    mcp_client *c = arg;
    struct mcp_lines lines;
    int ok = mcp_lines_init(&lines, MAX_MESSAGE) == 0;
    char chunk[16384];
    ssize_t n;
    while (ok && (n = read(c->from_child, chunk, sizeof chunk)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        mcp_lines_feed(&lines, chunk, (size_t)n, handle_message, message_too_long, c);
    }
    mcp_lines_free(&lines);
    connection_lost(c, "exited");
    return NULL;
}

/* ---- the child ---- */

static int spawn_child(mcp_client *c, char *err, size_t errlen)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC))
        goto fail_errno;
    if (pipe2(out, O_CLOEXEC)) {
        close(in[0]), close(in[1]);
        goto fail_errno;
    }
    char *argv[CONFIG_MAX_MCP_ARGS + 2];
    argv[0] = c->cfg.command;
    for (int i = 0; i < c->cfg.nargs; i++)
        argv[i + 1] = c->cfg.args[i];
    argv[c->cfg.nargs + 1] = NULL;
    /* parley's environment plus the configured NAME=value entries. */
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **envp = calloc(nenv + CONFIG_MAX_MCP_ARGS + 1, sizeof *envp);
    if (!envp) {
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++) {
        int overridden = 0;
        for (int j = 0; j < c->cfg.nenv; j++) {
            const char *eq = strchr(c->cfg.env[j], '=');
            size_t nl = eq ? (size_t)(eq - c->cfg.env[j]) : strlen(c->cfg.env[j]);
            overridden |= !strncmp(environ[i], c->cfg.env[j], nl) && environ[i][nl] == '=';
        }
        if (!overridden)
            envp[k++] = environ[i];
    }
    for (int j = 0; j < c->cfg.nenv; j++)
        envp[k++] = c->cfg.env[j];

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t dflt;
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE); /* parley ignores it; the child should not inherit that */
    sigaddset(&dflt, SIGTERM);
    sigaddset(&dflt, SIGINT);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    /* Its own process group, so that stopping it reaches its children too. */
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    int rc = posix_spawnp(&pid, c->cfg.command, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(envp);
    close(in[0]);
    close(out[1]);
    if (rc) {
        close(in[1]);
        close(out[0]);
        snprintf(err, errlen, "cannot start '%s': %s", c->cfg.command, strerror(rc));
        return -1;
    }
    fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
    c->pid = pid;
    c->to_child = in[1];
    c->from_child = out[0];
    return 0;
fail_errno:
    snprintf(err, errlen, "cannot make pipes: %s", strerror(errno));
    return -1;
}

/* Waits (holding the lock) until the reader is done or timeout_ms passes. */
static int wait_reader_done(mcp_client *c, int timeout_ms)
{
    int64_t deadline = clock_now_us() + (int64_t)timeout_ms * 1000;
    while (!c->reader_done) {
        int64_t left = deadline - clock_now_us();
        if (left <= 0)
            return -1;
        wait_us(c, left < 100000 ? left : 100000);
    }
    return 0;
}

/* Closes its stdin (a polite MCP server exits on EOF), then signals. */
static int end_child(mcp_client *c, pthread_t reader)
{
    pthread_mutex_lock(&c->write_lock);
    close(c->to_child);
    c->to_child = -1;
    pthread_mutex_unlock(&c->write_lock);
    pthread_mutex_lock(&c->lock);
    if (wait_reader_done(c, 2000)) {
        kill(-c->pid, SIGTERM);
        if (wait_reader_done(c, 2000))
            kill(-c->pid, SIGKILL);
        wait_reader_done(c, 5000);
    }
    pthread_mutex_unlock(&c->lock);
    pthread_join(reader, NULL);
    close(c->from_child);
    int status = 0;
    while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

/* ---- tools ---- */

static int call_tool(void *ud, const cJSON *args, const struct tool_ctx *ctx, char **result)
{
    mcp_client *c = ud;
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "name", ctx->name + strlen(c->prefix));
    cJSON_AddItemToObject(params, "arguments", cJSON_Duplicate(args, 1));
    cJSON *res = NULL;
    char err[600];
    if (rpc(c, "tools/call", params, ctx->timeout_ms, ctx->cancelled, ctx->cancelled_ud, &res, err, sizeof err)) {
        *result = strdup(err);
        return -1;
    }
    int failed = 0;
    char *text = mcp_tool_result_text(res, &failed);
    cJSON_Delete(res);
    *result = text ? text : strdup("");
    return failed ? -1 : 0;
}

/* Lists the server's tools (following cursors) into the registry. Each tool
 * is replaced in place and the ones gone are dropped at the end: a session
 * asking for the definitions meanwhile sees the whole list, old or new. */
static int list_tools(mcp_client *c, char *err, size_t errlen)
{
    char *names[TOOLS_MAX];
    int count = 0, rc = -1;
    char cursor[512] = "";
    for (int page = 0; page < 50; page++) {
        cJSON *params = cJSON_CreateObject(), *res;
        if (cursor[0])
            cJSON_AddStringToObject(params, "cursor", cursor);
        if (rpc(c, "tools/list", params, c->p.request_timeout_ms, NULL, NULL, &res, err, errlen))
            goto done;
        const cJSON *t;
        cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(res, "tools"))
        {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
            const cJSON *desc = cJSON_GetObjectItemCaseSensitive(t, "description");
            if (!cJSON_IsString(name))
                continue;
            char full[160];
            snprintf(full, sizeof full, "%s%s", c->prefix, name->valuestring);
            char *schema = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(t, "inputSchema"));
            struct tool_def def = {full, cJSON_IsString(desc) ? desc->valuestring : "", schema, 1, call_tool, c};
            /* A remote tool may change anything: its calls are logged. */
            if (count < TOOLS_MAX && tools_add(c->registry, &def) == 0 && (names[count] = strdup(full)))
                count++;
            free(schema);
        }
        const cJSON *next = cJSON_GetObjectItemCaseSensitive(res, "nextCursor");
        int more = cJSON_IsString(next) && next->valuestring[0];
        if (more)
            snprintf(cursor, sizeof cursor, "%s", next->valuestring);
        cJSON_Delete(res);
        if (!more)
            break;
    }
    tools_retain_prefix(c->registry, c->prefix, names, count);
    pthread_mutex_lock(&c->lock);
    c->ntools = count;
    pthread_mutex_unlock(&c->lock);
    rc = count;
done:
    for (int i = 0; i < count; i++)
        free(names[i]);
    return rc;
}

static int handshake(mcp_client *c, char *err, size_t errlen)
{
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "protocolVersion", PROTOCOL_VERSION);
    cJSON_AddObjectToObject(params, "capabilities");
    cJSON *info = cJSON_AddObjectToObject(params, "clientInfo");
    cJSON_AddStringToObject(info, "name", "parley");
    cJSON_AddStringToObject(info, "version", "0.4");
    cJSON *res;
    if (rpc(c, "initialize", params, c->p.request_timeout_ms, NULL, NULL, &res, err, errlen))
        return -1;
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(res, "protocolVersion");
    if (!cJSON_IsString(version)) {
        snprintf(err, errlen, "the MCP server '%s' answered initialize without a protocolVersion", c->cfg.name);
        cJSON_Delete(res);
        return -1;
    }
    cJSON_Delete(res);
    notify(c, "notifications/initialized", NULL);
    return 0;
}

/* ---- the supervisor ---- */

static void set_state(mcp_client *c, enum mcp_state st)
{
    pthread_mutex_lock(&c->lock);
    c->state = st;
    pthread_mutex_unlock(&c->lock);
}

static void *supervisor_main(void *arg)
{
    mcp_client *c = arg;
    int backoff = c->p.backoff_min_ms;
    for (;;) {
        char err[600] = "";
        int64_t started = clock_now_us();
        pthread_t reader;
        int running = 0;
        if (c->http) { /* nothing to start: the handshake finds out whether it answers */
            pthread_mutex_lock(&c->lock);
            c->connected = 1;
            c->reader_done = 0;
            pthread_mutex_unlock(&c->lock);
            running = 1;
        } else if (spawn_child(c, err, sizeof err) == 0) {
            pthread_mutex_lock(&c->lock);
            c->connected = 1;
            c->reader_done = 0;
            pthread_mutex_unlock(&c->lock);
            if (pthread_create(&reader, NULL, reader_main, c) == 0) {
                running = 1;
            } else {
                snprintf(err, sizeof err, "cannot start a reader thread");
                pthread_mutex_lock(&c->lock);
                c->connected = 0; /* calls must not write to a server nobody reads */
                pthread_mutex_unlock(&c->lock);
                close(c->to_child);
                close(c->from_child);
                c->to_child = c->from_child = -1;
                kill(-c->pid, SIGKILL);
                waitpid(c->pid, NULL, 0);
            }
        }
        if (running && handshake(c, err, sizeof err) == 0 && list_tools(c, err, sizeof err) >= 0) {
            int n;
            mcp_get_state(c, &n, NULL);
            log_info("mcp %s: ready, %d tools offered as %s*", c->cfg.name, n, c->prefix);
            set_state(c, MCP_READY);
            pthread_mutex_lock(&c->lock);
            while (!c->reader_done && !c->stopping) {
                if (c->refresh) {
                    c->refresh = 0;
                    pthread_mutex_unlock(&c->lock);
                    list_tools(c, err, sizeof err);
                    pthread_mutex_lock(&c->lock);
                    continue;
                }
                pthread_cond_wait(&c->cond, &c->lock);
            }
            pthread_mutex_unlock(&c->lock);
            err[0] = 0;
        }
        tools_remove_prefix(c->registry, c->prefix);
        pthread_mutex_lock(&c->lock);
        c->ntools = 0;
        int stopping = c->stopping;
        pthread_mutex_unlock(&c->lock);
        int status = 0;
        if (c->http) {
            pthread_mutex_lock(&c->lock);
            c->connected = 0;
            pthread_mutex_unlock(&c->lock);
            mcp_http_end_session(c->http); /* a new handshake gets a new session */
            running = 0;                   /* no exit status to report */
        } else if (running) {
            status = end_child(c, reader);
        }
        if (stopping)
            break;
        if (clock_now_us() - started > STABLE_US)
            backoff = c->p.backoff_min_ms;
        pthread_mutex_lock(&c->lock);
        c->restarts++;
        c->state = MCP_RESTARTING;
        pthread_mutex_unlock(&c->lock);
        char how[64] = "";
        if (running && WIFEXITED(status))
            snprintf(how, sizeof how, " (exit status %d)", WEXITSTATUS(status));
        else if (running && WIFSIGNALED(status))
            snprintf(how, sizeof how, " (signal %d)", WTERMSIG(status));
        log_warn("mcp %s: %s%s; %s in %d ms", c->cfg.name,
                 err[0] ? err : c->http ? "the connection was lost" : "the server exited", how,
                 c->http ? "reconnecting" : "restarting", backoff);
        /* Back off, but wake at once for mcp_stop. */
        pthread_mutex_lock(&c->lock);
        int64_t until = clock_now_us() + (int64_t)backoff * 1000;
        while (!c->stopping && clock_now_us() < until)
            wait_us(c, until - clock_now_us()); /* mcp_begin_stop wakes it */
        stopping = c->stopping;
        pthread_mutex_unlock(&c->lock);
        if (stopping)
            break;
        backoff = backoff * 2 < c->p.backoff_max_ms ? backoff * 2 : c->p.backoff_max_ms;
    }
    return NULL;
}

mcp_client *mcp_start(const struct mcp_server_config *cfg, const struct mcp_params *p, tools *registry)
{
    mcp_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->cfg = *cfg;
    c->p = *p;
    c->registry = registry;
    c->to_child = c->from_child = -1;
    snprintf(c->prefix, sizeof c->prefix, "%s__", cfg->name);
    if (cfg->url[0] && !(c->http = mcp_http_new(cfg->url, cfg->headers, cfg->nheaders, PROTOCOL_VERSION))) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->write_lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    if (pthread_create(&c->supervisor, NULL, supervisor_main, c)) {
        mcp_http_free(c->http);
        pthread_mutex_destroy(&c->lock);
        pthread_mutex_destroy(&c->write_lock);
        pthread_cond_destroy(&c->cond);
        free(c);
        return NULL;
    }
    return c;
}

void mcp_begin_stop(mcp_client *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = 1;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

void mcp_stop(mcp_client *c)
{
    if (!c)
        return;
    mcp_begin_stop(c);
    pthread_join(c->supervisor, NULL);
    mcp_http_free(c->http);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->write_lock);
    pthread_cond_destroy(&c->cond);
    free(c);
}
