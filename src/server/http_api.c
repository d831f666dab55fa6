/* The HTTP API (docs/api.md): text turns (JSON or server-sent events), voice
 * uploads, conversations, memories, health and metrics. A turn runs through a
 * headless session, the same pipeline as a WebSocket (http_turn.c); database
 * reads, the LLM probe and uploads' decodes run as I/O jobs (http_jobs.c)
 * whose answers come back as mail. Nothing here blocks the network thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/audio.h"
#include "core/clock.h"
#include "core/http_util.h"
#include "core/log.h"
#include "server/http_internal.h"
#include "protocol/protocol.h"

/* ---- responses ---- */

void http_respond_raw(struct http_req *r, int status, const char *ctype, const void *body, size_t len)
{
    free(r->out);
    r->out = malloc(len + 1);
    if (r->out && len)
        memcpy(r->out, body, len);
    r->out_len = r->out ? len : 0;
    r->out_off = 0;
    r->status = status;
    snprintf(r->ctype, sizeof r->ctype, "%s", ctype);
    r->complete = 1;
    metrics_http_request(r->srv->metrics, status);
    lws_callback_on_writable(r->wsi);
}

void http_respond_json(struct http_req *r, int status, cJSON *body)
{
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    http_respond_raw(r, status, "application/json", text ? text : "{}", text ? strlen(text) : 2);
    free(text);
}

/* {"error":{"code","message"}}: every 4xx and 5xx carries one. */
cJSON *http_error_json(const char *code, const char *message)
{
    cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message);
    return o;
}

void http_respond_error(struct http_req *r, int status, const char *code, const char *message)
{
    http_respond_json(r, status, http_error_json(code, message));
}

/* Appends to a streaming (SSE) response; -1 past the bound. */
int http_stream_append(struct http_req *r, const char *data, size_t len)
{
    if (r->out_len - r->out_off + len > SSE_BUFFER_MAX)
        return -1;
    if (r->out_off > 0) { /* drop what was written */
        memmove(r->out, r->out + r->out_off, r->out_len - r->out_off);
        r->out_len -= r->out_off;
        r->out_off = 0;
    }
    char *grown = realloc(r->out, r->out_len + len + 1);
    if (!grown)
        return -1;
    memcpy(grown + r->out_len, data, len);
    r->out = grown;
    r->out_len += len;
    lws_callback_on_writable(r->wsi);
    return 0;
}

/* ---- routing ---- */

static int header(struct lws *wsi, enum lws_token_indexes t, char *buf, int len)
{
    return lws_hdr_copy(wsi, buf, len, t) > 0 ? 0 : (buf[0] = 0, -1);
}

static const struct {
    enum lws_token_indexes tok;
    const char *name;
} methods[] = {{WSI_TOKEN_GET_URI, "GET"},       {WSI_TOKEN_POST_URI, "POST"},   {WSI_TOKEN_DELETE_URI, "DELETE"},
               {WSI_TOKEN_PUT_URI, "PUT"},       {WSI_TOKEN_PATCH_URI, "PATCH"}, {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
               {WSI_TOKEN_HEAD_URI, "HEAD"}};

static enum route parse_route(struct lws *wsi, struct http_req *r, char *uri, size_t urilen)
{
    size_t m = 0;
    while (m < sizeof methods / sizeof methods[0] && lws_hdr_total_length(wsi, methods[m].tok) <= 0)
        m++;
    if (m == sizeof methods / sizeof methods[0] || header(wsi, methods[m].tok, uri, (int)urilen))
        return R_NONE;
    r->method = methods[m].name;
    size_t n = strlen(uri);
    while (n > 1 && uri[n - 1] == '/')
        uri[--n] = 0;
    struct {
        const char *prefix;
        int has_arg;
        enum route route;
        int method; /* 1 GET, 2 POST, 3 DELETE */
    } routes[] = {
        {"/v1/chat", 0, R_CHAT, 2},           {"/v1/voice/upload", 0, R_UPLOAD, 2},
        {"/v1/audio/", 1, R_AUDIO, 1},        {"/v1/conversations", 0, R_CONVERSATIONS, 1},
        {"/v1/conversations/", 1, R_CONVERSATION, 1}, {"/v1/memories", 0, R_MEMORIES, 1},
        {"/v1/memories/", 1, R_MEMORY, 3},    {"/health", 0, R_HEALTH, 1}, {"/health/ready", 0, R_READY, 1},
        {"/metrics", 0, R_METRICS, 1},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        size_t pl = strlen(routes[i].prefix);
        if (routes[i].has_arg ? strncmp(uri, routes[i].prefix, pl) || !uri[pl] || strchr(uri + pl, '/')
                              : strcmp(uri, routes[i].prefix))
            continue;
        if (routes[i].has_arg)
            snprintf(r->arg, sizeof r->arg, "%s", uri + pl);
        r->allow = routes[i].method == 1 ? "GET" : routes[i].method == 2 ? "POST" : "DELETE";
        r->method_ok = !strcmp(r->method, r->allow);
        return routes[i].route;
    }
    return R_NONE;
}

/* A query argument ("name=" prefix) into out: 1 found, 0 absent, -1 longer
 * than out (refused, not cut: a cut filter would answer something else). */
static int query_arg(struct lws *wsi, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    out[0] = 0;
    for (int i = 0;; i++) {
        int len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (len <= 0)
            return 0;
        char *frag = malloc((size_t)len + 1);
        int got = frag ? lws_hdr_copy_fragment(wsi, frag, len + 1, WSI_TOKEN_HTTP_URI_ARGS, i) : -1;
        int found = got >= 0 && !strncmp(frag, name, nl);
        int fits = found && strlen(frag + nl) < outlen;
        if (fits)
            memcpy(out, frag + nl, strlen(frag + nl) + 1);
        free(frag);
        if (found)
            return fits ? 1 : -1;
    }
}

/* A number argument: dflt when absent, clamped to lo..hi; *bad when it is
 * not a number at all. */
static int int_arg(struct lws *wsi, const char *name, int dflt, int lo, int hi, int *bad)
{
    char buf[32], *end;
    int found = query_arg(wsi, name, buf, sizeof buf);
    if (!found)
        return dflt;
    long n = strtol(buf, &end, 10);
    if (found < 0 || end == buf || *end) {
        *bad = 1;
        return dflt;
    }
    return n < lo ? lo : n > hi ? hi : (int)n;
}

static void handle_get_or_delete(struct http_req *r)
{
    server *srv = r->srv;
    if (r->route == R_METRICS) {
        char *text = metrics_render(srv->metrics, srv->nconns + srv->nhttp_sessions, srv->nconns);
        http_respond_raw(r, 200, "text/plain; version=0.0.4", text ? text : "", text ? strlen(text) : 0);
        free(text);
        return;
    }
    if (r->route == R_READY) {
        /* For load balancers: whether this instance takes new sessions. */
        cJSON *load = server_load_json(srv);
        int accepting = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(load, "accepting"));
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "ready", accepting);
        cJSON_AddItemToObject(o, "load", load);
        if (!accepting)
            r->retry_after_s = (srv->cfg->limits_busy_retry_ms + 999) / 1000;
        http_respond_json(r, accepting ? 200 : 503, o);
        return;
    }
    if (r->route == R_AUDIO) {
        char id[128];
        snprintf(id, sizeof id, "%s", r->arg);
        char *dot = strstr(id, ".wav");
        if (dot)
            *dot = 0;
        const unsigned char *wav;
        size_t len;
        if (audio_cache_get(srv->audio, r->user.id, id, &wav, &len))
            http_respond_error(r, 404, "NOT_FOUND", "no such reply audio (it may have been evicted)");
        else
            http_respond_raw(r, 200, "audio/wav", wav, len);
        return;
    }
    if (r->route != R_HEALTH && !srv->env.db) {
        http_respond_error(r, 503, "STORE_FAIL", "nothing is stored: data_dir is empty");
        return;
    }
    struct http_job *j = calloc(1, sizeof *j);
    if (!j) {
        http_respond_error(r, 500, "INTERNAL", "out of memory");
        return;
    }
    int bad = 0;
    j->limit = int_arg(r->wsi, "limit=", r->route == R_MEMORIES ? 10 : 50, 1, LIST_LIMIT_MAX, &bad);
    j->offset = int_arg(r->wsi, "offset=", 0, 0, 1 << 30, &bad);
    if (r->route == R_MEMORIES) {
        if (query_arg(r->wsi, "q=", j->query, sizeof j->query) < 0) {
            free(j);
            http_respond_error(r, 400, "BAD_REQUEST", "'q' is limited to 500 characters");
            return;
        }
    }
    if (bad) {
        free(j);
        http_respond_error(r, 400, "BAD_REQUEST", "'limit' and 'offset' must be whole numbers");
        return;
    }
    http_job_submit(r, j);
}

static void handle_body(struct http_req *r)
{
    if (r->body_too_large) {
        char msg[96];
        snprintf(msg, sizeof msg, "the body is limited to %zu bytes", r->body_max);
        http_respond_error(r, 413, "TOO_LARGE", msg);
        return;
    }
    char why[300];
    int retry_ms = 0;
    if (server_admit_turn(r->srv, why, sizeof why, &retry_ms)) {
        r->retry_after_s = (retry_ms + 999) / 1000;
        http_respond_error(r, 503, "BUSY", why);
        return;
    }
    if (r->route == R_UPLOAD) {
        int wav = r->body_len >= 12 && !memcmp(r->body, "RIFF", 4);
        if (!wav && (r->upload_rate < 8000 || r->upload_rate > 48000)) {
            http_respond_error(r, 400, "BAD_AUDIO",
                          "send a WAV file, or raw 16-bit mono PCM with ?sample_rate= between 8000 and 48000");
            return;
        }
        struct http_job *j = calloc(1, sizeof *j);
        if (!j) {
            http_respond_error(r, 500, "INTERNAL", "out of memory");
            return;
        }
        j->body = r->body;
        j->body_len = r->body_len;
        j->rate = r->upload_rate;
        r->body = NULL;
        http_job_submit(r, j);
        return;
    }
    /* POST /v1/chat */
    struct proto_chat chat;
    char problem[200];
    if (proto_parse_chat((const char *)r->body, r->body_len, &chat, problem, sizeof problem)) {
        http_respond_error(r, 400, "BAD_REQUEST", problem);
        return;
    }
    r->text = chat.text;
    http_start_turn(r, chat.conversation_id[0] ? chat.conversation_id : NULL, 1);
}

/* A finished job's answer. */
static void on_job_done(struct http_req *r, struct session_mail *m)
{
    if (r->route == R_UPLOAD && m->status == 200) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(m->json, "transcript");
        r->transcript = strdup(cJSON_IsString(t) ? t->valuestring : "");
        if (!r->transcript || !r->transcript[0]) {
            http_respond_error(r, 422, "NO_SPEECH", "no words were recognised in the clip");
            return;
        }
        r->text = strdup(r->transcript);
        http_start_turn(r, NULL, 0);
        return;
    }
    if (r->route == R_HEALTH) {
        server *srv = r->srv;
        cJSON *o = m->json;
        m->json = NULL;
        const cJSON *llm = cJSON_GetObjectItemCaseSensitive(o, "llm");
        int ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(llm, "ok"));
        cJSON_AddStringToObject(o, "status", ok ? "ok" : "degraded");
        cJSON_AddBoolToObject(o, "auth_required", srv->auth_on);
        cJSON_AddBoolToObject(o, "tls", srv->cfg->tls_cert[0] != 0);
        cJSON *asr = cJSON_AddObjectToObject(o, "asr");
        cJSON_AddStringToObject(asr, "engine", asr_model_engine_name(srv->env.asr));
        cJSON_AddStringToObject(asr, "partials", asr_model_choice(srv->env.asr)->partials);
        cJSON_AddBoolToObject(asr, "loaded", 1);
        cJSON *tts_names = cJSON_AddArrayToObject(o, "tts_engines");
        for (int i = 0; i < tts_engine_count(srv->env.tts); i++)
            cJSON_AddItemToArray(tts_names, cJSON_CreateString(tts_engine_name(srv->env.tts, i)));
        cJSON_AddBoolToObject(o, "store", srv->env.db != NULL);
        cJSON_AddNumberToObject(o, "tools", srv->env.tools ? tools_count(srv->env.tools) : 0);
        cJSON *mcp = cJSON_AddArrayToObject(o, "mcp");
        for (int i = 0; i < CONFIG_MAX_MCP; i++) {
            if (!srv->mcp[i])
                continue;
            int ntools, restarts;
            enum mcp_state st = mcp_get_state(srv->mcp[i], &ntools, &restarts);
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "name", mcp_name(srv->mcp[i]));
            cJSON_AddStringToObject(e, "state", mcp_state_name(st));
            cJSON_AddNumberToObject(e, "tools", ntools);
            cJSON_AddNumberToObject(e, "restarts", restarts);
            cJSON_AddItemToArray(mcp, e);
        }
        cJSON_AddNumberToObject(o, "sessions", srv->nconns + srv->nhttp_sessions);
        cJSON_AddItemToObject(o, "load", server_load_json(srv));
        http_respond_json(r, ok ? 200 : 503, o);
        return;
    }
    cJSON *o = m->json;
    m->json = NULL;
    http_respond_json(r, m->status, o ? o : cJSON_CreateObject());
}

int http_api_deliver(server *srv, struct session_mail *m)
{
    for (struct http_req *r = srv->http_reqs; r; r = r->next) {
        if (r->id != m->session_id)
            continue;
        if (m->kind == MAIL_HTTP_DONE)
            on_job_done(r, m);
        else if (r->sess)
            session_on_mail(r->sess, m);
        return 0;
    }
    return -1;
}

/* ---- the lws side ---- */

static void req_free(struct http_req *r)
{
    server *srv = r->srv;
    for (struct http_req **pp = &srv->http_reqs; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    lws_sul_cancel(&r->timer);
    if (r->sess) {
        session_free(r->sess);
        srv->nhttp_sessions--;
    }
    free(r->body);
    free(r->out);
    free(r->text);
    free(r->transcript);
    cJSON_Delete(r->answer);
    pcm_free(&r->audio);
    free(r);
}

/* With auth on, every route needs a token but liveness and readiness (they
 * answer bare without one) and, if metrics.public, /metrics. Returns -1
 * when the request has been answered (401, 429). */
static int check_auth(struct http_req *r)
{
    server *srv = r->srv;
    int open_route = r->route == R_HEALTH || r->route == R_READY || (r->route == R_METRICS && srv->cfg->metrics_public);
    if (open_route && !srv->auth_on) {
        r->authed = 1;
        r->user.id = STORE_LOCAL_USER;
        return 0;
    }
    if (open_route && lws_hdr_total_length(r->wsi, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0)
        return 0; /* answered bare */
    char why[200];
    int retry_s = 0;
    enum session_auth a = server_auth_request(srv, r->wsi, &r->user, why, sizeof why, &retry_s);
    r->authed = a == SESSION_AUTH_OK;
    if (r->authed || (open_route && a == SESSION_AUTH_DENIED))
        return 0;
    if (a == SESSION_AUTH_LIMITED) {
        r->retry_after_s = retry_s;
        http_respond_error(r, 429, "RATE_LIMITED", why);
    } else {
        http_respond_error(r, 401, "UNAUTHORIZED", why);
    }
    return -1;
}

/* /health and /health/ready without a token: alive, and whether it takes
 * sessions, nothing more. */
static int answer_bare(struct http_req *r)
{
    if (r->authed || (r->route != R_HEALTH && r->route != R_READY))
        return 0;
    cJSON *o = cJSON_CreateObject();
    int status = 200;
    if (r->route == R_HEALTH) {
        cJSON_AddStringToObject(o, "status", "alive");
        cJSON_AddBoolToObject(o, "auth_required", 1);
    } else {
        cJSON *load = server_load_json(r->srv);
        int accepting = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(load, "accepting"));
        cJSON_Delete(load);
        cJSON_AddBoolToObject(o, "ready", accepting);
        if (!accepting) {
            status = 503;
            r->retry_after_s = (r->srv->cfg->limits_busy_retry_ms + 999) / 1000;
        }
    }
    http_respond_json(r, status, o);
    return 1;
}

static int on_http(struct lws *wsi, struct http_pss *pss)
{
    server *srv = lws_context_user(lws_get_context(wsi));
    struct http_req *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    r->wsi = wsi;
    r->srv = srv;
    r->id = ++srv->next_session_id;
    r->next = srv->http_reqs;
    srv->http_reqs = r;
    pss->req = r;
    char uri[300];
    r->route = parse_route(wsi, r, uri, sizeof uri);
    if (!server_host_allowed(wsi, srv->cfg)) {
        /* a page on a name that resolves here (DNS rebinding) reading the user's data */
        http_respond_error(r, 403, "FORBIDDEN", "this server does not answer to that host name (allowed_hosts)");
        return 0;
    }
    if (!server_origin_allowed(wsi, srv->cfg)) {
        /* A form on another site could otherwise post turns (and through
         * tools, change data) with the visitor's browser. */
        http_respond_error(r, 403, "FORBIDDEN", "requests from this origin are not allowed (allowed_origins)");
        return 0;
    }
    if (r->route == R_NONE) {
        http_respond_error(r, 404, "NOT_FOUND", "no such endpoint (see docs/api.md)");
        return 0;
    }
    char origin[256];
    if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) > 0) /* allowed: checked above */
        snprintf(r->cors_origin, sizeof r->cors_origin, "%s", origin);
    if (!strcmp(r->method, "OPTIONS")) { /* a browser's preflight for an allowed origin */
        http_respond_raw(r, 204, "text/plain", "", 0);
        return 0;
    }
    if (!r->method_ok) {
        char msg[96];
        snprintf(msg, sizeof msg, "this endpoint takes %s only (see docs/api.md)", r->allow);
        http_respond_error(r, 405, "METHOD_NOT_ALLOWED", msg);
        return 0;
    }
    if (check_auth(r))
        return 0;
    char accept[128];
    header(wsi, WSI_TOKEN_HTTP_ACCEPT, accept, sizeof accept);
    r->sse = r->route == R_CHAT && strstr(accept, "text/event-stream") != NULL;
    if (answer_bare(r))
        return 0;
    if (r->route != R_CHAT && r->route != R_UPLOAD) {
        handle_get_or_delete(r);
        return 0;
    }
    r->body_max = r->route == R_CHAT ? CHAT_BODY_MAX : UPLOAD_BODY_MAX;
    int bad_rate = 0;
    r->upload_rate = int_arg(wsi, "sample_rate=", 0, 0, 1 << 20, &bad_rate);
    if (bad_rate)
        r->upload_rate = 0; /* refused with the rate's rule */
    char clen[32] = "";
    int has_len = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
    int len_ok = !has_len || (!header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, clen, sizeof clen) && clen[0] &&
                              strspn(clen, "0123456789") == strlen(clen) && strlen(clen) <= 12);
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        r->close_after = 1; /* the body is not read: the connection cannot carry another request */
        http_respond_error(r, 411, "LENGTH_REQUIRED", "send the body with a Content-Length (chunked bodies are not read)");
        return 0;
    }
    if (!len_ok) {
        r->close_after = 1;
        http_respond_error(r, 400, "BAD_REQUEST", "Content-Length is not a byte count");
        return 0;
    }
    if (has_len && strtoull(clen, NULL, 10) > r->body_max) {
        char msg[96];
        snprintf(msg, sizeof msg, "the body is limited to %zu bytes", r->body_max);
        r->close_after = 1; /* answered before the body, which is never read */
        http_respond_error(r, 413, "TOO_LARGE", msg);
        return 0;
    }
    if (!has_len || strtoull(clen, NULL, 10) == 0)
        handle_body(r); /* no body will follow */
    return 0;
}

static int on_body(struct http_req *r, const void *in, size_t len)
{
    if (len == 0 || r->status)
        return 0; /* lws reports an empty body as (NULL, 0); an answered request reads no more */
    if (r->body_too_large || r->body_len + len > r->body_max) {
        r->body_too_large = 1;
        return 0;
    }
    unsigned char *grown = realloc(r->body, r->body_len + len + 1);
    if (!grown)
        return -1;
    memcpy(grown + r->body_len, in, len);
    r->body = grown;
    r->body_len += len;
    return 0;
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p, unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)value,
                                       (int)strlen(value), p, end);
}

/* Allow (405, OPTIONS) and CORS for an allowed foreign origin. */
static int add_method_headers(struct lws *wsi, struct http_req *r, unsigned char **p, unsigned char *end)
{
    int options = r->method && !strcmp(r->method, "OPTIONS");
    if ((r->status == 405 || options) && r->allow && add_header(wsi, "allow:", r->allow, p, end))
        return -1;
    if (!r->cors_origin[0])
        return 0;
    if (add_header(wsi, "access-control-allow-origin:", r->cors_origin, p, end) || add_header(wsi, "vary:", "Origin", p, end))
        return -1;
    if (options && (add_header(wsi, "access-control-allow-methods:", r->allow ? r->allow : "GET", p, end) ||
                    add_header(wsi, "access-control-allow-headers:", "Authorization, Content-Type, Accept", p, end) ||
                    add_header(wsi, "access-control-max-age:", "600", p, end)))
        return -1;
    return 0;
}

/* Writes headers, then body chunks; closes SSE streams and completes others. */
static int on_writable(struct lws *wsi, struct http_pss *pss)
{
    struct http_req *r = pss->req;
    if (!r)
        return 0;
    http_advance_turn(r);
    if (!r->status)
        return 0;
    if (!r->headers_sent) {
        unsigned char hbuf[LWS_PRE + 1024], *start = hbuf + LWS_PRE, *p = start, *end = hbuf + sizeof hbuf - 1;
        r->streaming = r->sse && r->status == 200; /* an SSE request answered with an error is plain JSON */
        lws_filepos_t clen = r->streaming ? LWS_ILLEGAL_HTTP_CONTENT_LEN : (lws_filepos_t)r->out_len;
        if (lws_add_http_common_headers(wsi, (unsigned int)r->status, r->ctype, clen, &p, end) ||
            lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, (const unsigned char *)"no-store", 8, &p,
                                         end))
            return -1;
        char retry[16];
        int rn = snprintf(retry, sizeof retry, "%d", r->retry_after_s);
        if ((r->retry_after_s &&
             lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_RETRY_AFTER, (const unsigned char *)retry, rn, &p, end)) ||
            (r->status == 401 && lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_WWW_AUTHENTICATE,
                                                               (const unsigned char *)"Bearer", 6, &p, end)) ||
            add_method_headers(wsi, r, &p, end) || lws_finalize_write_http_header(wsi, start, &p, end))
            return -1;
        r->headers_sent = 1;
        if (r->out_len > r->out_off || !r->complete) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    enum { CHUNK = 16384 };
    if (r->out_len > r->out_off) {
        unsigned char buf[LWS_PRE + CHUNK];
        size_t n = r->out_len - r->out_off < CHUNK ? r->out_len - r->out_off : CHUNK;
        memcpy(buf + LWS_PRE, r->out + r->out_off, n);
        r->out_off += n;
        int last = r->complete && r->out_off == r->out_len && !r->streaming;
        if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
            return -1;
        if (r->out_off < r->out_len) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    if (!r->complete)
        return 0;
    if (r->streaming)
        return -1; /* the stream ends with the connection */
    int close_after = r->close_after;
    pss->req = NULL;
    req_free(r);
    if (close_after)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int http_api_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct http_pss *pss = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(wsi, pss);
    case LWS_CALLBACK_HTTP_BODY:
        return pss->req ? on_body(pss->req, in, len) : 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (pss->req && !pss->req->status && !pss->req->complete)
            handle_body(pss->req);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return on_writable(wsi, pss);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (pss && pss->req) {
            req_free(pss->req);
            pss->req = NULL;
        }
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
