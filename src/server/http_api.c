/* The HTTP API (docs/api.md): text turns (JSON or server-sent events), voice
 * uploads, conversations, memories, health and metrics. A turn runs through a
 * headless session, the same pipeline as a WebSocket; database reads and the
 * LLM probe run as I/O jobs whose answers come back as mail. Nothing here
 * blocks the network thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "core/audio.h"
#include "core/clock.h"
#include "core/http_util.h"
#include "core/log.h"
#include "server/protocol.h"
#include "server/server_internal.h"

#define CHAT_BODY_MAX (64 * 1024)
#define UPLOAD_BODY_MAX (16 * 1024 * 1024) /* ~8 min of 16 kHz PCM */
#define SSE_BUFFER_MAX (1 << 20)
#define REPLY_AUDIO_MAX_S 600
#define AUDIO_CACHE_SLOTS 16
#define AUDIO_CACHE_BYTES (64 << 20)
#define LIST_LIMIT_MAX 200
#define HEALTH_LLM_TIMEOUT_MS 2000

enum route { R_NONE, R_CHAT, R_UPLOAD, R_AUDIO, R_CONVERSATIONS, R_CONVERSATION, R_MEMORIES, R_MEMORY, R_HEALTH, R_READY,
             R_METRICS };

struct http_req {
    struct lws *wsi;
    server *srv;
    uint64_t id;
    enum route route;
    int method_ok;
    char arg[128]; /* the {id} of /v1/conversations/{id}, /v1/memories/{id}, /v1/audio/{id} */
    int sse;

    unsigned char *body;
    size_t body_len, body_max;
    int body_too_large;
    int upload_rate; /* raw PCM uploads: ?sample_rate= */

    /* The response: status, type, and bytes not yet written. */
    int status;
    char ctype[64];
    char *out;
    size_t out_len, out_off;
    int headers_sent, complete, streaming;
    int retry_after_s; /* a 503 BUSY says when to come back */

    /* A turn through a headless session. */
    session *sess;
    lws_sorted_usec_list_t timer;
    int ready, text_sent;
    char *text, *transcript;
    char conversation_id[64];
    cJSON *answer; /* text, tool_calls, errors, metrics: the JSON reply */
    struct pcm_buf audio;
    int not_found;
    struct http_req *next;
};

/* ---- replies of /v1/voice/upload, kept for GET /v1/audio/{id} ---- */

struct audio_cache {
    struct {
        char id[40];
        unsigned char *wav;
        size_t len;
        int64_t at;
    } slot[AUDIO_CACHE_SLOTS];
};

struct audio_cache *audio_cache_new(void) { return calloc(1, sizeof(struct audio_cache)); }

void audio_cache_free(struct audio_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < AUDIO_CACHE_SLOTS; i++)
        free(c->slot[i].wav);
    free(c);
}

/* Keeps wav (taking it); the oldest entries go past the slot or byte bound. */
static void audio_cache_put(struct audio_cache *c, const char *id, unsigned char *wav, size_t len)
{
    for (;;) {
        size_t total = len;
        int oldest = -1, used = 0;
        for (int i = 0; i < AUDIO_CACHE_SLOTS; i++) {
            if (!c->slot[i].wav)
                continue;
            used++;
            total += c->slot[i].len;
            if (oldest < 0 || c->slot[i].at < c->slot[oldest].at)
                oldest = i;
        }
        if (oldest < 0 || (used < AUDIO_CACHE_SLOTS && total <= AUDIO_CACHE_BYTES))
            break;
        free(c->slot[oldest].wav);
        memset(&c->slot[oldest], 0, sizeof c->slot[oldest]);
    }
    for (int i = 0; i < AUDIO_CACHE_SLOTS; i++)
        if (!c->slot[i].wav) {
            snprintf(c->slot[i].id, sizeof c->slot[i].id, "%s", id);
            c->slot[i].wav = wav;
            c->slot[i].len = len;
            c->slot[i].at = clock_now_us();
            return;
        }
    free(wav);
}

static int audio_cache_get(struct audio_cache *c, const char *id, const unsigned char **wav, size_t *len)
{
    for (int i = 0; i < AUDIO_CACHE_SLOTS; i++)
        if (c->slot[i].wav && !strcmp(c->slot[i].id, id)) {
            *wav = c->slot[i].wav;
            *len = c->slot[i].len;
            return 0;
        }
    return -1;
}

/* ---- responses ---- */

static void respond_raw(struct http_req *r, int status, const char *ctype, const void *body, size_t len)
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

static void respond_json(struct http_req *r, int status, cJSON *body)
{
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    respond_raw(r, status, "application/json", text ? text : "{}", text ? strlen(text) : 2);
    free(text);
}

/* {"error":{"code","message"}}: every 4xx and 5xx carries one. */
static cJSON *error_json(const char *code, const char *message)
{
    cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message);
    return o;
}

static void respond_error(struct http_req *r, int status, const char *code, const char *message)
{
    respond_json(r, status, error_json(code, message));
}

/* Appends to a streaming (SSE) response; -1 past the bound. */
static int stream_append(struct http_req *r, const char *data, size_t len)
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

/* ---- jobs on the I/O pool ---- */

struct job {
    server *srv;
    uint64_t req_id;
    enum route route;
    char arg[128];
    char query[512];
    int limit, offset;
    unsigned char *body;
    size_t body_len;
    int rate;
};

static void post_answer(struct job *j, int status, cJSON *json)
{
    struct session_mail *m = session_mail_new(j->req_id, MAIL_HTTP_DONE, 0, NULL, 0);
    if (!m) {
        cJSON_Delete(json);
        return;
    }
    m->status = status;
    m->json = json;
    mailbox_post(j->srv->env.mail, &m->node);
}


static void job_run(void *arg)
{
    struct job *j = arg;
    store *db = j->srv->env.db;
    switch (j->route) {
    case R_CONVERSATIONS: {
        cJSON *list = store_list_conversations(db, j->limit, j->offset);
        if (!list) {
            post_answer(j, 500, error_json("STORE_FAIL", "the conversations could not be read"));
            break;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "conversations", list);
        post_answer(j, 200, o);
        break;
    }
    case R_CONVERSATION: {
        cJSON *c = store_get_conversation(db, j->arg);
        int missing = !c && store_conversation_exists(db, j->arg) == 0;
        if (c)
            post_answer(j, 200, c);
        else
            post_answer(j, missing ? 404 : 500,
                        error_json(missing ? "NOT_FOUND" : "STORE_FAIL",
                                   missing ? "no such conversation" : "the conversation could not be read"));
        break;
    }
    case R_MEMORIES: {
        char warning[300] = "";
        cJSON *found = memory_recall(j->srv->env.mem, j->query, j->limit, warning, sizeof warning);
        if (!found) {
            post_answer(j, 500, error_json("STORE_FAIL", "the memories could not be read"));
            break;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "memories", found);
        if (warning[0])
            cJSON_AddStringToObject(o, "warning", warning);
        post_answer(j, 200, o);
        break;
    }
    case R_MEMORY: {
        char *end;
        long long id = strtoll(j->arg, &end, 10);
        int rc = *end || end == j->arg || id <= 0 ? 0 : store_memory_forget(db, id);
        if (rc == 1) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "deleted", (double)id);
            post_answer(j, 200, o);
        } else {
            post_answer(j, rc == 0 ? 404 : 500, error_json(rc == 0 ? "NOT_FOUND" : "STORE_FAIL", "no such memory"));
        }
        break;
    }
    case R_HEALTH: {
        /* A live check, shared with the watch (the page's banner follows it). */
        const struct parley_config *cfg = j->srv->cfg;
        struct llm_params lp = server_llm_params(cfg);
        struct llm_check c;
        llm_check_run(&lp, HEALTH_LLM_TIMEOUT_MS, &c);
        if (j->srv->env.llm_watch)
            llm_watch_report(j->srv->env.llm_watch, &c);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "llm_reachable", c.reachable);
        if (c.problem[0])
            cJSON_AddStringToObject(o, "llm_error", c.problem);
        cJSON *llm = proto_llm_object(&c, cfg->llm_model);
        cJSON_AddStringToObject(llm, "provider", cfg->llm_provider);
        cJSON_AddStringToObject(llm, "url", cfg->llm_url);
        cJSON_AddItemToObject(o, "llm", llm);
        post_answer(j, 200, o);
        break;
    }
    case R_UPLOAD: {
        /* The clip to 16 kHz mono, then one decode. */
        struct pcm_buf pcm = {0}, pcm16 = {0};
        char err[256] = "";
        int ok;
        if (j->body_len >= 12 && !memcmp(j->body, "RIFF", 4)) {
            ok = wav_parse(j->body, j->body_len, &pcm, err, sizeof err) == 0;
        } else {
            ok = pcm_append(&pcm, (const int16_t *)j->body, j->body_len / 2) == 0;
            pcm.sample_rate = j->rate;
        }
        if (ok && pcm.len == 0) {
            snprintf(err, sizeof err, "the clip holds no audio");
            ok = 0;
        }
        if (ok && pcm_resample(pcm.samples, pcm.len, pcm.sample_rate, 16000, &pcm16)) {
            snprintf(err, sizeof err, "cannot resample from %d Hz", pcm.sample_rate);
            ok = 0;
        }
        if (!ok) {
            post_answer(j, 400, error_json("BAD_AUDIO", err));
        } else {
            char text[4096], aerr[256] = "";
            if (asr_transcribe(j->srv->env.asr, pcm16.samples, pcm16.len, text, sizeof text, aerr, sizeof aerr)) {
                post_answer(j, 500, error_json("ASR_FAIL", aerr));
            } else {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "transcript", text);
                post_answer(j, 200, o);
            }
        }
        pcm_free(&pcm);
        pcm_free(&pcm16);
        break;
    }
    default: break;
    }
    free(j->body);
    free(j);
}

static void submit_job(struct http_req *r, struct job *j)
{
    j->srv = r->srv;
    j->req_id = r->id;
    j->route = r->route;
    snprintf(j->arg, sizeof j->arg, "%s", r->arg);
    /* Conversations are read on the writer's queue, behind every turn
     * already queued for storing: a client that just got a turn's answer
     * reads that turn (it was queued before the answer went out). */
    int ordered = j->route == R_CONVERSATION || j->route == R_CONVERSATIONS;
    if (workers_submit(ordered ? r->srv->env.writer : r->srv->env.io, job_run, j)) {
        free(j->body);
        free(j);
        respond_error(r, 503, "BUSY", "the server is too busy; try again");
    }
}

/* ---- turns through a headless session ---- */

static enum outq_result req_send(void *ud, int binary, enum out_class cls, uint64_t turn, int phrase,
                                 const void *data, size_t len, size_t samples)
{
    (void)cls, (void)turn, (void)phrase, (void)samples;
    struct http_req *r = ud;
    if (r->complete || r->text_sent == 2)
        return OUTQ_OK; /* the answer ends at done */
    if (binary) {
        if (r->audio.len + len / 2 <= (size_t)REPLY_AUDIO_MAX_S * (size_t)r->srv->cfg->tts_sample_rate)
            pcm_append(&r->audio, data, len / 2);
        return OUTQ_OK;
    }
    cJSON *msg = cJSON_ParseWithLength(data, len);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(msg, "type");
    const char *t = cJSON_IsString(type) ? type->valuestring : "";
    if (r->sse) {
        char head[64];
        snprintf(head, sizeof head, "event: %s\ndata: ", t);
        if (stream_append(r, head, strlen(head)) || stream_append(r, data, len) || stream_append(r, "\n\n", 2)) {
            cJSON_Delete(msg);
            return OUTQ_FULL; /* the client is not reading; the turn goes on without it */
        }
    }
    if (!strcmp(t, "ready")) {
        const cJSON *cid = cJSON_GetObjectItemCaseSensitive(msg, "conversation_id");
        snprintf(r->conversation_id, sizeof r->conversation_id, "%s", cJSON_IsString(cid) ? cid->valuestring : "");
        r->ready = 1;
        if (r->sse && !r->not_found) { /* the stream's headers can go now */
            r->status = 200;
            snprintf(r->ctype, sizeof r->ctype, "text/event-stream");
            metrics_http_request(r->srv->metrics, 200);
        }
        lws_callback_on_writable(r->wsi); /* the text goes in from there, not from inside the session */
    } else if (!strcmp(t, "error")) {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(msg, "code");
        if (!r->ready && cJSON_IsString(code) && !strcmp(code->valuestring, ERR_NOT_FOUND))
            r->not_found = 1;
        cJSON_DeleteItemFromObjectCaseSensitive(msg, "type");
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(r->answer, "errors"), cJSON_Duplicate(msg, 1));
    } else if (!strcmp(t, "assistant_text")) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(msg, "status");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(msg, "text");
        if (cJSON_IsString(st) && !strcmp(st->valuestring, "end"))
            cJSON_ReplaceItemInObjectCaseSensitive(r->answer, "text", cJSON_Duplicate(text, 1));
        const cJSON *turn_j = cJSON_GetObjectItemCaseSensitive(msg, "turn");
        cJSON_ReplaceItemInObjectCaseSensitive(r->answer, "turn", cJSON_Duplicate(turn_j, 1));
    } else if (!strcmp(t, "tool_call") || !strcmp(t, "tool_result")) {
        cJSON *copy = cJSON_Duplicate(msg, 1);
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(r->answer, "tools"), copy);
    } else if (!strcmp(t, "done") || !strcmp(t, "agent_interrupted")) {
        cJSON *metrics = cJSON_DetachItemFromObjectCaseSensitive(msg, "metrics");
        if (metrics) {
            cJSON_DeleteItemFromObjectCaseSensitive(r->answer, "metrics");
            cJSON_AddItemToObject(r->answer, "metrics", metrics);
        }
        r->text_sent = 2; /* the turn is over */
        lws_callback_on_writable(r->wsi);
    }
    cJSON_Delete(msg);
    return OUTQ_OK;
}

static void req_purge(void *ud, uint64_t turn) { (void)ud, (void)turn; }

static void req_timer_fired(lws_sorted_usec_list_t *sul)
{
    struct http_req *r = lws_container_of(sul, struct http_req, timer);
    if (r->sess)
        session_on_timer(r->sess);
}

static void req_set_timer(void *ud, int64_t delay_us)
{
    struct http_req *r = ud;
    lws_sul_schedule(lws_get_context(r->wsi), 0, &r->timer, req_timer_fired, delay_us);
}

static void req_close(void *ud)
{
    struct http_req *r = ud;
    if (r->complete)
        return;
    if (r->headers_sent) { /* a stream already under way: say so in it */
        static const char ev[] = "event: error\ndata: {\"type\":\"error\",\"code\":\"SHUTTING_DOWN\"}\n\n";
        stream_append(r, ev, sizeof ev - 1);
        r->complete = 1;
        return;
    }
    respond_error(r, 503, "SHUTTING_DOWN", "the server is shutting down");
}

static const struct session_io req_io = {req_send, req_purge, req_set_timer, req_close};

/* Starts the turn: a headless session, 'start' (resuming a conversation if
 * asked), and the text once 'ready' arrives. */
static void start_turn(struct http_req *r, const char *conversation_id, int text_only)
{
    server *srv = r->srv;
    r->sess = session_new(&srv->env, &req_io, r, r->id);
    if (!r->sess) {
        respond_error(r, 500, "INTERNAL", "cannot start a session");
        return;
    }
    srv->nhttp_sessions++;
    session_set_headless(r->sess, text_only);
    r->answer = cJSON_CreateObject();
    cJSON_AddStringToObject(r->answer, "text", "");
    cJSON_AddNullToObject(r->answer, "turn");
    cJSON_AddArrayToObject(r->answer, "tools");
    cJSON_AddArrayToObject(r->answer, "errors");
    cJSON *start = cJSON_CreateObject();
    cJSON_AddStringToObject(start, "type", "start");
    cJSON_AddNumberToObject(start, "sample_rate", 16000);
    if (conversation_id && conversation_id[0])
        cJSON_AddStringToObject(start, "conversation_id", conversation_id);
    char *text = cJSON_PrintUnformatted(start);
    cJSON_Delete(start);
    if (text)
        session_on_text(r->sess, text, strlen(text));
    free(text);
}

/* Called from the writable callback: feed the text, or finish the answer. */
static void advance_turn(struct http_req *r)
{
    if (!r->sess || r->complete)
        return;
    if (r->not_found) {
        respond_error(r, 404, "NOT_FOUND", "no such conversation");
        return;
    }
    if (r->ready && !r->text_sent) {
        r->text_sent = 1;
        session_submit_text(r->sess, r->text, r->route == R_UPLOAD);
        return;
    }
    if (r->text_sent != 2)
        return;
    if (r->sse) {
        r->complete = 1; /* close once the buffered events are out */
        lws_callback_on_writable(r->wsi);
        return;
    }
    cJSON *a = r->answer;
    r->answer = NULL;
    cJSON_AddStringToObject(a, "conversation_id", r->conversation_id);
    if (r->route == R_UPLOAD) {
        cJSON_AddStringToObject(a, "transcript", r->transcript ? r->transcript : "");
        if (r->audio.len) {
            unsigned char rnd[12];
            char id[40] = "a";
            if (getrandom(rnd, sizeof rnd, 0) == (ssize_t)sizeof rnd)
                for (int i = 0; i < 12; i++)
                    snprintf(id + 1 + 2 * i, 3, "%02x", rnd[i]);
            size_t len;
            unsigned char *wav = wav_encode(r->audio.samples, r->audio.len, r->srv->cfg->tts_sample_rate, &len);
            if (wav) {
                audio_cache_put(r->srv->audio, id, wav, len);
                char url[80];
                snprintf(url, sizeof url, "/v1/audio/%s.wav", id);
                cJSON_AddStringToObject(a, "audio_url", url);
            }
        }
        if (!cJSON_GetObjectItemCaseSensitive(a, "audio_url"))
            cJSON_AddNullToObject(a, "audio_url");
    }
    /* A reply that never came (the LLM is down) is a gateway error. */
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(a, "text");
    int failed = cJSON_IsString(text) && !text->valuestring[0] && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(a, "errors"));
    if (failed) {
        const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(a, "errors"), 0);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "error", cJSON_Duplicate(first, 1));
        cJSON_AddStringToObject(o, "conversation_id", r->conversation_id);
        cJSON_Delete(a);
        respond_json(r, 502, o);
    } else {
        respond_json(r, 200, a);
    }
}

/* ---- routing ---- */

static int header(struct lws *wsi, enum lws_token_indexes t, char *buf, int len)
{
    return lws_hdr_copy(wsi, buf, len, t) > 0 ? 0 : (buf[0] = 0, -1);
}

static enum route parse_route(struct lws *wsi, struct http_req *r, char *uri, size_t urilen)
{
    int get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
    int post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    int del = lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI) > 0;
    enum lws_token_indexes tok = get ? WSI_TOKEN_GET_URI : post ? WSI_TOKEN_POST_URI : WSI_TOKEN_DELETE_URI;
    if (!get && !post && !del)
        return R_NONE;
    if (header(wsi, tok, uri, (int)urilen))
        return R_NONE;
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
        r->method_ok = (routes[i].method == 1 && get) || (routes[i].method == 2 && post) || (routes[i].method == 3 && del);
        return routes[i].route;
    }
    return R_NONE;
}

static int int_arg(struct lws *wsi, const char *name, int dflt, int lo, int hi)
{
    char buf[64];
    const char *v = lws_get_urlarg_by_name(wsi, name, buf, sizeof buf);
    int n = v ? atoi(v) : dflt;
    return n < lo ? lo : n > hi ? hi : n;
}

static void handle_get_or_delete(struct http_req *r)
{
    server *srv = r->srv;
    if (r->route == R_METRICS) {
        char *text = metrics_render(srv->metrics, srv->nconns + srv->nhttp_sessions, srv->nconns);
        respond_raw(r, 200, "text/plain; version=0.0.4", text ? text : "", text ? strlen(text) : 0);
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
        respond_json(r, accepting ? 200 : 503, o);
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
        if (audio_cache_get(srv->audio, id, &wav, &len))
            respond_error(r, 404, "NOT_FOUND", "no such reply audio (it may have been evicted)");
        else
            respond_raw(r, 200, "audio/wav", wav, len);
        return;
    }
    if (r->route != R_HEALTH && !srv->env.db) {
        respond_error(r, 503, "STORE_FAIL", "nothing is stored: data_dir is empty");
        return;
    }
    struct job *j = calloc(1, sizeof *j);
    if (!j) {
        respond_error(r, 500, "INTERNAL", "out of memory");
        return;
    }
    j->limit = int_arg(r->wsi, "limit=", 50, 1, LIST_LIMIT_MAX);
    j->offset = int_arg(r->wsi, "offset=", 0, 0, 1 << 30);
    if (r->route == R_MEMORIES) {
        char buf[600];
        const char *q = lws_get_urlarg_by_name(r->wsi, "q=", buf, sizeof buf);
        snprintf(j->query, sizeof j->query, "%s", q ? q : "");
        j->limit = int_arg(r->wsi, "limit=", 10, 1, LIST_LIMIT_MAX);
    }
    submit_job(r, j);
}

static void handle_body(struct http_req *r)
{
    if (r->body_too_large) {
        char msg[96];
        snprintf(msg, sizeof msg, "the body is limited to %zu bytes", r->body_max);
        respond_error(r, 413, "TOO_LARGE", msg);
        return;
    }
    char why[300];
    int retry_ms = 0;
    if (server_admit_turn(r->srv, why, sizeof why, &retry_ms)) {
        r->retry_after_s = (retry_ms + 999) / 1000;
        respond_error(r, 503, "BUSY", why);
        return;
    }
    if (r->route == R_UPLOAD) {
        int wav = r->body_len >= 12 && !memcmp(r->body, "RIFF", 4);
        if (!wav && (r->upload_rate < 8000 || r->upload_rate > 48000)) {
            respond_error(r, 400, "BAD_AUDIO",
                          "send a WAV file, or raw 16-bit mono PCM with ?sample_rate= between 8000 and 48000");
            return;
        }
        struct job *j = calloc(1, sizeof *j);
        if (!j) {
            respond_error(r, 500, "INTERNAL", "out of memory");
            return;
        }
        j->body = r->body;
        j->body_len = r->body_len;
        j->rate = r->upload_rate;
        r->body = NULL;
        submit_job(r, j);
        return;
    }
    /* POST /v1/chat */
    cJSON *req = cJSON_ParseWithLength((const char *)r->body, r->body_len);
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(req, "text");
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive(req, "conversation_id");
    const char *problem = !req                                             ? "the body is not JSON"
                          : !cJSON_IsObject(req)                           ? "the body must be a JSON object"
                          : !cJSON_IsString(text) || !text->valuestring[0] ? "'text' must be a non-empty string"
                          : strlen(text->valuestring) > 8000               ? "'text' is limited to 8000 characters"
                          : cid && !cJSON_IsNull(cid) && (!cJSON_IsString(cid) || strlen(cid->valuestring) >= 64)
                              ? "'conversation_id' must be a string of at most 63 characters"
                              : NULL;
    if (problem) {
        respond_error(r, 400, "BAD_REQUEST", problem);
        cJSON_Delete(req);
        return;
    }
    r->text = strdup(text->valuestring);
    start_turn(r, cJSON_IsString(cid) ? cid->valuestring : NULL, 1);
    cJSON_Delete(req);
}

/* A finished job's answer. */
static void on_job_done(struct http_req *r, struct session_mail *m)
{
    if (r->route == R_UPLOAD && m->status == 200) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(m->json, "transcript");
        r->transcript = strdup(cJSON_IsString(t) ? t->valuestring : "");
        if (!r->transcript || !r->transcript[0]) {
            respond_error(r, 422, "NO_SPEECH", "no words were recognised in the clip");
            return;
        }
        r->text = strdup(r->transcript);
        start_turn(r, NULL, 0);
        return;
    }
    if (r->route == R_HEALTH) {
        server *srv = r->srv;
        cJSON *o = m->json;
        m->json = NULL;
        const cJSON *llm = cJSON_GetObjectItemCaseSensitive(o, "llm");
        int ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(llm, "ok"));
        cJSON_AddStringToObject(o, "status", ok ? "ok" : "degraded");
        cJSON *asr = cJSON_AddObjectToObject(o, "asr");
        cJSON_AddStringToObject(asr, "engine", asr_model_engine_name(srv->env.asr));
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
        respond_json(r, ok ? 200 : 503, o);
        return;
    }
    cJSON *o = m->json;
    m->json = NULL;
    respond_json(r, m->status, o ? o : cJSON_CreateObject());
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
    if (!server_origin_allowed(wsi, srv->cfg)) {
        /* A form on another site could otherwise post turns (and through
         * tools, change data) with the visitor's browser. */
        respond_error(r, 403, "FORBIDDEN", "requests from this origin are not allowed (allowed_origins)");
        return 0;
    }
    if (r->route == R_NONE) {
        respond_error(r, 404, "NOT_FOUND", "no such endpoint (see docs/api.md)");
        return 0;
    }
    if (!r->method_ok) {
        respond_error(r, 405, "METHOD_NOT_ALLOWED", "this endpoint does not take that method (see docs/api.md)");
        return 0;
    }
    char accept[128];
    header(wsi, WSI_TOKEN_HTTP_ACCEPT, accept, sizeof accept);
    r->sse = r->route == R_CHAT && strstr(accept, "text/event-stream") != NULL;
    if (r->route != R_CHAT && r->route != R_UPLOAD) {
        handle_get_or_delete(r);
        return 0;
    }
    r->body_max = r->route == R_CHAT ? CHAT_BODY_MAX : UPLOAD_BODY_MAX;
    r->upload_rate = int_arg(wsi, "sample_rate=", 0, 0, 1 << 20);
    char clen[32];
    int has_len = !header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, clen, sizeof clen);
    if (has_len && strtoull(clen, NULL, 10) > r->body_max)
        r->body_too_large = 1; /* answered once the body has been read past */
    if (!has_len || strtoull(clen, NULL, 10) == 0)
        handle_body(r); /* no body will follow */
    return 0;
}

static int on_body(struct http_req *r, const void *in, size_t len)
{
    if (len == 0)
        return 0; /* lws reports an empty body as (NULL, 0) */
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

/* Writes headers, then body chunks; closes SSE streams and completes others. */
static int on_writable(struct lws *wsi, struct http_pss *pss)
{
    struct http_req *r = pss->req;
    if (!r)
        return 0;
    advance_turn(r);
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
            lws_finalize_write_http_header(wsi, start, &p, end))
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
    pss->req = NULL;
    req_free(r);
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
