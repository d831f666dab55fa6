/* The request runner: one detached thread per reply drives libcurl, splits
 * the body into lines for the wire format, enforces the time limits, and
 * holds the stream while the session asks it to (pause). */
#include "llm/llm.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/http_util.h"
#include "core/utf8.h"

#define MAX_LINE (1 << 20)

struct llm_params llm_default_params(void)
{
    return (struct llm_params){
        .provider = "ollama",
        .url = "http://127.0.0.1:11434",
        .model = "mistral",
        .api_key = "",
        .first_token_timeout_ms = 5000,
        .think = 0,
        .timeout_s = 30,
        .max_reply_chars = 8000,
    };
}

const struct llm_wire *llm_wire_find(const char *provider)
{
    if (!strcmp(provider, "ollama"))
        return &llm_wire_ollama;
    if (!strcmp(provider, "openai"))
        return &llm_wire_openai;
    return NULL;
}

/* Tool calls are kept in one neutral shape ({"id","name","arguments"}) and
 * written here as each provider wants them. */
static cJSON *wire_tool_calls(const char *neutral, int openai_shape)
{
    cJSON *in = cJSON_Parse(neutral), *out = cJSON_CreateArray(), *call;
    cJSON_ArrayForEach(call, in)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(call, "id");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(call, "name");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(call, "arguments");
        cJSON *c = cJSON_CreateObject(), *fn = cJSON_CreateObject();
        if (openai_shape) {
            cJSON_AddStringToObject(c, "id", cJSON_IsString(id) ? id->valuestring : "call_0");
            cJSON_AddStringToObject(c, "type", "function");
        }
        cJSON_AddStringToObject(fn, "name", cJSON_IsString(name) ? name->valuestring : "");
        if (openai_shape) {
            char *text = args ? cJSON_PrintUnformatted(args) : NULL;
            cJSON_AddStringToObject(fn, "arguments", text ? text : "{}");
            free(text);
        } else {
            cJSON_AddItemToObject(fn, "arguments", args ? cJSON_Duplicate(args, 1) : cJSON_CreateObject());
        }
        cJSON_AddItemToObject(c, "function", fn);
        cJSON_AddItemToArray(out, c);
    }
    cJSON_Delete(in);
    return out;
}

char *llm_json_chat_body(const struct llm_params *p, const struct llm_message *msgs, int n, int openai_shape)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", p->model);
    cJSON_AddBoolToObject(root, "stream", 1);
    if (!openai_shape && p->think >= 0) /* Ollama: thinking delays the first spoken word */
        cJSON_AddBoolToObject(root, "think", p->think);
    cJSON *arr = cJSON_AddArrayToObject(root, "messages");
    for (int i = 0; i < n; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", msgs[i].role);
        if (msgs[i].tool_calls && openai_shape && !msgs[i].content[0])
            cJSON_AddNullToObject(m, "content");
        else
            cJSON_AddStringToObject(m, "content", msgs[i].content);
        if (msgs[i].tool_calls)
            cJSON_AddItemToObject(m, "tool_calls", wire_tool_calls(msgs[i].tool_calls, openai_shape));
        if (msgs[i].tool_call_id && openai_shape)
            cJSON_AddStringToObject(m, "tool_call_id", msgs[i].tool_call_id);
        if (msgs[i].tool_name && !openai_shape)
            cJSON_AddStringToObject(m, "tool_name", msgs[i].tool_name);
        cJSON_AddItemToArray(arr, m);
    }
    cJSON *tools = p->tools ? cJSON_Parse(p->tools) : NULL;
    if (cJSON_GetArraySize(tools) > 0)
        cJSON_AddItemToObject(root, "tools", tools);
    else
        cJSON_Delete(tools);
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

int llm_global_init(void) { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1; }

/* ---- shared connections ---- */

struct llm_connections {
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
    atomic_int refs;
};

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    (void)h, (void)access;
    pthread_mutex_lock(&((llm_connections *)ud)->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    (void)h;
    pthread_mutex_unlock(&((llm_connections *)ud)->locks[data]);
}

llm_connections *llm_connections_new(void)
{
    llm_connections *c = calloc(1, sizeof *c);
    if (!c || !(c->share = curl_share_init())) {
        free(c);
        return NULL;
    }
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    atomic_init(&c->refs, 1);
    return c;
}

static llm_connections *connections_retain(llm_connections *c)
{
    if (c)
        atomic_fetch_add(&c->refs, 1);
    return c;
}

void llm_connections_free(llm_connections *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    curl_share_cleanup(c->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->locks[i]);
    free(c);
}

struct llm_request {
    const struct llm_wire *wire;
    llm_connections *connections; /* a reference, dropped after the transfer */
    char url[600], model[128], api_key[256];
    int first_token_timeout_ms, timeout_s, max_reply_chars;
    char *body;
    struct llm_callbacks cb;
    void *ud;

    pthread_mutex_t lock; /* guards the four below and every callback */
    pthread_cond_t cond;
    int cancelled, paused, refs;

    /* Touched only by the request's thread. */
    char *line;
    size_t line_len;
    int64_t start_us, paused_us;
    int got_token, finished, first_token_timeout, reply_timeout;
    int progressed; /* text, reasoning or a tool call's pieces: the model is working */
    int thinking_told;
    long http_status;
    char err[512];
    char errbody[1024];
    size_t errbody_len;
    size_t reply_chars;
    char utf8_tail[4]; /* a character's first bytes, its rest in the next token */
    size_t utf8_tail_len;
    struct {
        char id[64], name[128];
        char *args;
        size_t len;
    } calls[LLM_MAX_TOOL_CALLS];
    int ncalls;
};

struct llm_params llm_params_from_config(const struct parley_config *cfg)
{
    struct llm_params p = llm_default_params();
    p.provider = cfg->llm_provider;
    p.url = cfg->llm_url;
    p.model = cfg->llm_model;
    p.api_key = cfg->llm_api_key;
    p.first_token_timeout_ms = cfg->llm_first_token_timeout_ms;
    p.timeout_s = cfg->llm_timeout_s;
    p.max_reply_chars = cfg->llm_max_reply_chars;
    p.think = !strcmp(cfg->llm_think, "on") ? 1 : !strcmp(cfg->llm_think, "off") ? 0 : -1;
    return p;
}

static void release(llm_request *r)
{
    pthread_mutex_lock(&r->lock);
    int left = --r->refs;
    pthread_mutex_unlock(&r->lock);
    if (left)
        return;
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    for (int i = 0; i < r->ncalls; i++)
        free(r->calls[i].args);
    free(r->body);
    free(r->line);
    free(r);
}

/* Text goes on as valid UTF-8: a character split between two tokens is
 * joined, and bytes that are not UTF-8 become U+FFFD. */
static void emit_token(void *ud, const char *text, size_t len)
{
    llm_request *r = ud;
    r->got_token = r->progressed = 1;
    r->reply_chars += len;
    char *joined = malloc(r->utf8_tail_len + len + 1);
    if (!joined)
        return;
    memcpy(joined, r->utf8_tail, r->utf8_tail_len);
    memcpy(joined + r->utf8_tail_len, text, len);
    size_t n = r->utf8_tail_len + len;
    r->utf8_tail_len = utf8_incomplete_tail(joined, n);
    n -= r->utf8_tail_len;
    memcpy(r->utf8_tail, joined + n, r->utf8_tail_len);
    joined[n] = 0;
    size_t clean_len = n;
    char *clean = utf8_valid(joined, n) ? NULL : utf8_repair(joined, n, &clean_len);
    pthread_mutex_lock(&r->lock);
    if (!r->cancelled && clean_len)
        r->cb.token(r->ud, clean ? clean : joined, clean_len);
    pthread_mutex_unlock(&r->lock);
    free(clean);
    free(joined);
    if (r->reply_chars >= (size_t)r->max_reply_chars)
        r->finished = 1; /* keep what was said; stop reading */
}

/* Reasoning is progress (the first-token timer is for a model that does
 * nothing), never reply text. */
static void emit_thinking(void *ud, const char *text, size_t len)
{
    (void)text, (void)len;
    llm_request *r = ud;
    r->progressed = 1;
    if (r->thinking_told)
        return;
    r->thinking_told = 1;
    pthread_mutex_lock(&r->lock);
    if (!r->cancelled && r->cb.thinking)
        r->cb.thinking(r->ud);
    pthread_mutex_unlock(&r->lock);
}

static void emit_tool(void *ud, int index, const char *id, const char *name, const char *args, size_t len)
{
    llm_request *r = ud;
    r->progressed = 1;
    if (index < 0)
        index = r->ncalls; /* a whole call: the next slot */
    if (index >= LLM_MAX_TOOL_CALLS) {
        snprintf(r->err, sizeof r->err, "the reply asked for more than %d tool calls", LLM_MAX_TOOL_CALLS);
        return;
    }
    while (r->ncalls <= index)
        memset(&r->calls[r->ncalls++], 0, sizeof r->calls[0]);
    if (id && id[0])
        snprintf(r->calls[index].id, sizeof r->calls[index].id, "%s", id);
    if (name && name[0]) { /* names may come in pieces too */
        size_t have = strlen(r->calls[index].name);
        snprintf(r->calls[index].name + have, sizeof r->calls[index].name - have, "%s", name);
    }
    if (len == 0)
        return;
    if (r->calls[index].len + len > LLM_MAX_TOOL_ARGS) {
        snprintf(r->err, sizeof r->err, "a tool call's arguments exceed %d bytes", LLM_MAX_TOOL_ARGS);
        return;
    }
    char *grown = realloc(r->calls[index].args, r->calls[index].len + len + 1);
    if (!grown)
        return;
    memcpy(grown + r->calls[index].len, args, len);
    r->calls[index].len += len;
    grown[r->calls[index].len] = 0;
    r->calls[index].args = grown;
}

/* Hands the finished calls to the session, in order, before done. */
static void deliver_tool_calls(llm_request *r)
{
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->ncalls && !r->cancelled && r->cb.tool_call; i++) {
        if (!r->calls[i].name[0])
            continue;
        char id[80];
        if (r->calls[i].id[0])
            snprintf(id, sizeof id, "%s", r->calls[i].id);
        else
            snprintf(id, sizeof id, "call_%d", i);
        r->cb.tool_call(r->ud, id, r->calls[i].name, r->calls[i].args && r->calls[i].len ? r->calls[i].args : "{}");
    }
    pthread_mutex_unlock(&r->lock);
}

static int handle_line(llm_request *r, const char *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    struct llm_sink sink = {.text = emit_token, .thinking = emit_thinking, .tool = emit_tool, .ud = r};
    int rc = r->wire->parse_line(line, len, &sink, r->err, sizeof r->err);
    if (r->err[0])
        return -1;
    if (rc > 0)
        r->finished = 1;
    return rc < 0 ? -1 : 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    llm_request *r = ud;
    size_t n = size * nmemb;
    /* Backpressure: hold here while the session has enough phrases queued. */
    pthread_mutex_lock(&r->lock);
    if (r->paused && !r->cancelled) {
        int64_t t0 = clock_now_us();
        while (r->paused && !r->cancelled)
            pthread_cond_wait(&r->cond, &r->lock);
        r->paused_us += clock_now_us() - t0; /* waiting on playback is not the LLM's time */
    }
    int cancelled = r->cancelled;
    pthread_mutex_unlock(&r->lock);
    if (cancelled || r->finished)
        return 0; /* aborts the transfer */
    if (r->http_status >= 400) {
        size_t room = sizeof r->errbody - 1 - r->errbody_len;
        size_t take = n < room ? n : room;
        memcpy(r->errbody + r->errbody_len, data, take);
        r->errbody_len += take;
        r->errbody[r->errbody_len] = 0;
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n') {
            if (handle_line(r, r->line ? r->line : "", r->line_len))
                return 0;
            r->line_len = 0;
            if (r->finished)
                return n;
            continue;
        }
        if (r->line_len + 1 >= MAX_LINE) {
            snprintf(r->err, sizeof r->err, "a line of the stream exceeds %d bytes", MAX_LINE);
            return 0;
        }
        if (!r->line)
            r->line = malloc(MAX_LINE);
        r->line[r->line_len++] = data[i];
    }
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    llm_request *r = ud;
    size_t n = size * nmemb;
    int code = http_status_line(data, n); /* the final response's, after any 100 Continue */
    if (code)
        r->http_status = code;
    return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    llm_request *r = ud;
    pthread_mutex_lock(&r->lock);
    int cancelled = r->cancelled, paused = r->paused;
    pthread_mutex_unlock(&r->lock);
    if (cancelled)
        return 1;
    int64_t elapsed = clock_now_us() - r->start_us;
    if (!r->progressed && !paused && elapsed > (int64_t)r->first_token_timeout_ms * 1000) {
        r->first_token_timeout = 1;
        return 1;
    }
    if (elapsed - r->paused_us > (int64_t)r->timeout_s * 1000000) {
        r->reply_timeout = 1;
        return 1;
    }
    return 0;
}

static void finish(llm_request *r, enum llm_status st, const char *msg)
{
    pthread_mutex_lock(&r->lock);
    if (!r->cancelled)
        r->cb.done(r->ud, st, msg);
    pthread_mutex_unlock(&r->lock);
}

/* Pulls the "error" message out of a JSON error body, whatever its shape. */
static void error_body_message(const char *body, char *out, size_t outlen)
{
    cJSON *j = cJSON_Parse(body);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *m = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "message") : e;
    snprintf(out, outlen, "%.300s", cJSON_IsString(m) ? m->valuestring : body);
    cJSON_Delete(j);
}

static void *request_thread(void *arg)
{
    llm_request *r = arg;
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = http_bearer(hdrs, r->api_key);
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)r->first_token_timeout_ms);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    if (r->connections)
        curl_easy_setopt(c, CURLOPT_SHARE, r->connections->share);
    r->start_us = clock_now_us();
    CURLcode res = curl_easy_perform(c);
    if (r->line_len > 0 && !r->finished && res == CURLE_OK)
        handle_line(r, r->line, r->line_len); /* a last line without '\n' */

    char msg[1200];
    if (r->first_token_timeout) {
        snprintf(msg, sizeof msg, "no reply from the LLM at %s within %d ms", r->url, r->first_token_timeout_ms);
        finish(r, LLM_ERR_TIMEOUT, msg);
    } else if (r->reply_timeout || (res == CURLE_OPERATION_TIMEDOUT && !r->finished)) {
        snprintf(msg, sizeof msg, "the LLM at %s did not finish its reply within %d s", r->url, r->timeout_s);
        finish(r, LLM_ERR_TIMEOUT, msg);
    } else if (r->http_status >= 400) {
        char detail[400];
        error_body_message(r->errbody, detail, sizeof detail);
        snprintf(msg, sizeof msg, "the LLM at %s answered HTTP %ld: %s", r->url, r->http_status, detail);
        finish(r, LLM_ERR_FAIL, msg);
    } else if (r->err[0]) {
        snprintf(msg, sizeof msg, "the LLM at %s: %s", r->url, r->err);
        finish(r, LLM_ERR_FAIL, msg);
    } else if (res != CURLE_OK && !r->finished) {
        if (r->http_status)
            snprintf(msg, sizeof msg, "the stream from the LLM at %s broke off: %s", r->url,
                     curl_err[0] ? curl_err : curl_easy_strerror(res));
        else
            snprintf(msg, sizeof msg, "cannot reach the LLM at %s: %s", r->url,
                     curl_err[0] ? curl_err : curl_easy_strerror(res));
        finish(r, LLM_ERR_FAIL, msg);
    } else {
        deliver_tool_calls(r);
        finish(r, LLM_OK, "");
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    llm_connections_free(r->connections); /* after the handle that used it */
    release(r);
    return NULL;
}

llm_request *llm_request_start(const struct llm_params *p, const struct llm_message *msgs, int n,
                               const struct llm_callbacks *cb, void *ud, char *err, size_t errlen)
{
    const struct llm_wire *wire = llm_wire_find(p->provider);
    if (!wire) {
        snprintf(err, errlen, "unknown LLM provider '%s'", p->provider);
        return NULL;
    }
    llm_request *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->wire = wire;
    snprintf(r->url, sizeof r->url, "%s%s", p->url, wire->path);
    snprintf(r->model, sizeof r->model, "%s", p->model);
    snprintf(r->api_key, sizeof r->api_key, "%s", p->api_key ? p->api_key : "");
    r->first_token_timeout_ms = p->first_token_timeout_ms;
    r->timeout_s = p->timeout_s;
    r->max_reply_chars = p->max_reply_chars;
    r->body = wire->build_body(p, msgs, n);
    if (!r->body) { /* checked before the thread exists: it would use r */
        snprintf(err, errlen, "cannot start the LLM request (out of memory)");
        free(r);
        return NULL;
    }
    r->cb = *cb;
    r->ud = ud;
    r->refs = 2;
    r->connections = connections_retain(p->connections);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    int rc = pthread_create(&th, &attr, request_thread, r);
    pthread_attr_destroy(&attr);
    if (rc) {
        snprintf(err, errlen, "cannot start the LLM request");
        llm_connections_free(r->connections);
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->cond);
        free(r->body);
        free(r);
        return NULL;
    }
    return r;
}

void llm_request_free(llm_request *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->cancelled = 1;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    release(r);
}

void llm_request_pause(llm_request *r, int paused)
{
    pthread_mutex_lock(&r->lock);
    r->paused = paused;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

const struct llm_driver llm_driver_http = {
    .start = llm_request_start, .pause = llm_request_pause, .free = llm_request_free};
