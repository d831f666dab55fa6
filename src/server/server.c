/* Server: the libwebsockets context, one conn per WebSocket with its bounded
 * outgoing queue, and routing of mail to sessions by id. Nothing here blocks:
 * slow work is already on workers or LLM threads by the time it reaches us. */
#include "server/server.h"

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/files.h"
#include "core/log.h"
#include "core/mailbox.h"
#include "core/workers.h"
#include "llm/llm.h"
#include "llm/llm_check.h"
#include "memory/memory.h"
#include "protocol/outq.h"
#include "store/store.h"
#include "tools/tools.h"
#include "tools/mcp.h"
#include "vad/vad.h"
#include "tools/tools_builtin.h"
#include "protocol/protocol.h"
#include "server/server_internal.h"
#include "session/session.h"

#define SHUTDOWN_GRACE_US (3 * 1000000)
#define IO_THREADS 4

/* ---- session_io: how a session reaches its connection ---- */

static enum outq_result conn_send(void *ud, int binary, enum out_class cls, uint64_t turn, int phrase,
                                  const void *data, size_t len, size_t samples)
{
    struct conn *c = ud;
    if (c->close_requested == DROPPED)
        return OUTQ_FULL;
    enum outq_result r = outq_push(c->q, binary, cls, turn, phrase, data, len, samples);
    if (r == OUTQ_FULL) {
        /* The client stopped reading: memory stays bounded by dropping it. */
        log_warn("a client is not reading (%zu bytes queued): closing it", outq_bytes(c->q));
        c->close_requested = DROPPED;
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return r;
    }
    if (r == OUTQ_OK)
        lws_callback_on_writable(c->wsi);
    return r;
}

static void conn_purge(void *ud, uint64_t turn)
{
    struct conn *c = ud;
    outq_purge_turn(c->q, turn);
}

static void conn_timer_fired(lws_sorted_usec_list_t *sul)
{
    struct conn *c = lws_container_of(sul, struct conn, timer);
    if (c->sess)
        session_on_timer(c->sess);
}

static void conn_set_timer(void *ud, int64_t delay_us)
{
    struct conn *c = ud;
    lws_sul_schedule(c->srv->ctx, 0, &c->timer, conn_timer_fired, delay_us);
}

static void conn_close(void *ud)
{
    struct conn *c = ud;
    if (c->close_requested == OPEN)
        c->close_requested = CLOSE_AFTER_FLUSH;
    lws_callback_on_writable(c->wsi);
    /* A client that never reads again must not keep the socket forever. */
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, 5);
}

static const struct session_io conn_io = {
    .send = conn_send, .purge_turn = conn_purge, .set_timer = conn_set_timer, .close = conn_close};

/* /v1/realtime: the session speaks through the Realtime adapter, whose
 * frames are text; reply audio keeps its sample count for the accounting. */
static enum outq_result realtime_send(void *ud, enum out_class cls, uint64_t turn, int phrase, const char *text,
                                      size_t len, size_t samples)
{
    return conn_send(ud, 0, cls, turn, phrase, text, len, samples);
}

static enum outq_result realtime_audio(void *ud, int binary, enum out_class cls, uint64_t turn, int phrase,
                                       const void *data, size_t len, size_t samples)
{
    struct conn *c = ud;
    if (!binary) /* the session speaks through event; nothing else is text */
        return conn_send(ud, 0, cls, turn, phrase, data, len, samples);
    return realtime_on_audio(c->rt, turn, phrase, data, len / 2);
}

static enum outq_result realtime_event(void *ud, const struct proto_event *ev, enum out_class cls, uint64_t turn)
{
    struct conn *c = ud;
    return realtime_on_event(c->rt, ev, cls, turn);
}

static const struct session_io realtime_io = {.send = realtime_audio,
                                              .purge_turn = conn_purge,
                                              .set_timer = conn_set_timer,
                                              .close = conn_close,
                                              .event = realtime_event};

/* ---- mailbox ---- */

static void wake_loop(void *ud)
{
    server *srv = ud;
    lws_cancel_service(srv->ctx);
}

/* The LLM watch's thread: the loop tells the sessions. */
static void llm_status_changed(void *ud)
{
    server *srv = ud;
    atomic_store(&srv->llm_changed, 1);
    lws_cancel_service(srv->ctx);
}

static void broadcast_llm_status(server *srv)
{
    struct llm_check c;
    llm_watch_get(srv->env.llm_watch, &c);
    for (struct conn *c2 = srv->conns; c2; c2 = c2->next)
        if (c2->sess)
            session_on_llm_status(c2->sess, &c);
}

static void deliver_mail(server *srv)
{
    struct mail *m = mailbox_take_all(srv->env.mail);
    while (m) {
        struct mail *next = m->next;
        struct session_mail *sm = (struct session_mail *)m;
        struct conn *c = srv->by_id[sm->session_id % CONN_BUCKETS];
        while (c && !(c->sess && session_id(c->sess) == sm->session_id))
            c = c->id_next;
        if (c)
            session_on_mail(c->sess, sm);
        else if (http_api_deliver(srv, sm))
            wyoming_deliver(srv, sm); /* or nobody: stale mail of a closed session */
        session_mail_free(m);
        m = next;
    }
}

static void begin_shutdown(server *srv)
{
    if (srv->stopping)
        return;
    srv->stopping = 1;
    srv->stop_deadline = clock_now_us() + SHUTDOWN_GRACE_US;
    log_info("shutting down: closing %d session(s)", srv->nconns);
    for (struct conn *c = srv->conns; c; c = c->next)
        if (c->sess)
            session_shutdown(c->sess, "the server is shutting down");
}

/* ---- the WebSocket protocol ---- */

static int on_receive(struct conn *c, const void *in, size_t len)
{
    struct lws *wsi = c->wsi;
    if (lws_is_first_fragment(wsi)) {
        c->rx_len = 0;
        c->rx_oversized = 0;
    }
    if (!c->rx_oversized) {
        if (c->rx_len + len > c->rx_cap && c->rx_len + len <= c->rx_max) {
            /* Grown only as a client's events need it (Realtime's allow 1 MiB). */
            size_t cap = c->rx_cap * 2 > c->rx_len + len ? c->rx_cap * 2 : c->rx_len + len;
            unsigned char *rx = realloc(c->rx, cap < c->rx_max ? cap : c->rx_max);
            if (!rx)
                return -1;
            c->rx = rx;
            c->rx_cap = cap < c->rx_max ? cap : c->rx_max;
        }
        if (c->rx_len + len > c->rx_max) {
            c->rx_oversized = 1;
        } else {
            memcpy(c->rx + c->rx_len, in, len);
            c->rx_len += len;
        }
    }
    if (c->rx_oversized)
        c->rx_len += len; /* count only, for the error message */
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
        return 0;
    int binary = lws_frame_is_binary(wsi);
    int rc = 0;
    if (c->rx_oversized)
        session_on_oversized(c->sess, binary, c->rx_len, c->rx_max);
    else if (c->rt) /* every Realtime event is JSON; a binary frame is refused as not JSON */
        rc = realtime_on_client(c->rt, (const char *)c->rx, c->rx_len);
    else if (binary)
        rc = session_on_audio(c->sess, c->rx, c->rx_len);
    else
        rc = session_on_text(c->sess, (const char *)c->rx, c->rx_len);
    c->rx_len = 0;
    c->rx_oversized = 0;
    if (rc)
        conn_close(c);
    return 0;
}

static int on_writable(struct conn *c)
{
    struct out_msg *m = outq_peek(c->q);
    if (!m) {
        if (c->close_requested != OPEN) {
            lws_close_reason(c->wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            return -1;
        }
        return 0;
    }
    /* A message of no bytes only accounts for audio (a text-only Realtime session). */
    if (m->len && lws_write(c->wsi, m->data, m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) < (int)m->len)
        return -1;
    if (m->samples && c->sess)
        session_on_written(c->sess, m->turn, m->phrase, m->samples);
    outq_pop(c->q);
    if (outq_peek(c->q) || c->close_requested != OPEN)
        lws_callback_on_writable(c->wsi);
    return 0;
}

/* A web page from another site must not drive a local assistant through the
 * visitor's browser: a browser's request (the /ws upgrade, an API call)
 * carries an Origin, which must be parley's own host or one of
 * allowed_origins. */
int server_origin_allowed(struct lws *wsi, const struct parley_config *cfg)
{
    char origin[256], host[256];
    if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0)
        return 1;
    if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0)
        host[0] = 0;
    const char *bare = strstr(origin, "://") ? strstr(origin, "://") + 3 : origin;
    if (host[0] && !strcasecmp(bare, host))
        return 1;
    size_t n = strlen(origin);
    for (const char *p = cfg->allowed_origins; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (len == n && !strncasecmp(p, origin, n))
            return 1;
        p += len;
    }
    log_warn("refusing a WebSocket from origin %s (allowed_origins)", origin);
    return 0;
}

/* In a name list ("a, b"): case-blind; "*" matches any. */
static int listed(const char *list, const char *name, size_t n)
{
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if ((len == 1 && *p == '*') || (len && len == n && !strncasecmp(p, name, n)))
            return 1;
        p += len;
    }
    return 0;
}

/* DNS rebinding: a page on http://evil.example:8080 whose name resolves to
 * 127.0.0.1 is same-origin with itself, so the Origin check passes. What
 * gives it away is the Host it asks for. A rebinding needs a name, so IP
 * literals pass, as do localhost, this machine's names, the listen host
 * and allowed_hosts. */
int server_host_allowed(struct lws *wsi, const struct parley_config *cfg)
{
    char host[256];
    if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0)
        return 1; /* no Host: not a browser */
    char *name = host;
    if (*name == '[') { /* [v6]:port */
        name++;
        name[strcspn(name, "]")] = 0;
    } else {
        char *colon = strchr(name, ':');
        if (colon && !strchr(colon + 1, ':'))
            *colon = 0;
    }
    size_t n = strlen(name);
    while (n > 0 && name[n - 1] == '.')
        name[--n] = 0;
    unsigned char addr[16];
    if (inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1)
        return 1;
    char self[256] = "";
    gethostname(self, sizeof self - 8);
    size_t sn = strlen(self);
    if (!strcasecmp(name, "localhost") || (n > 10 && !strcasecmp(name + n - 10, ".localhost")) ||
        !strcasecmp(name, cfg->listen_host) || (sn && !strcasecmp(name, self)) ||
        (sn && n == sn + 6 && !strncasecmp(name, self, sn) && !strcasecmp(name + sn, ".local")) ||
        listed(cfg->allowed_hosts, name, n))
        return 1;
    log_warn("refusing a request for host '%.100s' (allowed_hosts)", name);
    return 0;
}

/* 1: protocol v1 (/ws); 2: the OpenAI Realtime API (/v1/realtime); 0: neither. */
static int ws_path(struct lws *wsi)
{
    char uri[64];
    int n = lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    if (n <= 0)
        return 0;
    return !strcmp(uri, "/ws") || !strcmp(uri, "/ws/") ? 1 : !strcmp(uri, "/v1/realtime") ? 2 : 0;
}

/* The Realtime adapter over the conn's session (TTS rate, the model it names). */
static int open_realtime(struct conn *c)
{
    struct realtime_params p = realtime_default_params();
    p.tts_rate = c->srv->cfg->tts_sample_rate;
    p.model = c->srv->cfg->llm_model; /* ?model= is accepted and answered with the configured model */
    p.voice = tts_engine_count(c->srv->env.tts) ? tts_engine_name(c->srv->env.tts, 0) : "";
    c->rt = realtime_new(&p, c->sess, realtime_send, c);
    return c->rt ? realtime_start(c->rt) : -1;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct conn *c = user;
    server *srv = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (!ws_path(wsi) || !server_host_allowed(wsi, srv->cfg) || !server_origin_allowed(wsi, srv->cfg))
            return 1;
        /* Sessions past capacity are told BUSY at 'start'; connections far
         * past it are refused outright, which bounds their memory. */
        if (srv->nconns >= 2 * srv->cfg->max_sessions + 16 || srv->stopping) {
            log_debug("refusing a connection: %s", srv->stopping ? "shutting down" : "too many connections");
            return 1;
        }
        return 0;
    case LWS_CALLBACK_ESTABLISHED: {
        memset(c, 0, sizeof *c);
        c->wsi = wsi;
        c->srv = srv;
        server_auth_capture(c);
        int realtime = ws_path(wsi) == 2;
        c->rx_max = realtime ? REALTIME_MAX_EVENT : PROTO_MAX_FRAME;
        c->rx_cap = PROTO_MAX_FRAME;
        c->q = outq_new((size_t)srv->cfg->send_queue_kib * 1024, LWS_PRE);
        c->rx = malloc(c->rx_cap);
        c->sess = session_new(&srv->env, realtime ? &realtime_io : &conn_io, c, ++srv->next_session_id);
        if (!c->q || !c->rx || !c->sess)
            return -1;
        c->next = srv->conns;
        srv->conns = c;
        srv->nconns++;
        struct conn **bucket = &srv->by_id[srv->next_session_id % CONN_BUCKETS];
        c->id_next = *bucket;
        *bucket = c;
        if (realtime && open_realtime(c)) /* the session opens at once: session.created follows */
            conn_close(c);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE:
        return c->sess ? on_receive(c, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return c->q ? on_writable(c) : -1;
    case LWS_CALLBACK_CLOSED:
        for (struct conn **pp = &srv->conns; *pp; pp = &(*pp)->next)
            if (*pp == c) {
                *pp = c->next;
                srv->nconns--;
                break;
            }
        if (c->sess)
            for (struct conn **pp = &srv->by_id[session_id(c->sess) % CONN_BUCKETS]; *pp; pp = &(*pp)->id_next)
                if (*pp == c) {
                    *pp = c->id_next;
                    break;
                }
        lws_sul_cancel(&c->timer);
        session_free(c->sess);
        realtime_free(c->rt); /* after the session: its last words may go through it */
        c->rt = NULL;
        outq_free(c->q);
        free(c->rx);
        c->sess = NULL;
        c->q = NULL;
        c->rx = NULL;
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (!srv)
            return 0;
        deliver_mail(srv);
        if (atomic_exchange(&srv->llm_changed, 0))
            broadcast_llm_status(srv);
        if (srv->stop_requested)
            begin_shutdown(srv);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* ---- life cycle ---- */

struct asr_params server_asr_params(const struct parley_config *cfg)
{
    struct asr_params p = asr_default_params();
    p.engine = cfg->asr_engine;
    p.partials = cfg->asr_partials;
    p.model_dir = cfg->asr_model_dir;
    p.pocketsphinx_options = cfg->asr_pocketsphinx_options;
    p.max_decoders = cfg->asr_decoders;
    p.remote_url = cfg->asr_openai_url;
    p.remote_key = cfg->asr_openai_api_key;
    p.remote_model = cfg->asr_openai_model;
    p.language = cfg->asr_language;
    p.timeout_ms = cfg->asr_timeout_ms;
    p.whisper_model = cfg->asr_whisper_model;
    p.models_dir = cfg->models_dir;
    p.whisper_threads = cfg->asr_whisper_threads;
    return p;
}

struct llm_params server_llm_params(const struct parley_config *cfg) { return llm_params_from_config(cfg); }

struct tts_params server_tts_params(const struct parley_config *cfg)
{
    struct tts_params p = tts_default_params();
    p.chain = cfg->tts_chain;
    p.timeout_s = cfg->tts_timeout_s;
    p.out_rate = cfg->tts_sample_rate;
    p.flite_voice = cfg->tts_flite_voice;
    p.espeak_voice = cfg->tts_espeak_voice;
    p.openai_url = cfg->tts_openai_url;
    p.openai_key = cfg->tts_openai_api_key;
    p.openai_model = cfg->tts_openai_model;
    p.openai_voice = cfg->tts_openai_voice;
    p.openai_rate = cfg->tts_openai_sample_rate;
    p.instances = cfg->workers;
    return p;
}

/* vad.engine: an explicit choice must work (checked by opening it once);
 * auto takes Silero when its model is there, WebRTC otherwise. */
int server_vad_choice(const struct parley_config *cfg, struct vad_choice *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (cfg->vad_silero_model[0])
        snprintf(out->model, sizeof out->model, "%s", cfg->vad_silero_model);
    else
        snprintf(out->model, sizeof out->model, "%.600s/silero-v6.2.0-ggml.bin", cfg->models_dir);
    const char *want = cfg->vad_engine;
    if (!strcmp(want, "auto")) {
        const struct vad_engine *silero = vad_engine_find("silero", out->why, sizeof out->why);
        FILE *f = silero ? fopen(out->model, "rb") : NULL;
        if (f)
            fclose(f);
        want = f ? "silero" : "webrtc";
        if (silero && !f)
            snprintf(out->why, sizeof out->why, "no Silero model at %s", out->model);
    }
    out->engine = vad_engine_find(want, err, errlen);
    if (!out->engine)
        return -1;
    struct vad_params vp = vad_default_params();
    vp.engine = out->engine;
    vp.model_path = out->model;
    vad *probe = vad_new(&vp, err, errlen); /* a bad model file is a start-up error */
    if (!probe)
        return -1;
    vad_free(probe);
    return 0;
}

static int choose_vad(server *srv, char *err, size_t errlen)
{
    if (server_vad_choice(srv->cfg, &srv->vad, err, errlen))
        return -1;
    srv->env.vad_model = srv->vad.model;
    srv->env.vad_engine = srv->vad.engine;
    /* Barge-in asks Silero too when the VAD is another engine and Silero's
     * model is there (checked by opening it once). */
    char why[256];
    const struct vad_engine *silero = vad_engine_find("silero", why, sizeof why);
    if (srv->cfg->barge_in_silero_confirm && silero && srv->vad.engine != silero) {
        vad_opinion *probe = vad_opinion_new(silero, srv->vad.model, 2, why, sizeof why);
        if (probe)
            srv->env.barge_confirm = silero;
        vad_opinion_free(probe);
    }
    return 0;
}

static int open_store(server *srv, char *err, size_t errlen)
{
    const struct parley_config *cfg = srv->cfg;
    if (!cfg->data_dir[0]) {
        log_info("data_dir is empty: conversations and memories are not stored");
        return 0;
    }
    char why[300];
    if (files_make_dirs(cfg->data_dir, why, sizeof why)) {
        snprintf(err, errlen, "data_dir: %s", why);
        return -1;
    }
    char path[600];
    snprintf(path, sizeof path, "%s/parley.db", cfg->data_dir);
    struct store_params sp = store_default_params();
    sp.path = path;
    srv->env.db = store_open(&sp, err, errlen);
    if (!srv->env.db)
        return -1;
    srv->mem = memory_default_params();
    srv->mem.db = srv->env.db;
    struct embed_params *e = &srv->mem.embed;
    e->provider = cfg->memory_embed_provider[0] ? cfg->memory_embed_provider : cfg->llm_provider;
    e->url = cfg->memory_embed_url[0] ? cfg->memory_embed_url : cfg->llm_url;
    e->model = cfg->memory_embed_model;
    e->api_key = cfg->llm_api_key;
    /* recall waits on it before every LLM request: never longer than a first token */
    if (cfg->llm_first_token_timeout_ms < e->timeout_ms)
        e->timeout_ms = cfg->llm_first_token_timeout_ms;
    srv->env.mem = &srv->mem;
    log_info("storing conversations and memories in %s%s%s", path, cfg->memory_embed_model[0] ? ", embeddings by " : "",
             cfg->memory_embed_model);
    return 0;
}

server *server_new(const struct parley_config *cfg, char *err, size_t errlen)
{
    server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return NULL;
    srv->cfg = cfg;
    srv->env.cfg = cfg;
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    if (llm_global_init()) {
        snprintf(err, errlen, "cannot initialise libcurl");
        goto fail;
    }
    struct asr_params ap = server_asr_params(cfg);
    srv->env.asr = asr_model_new(&ap, err, errlen);
    if (!srv->env.asr)
        goto fail;
    if (choose_vad(srv, err, errlen))
        goto fail;
    struct tts_params tp = server_tts_params(cfg);
    srv->env.tts = tts_new(&tp, err, errlen);
    if (!srv->env.tts)
        goto fail;
    struct workers_params wp = workers_default_params();
    wp.threads = cfg->workers;
    srv->env.pool = workers_new(&wp);
    wp.threads = IO_THREADS; /* tools and database reads wait more than they compute */
    srv->env.io = workers_new(&wp);
    wp.threads = 1;
    srv->env.writer = workers_new(&wp);
    srv->env.mail = mailbox_new(wake_loop, srv);
    srv->metrics = srv->env.metrics = metrics_new();
    srv->audio = audio_cache_new();
    if (!srv->metrics || !srv->audio) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (!srv->env.pool || !srv->env.io || !srv->env.writer || !srv->env.mail) {
        snprintf(err, errlen, "cannot start the worker pools");
        goto fail;
    }
    if (open_store(srv, err, errlen) || server_auth_start(srv, err, errlen))
        goto fail;
    if (cfg->tools_enabled) {
        srv->env.tools = tools_new();
        srv->builtin_tools = srv->env.tools ? tools_add_builtins(srv->env.tools, srv->env.mem) : NULL;
        if (!srv->builtin_tools) {
            snprintf(err, errlen, "cannot set up the tools");
            goto fail;
        }
        struct mcp_params mp = mcp_default_params();
        for (int i = 0; i < cfg->nmcp; i++) {
            if (!cfg->mcp[i].command[0] == !cfg->mcp[i].url[0]) {
                snprintf(err, errlen, "mcp.servers.%s: give a command (a local server) or a url (a remote one)",
                         cfg->mcp[i].name);
                goto fail;
            }
            srv->mcp[i] = mcp_start(&cfg->mcp[i], &mp, srv->env.tools);
        }
    }

    /* The API by callback; everything else is a file of the web client. */
    static const char *const api[] = {"/v1", "/health", "/metrics"};
    for (int i = 0; i < 3; i++)
        srv->api_mounts[i] = (struct lws_http_mount){
            .mount_next = i < 2 ? &srv->api_mounts[i + 1] : NULL,
            .mountpoint = api[i],
            .mountpoint_len = (unsigned char)strlen(api[i]),
            .protocol = "parley-http",
            .origin_protocol = LWSMPRO_CALLBACK,
        };
    srv->mount = (struct lws_http_mount){
        .mount_next = &srv->api_mounts[0],
        .mountpoint = "/",
        .mountpoint_len = 1,
        .origin = cfg->web_root,
        .def = "index.html",
        .origin_protocol = LWSMPRO_FILE,
        .cache_max_age = 0,
        .cache_revalidate = 1,
        .cache_reusable = 1,
    };
    srv->protocols[0] = (struct lws_protocols){
        .name = "parley",
        .callback = callback,
        .per_session_data_size = sizeof(struct conn),
        .rx_buffer_size = 16384,
    };
    srv->protocols[1] = (struct lws_protocols){
        .name = "parley-http",
        .callback = http_api_callback,
        .per_session_data_size = sizeof(struct http_pss),
    };
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = cfg->listen_port;
    info.iface = strcmp(cfg->listen_host, "0.0.0.0") ? cfg->listen_host : NULL;
    info.protocols = srv->protocols;
    info.mounts = &srv->mount;
    info.user = srv;
    /* UTF-8 is checked by the protocol parser, which can say what is wrong
     * (lws would only close with 1007). */
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    if (cfg->tls_cert[0]) { /* checked against each other by server_auth_start */
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cfg->tls_cert;
        info.ssl_private_key_filepath = cfg->tls_key;
        /* HTTP/1.1 only: over HTTP/2, browsers open WebSockets by extended
         * CONNECT (RFC 8441), which the upgrade checks here do not see. */
        info.alpn = "http/1.1";
    }
    info.ka_time = 0;
    srv->ctx = lws_create_context(&info);
    if (!srv->ctx) {
        snprintf(err, errlen, "cannot listen on %s (address in use, or not a local address?)", cfg->listen);
        goto fail;
    }
    if (wyoming_start(srv, err, errlen))
        goto fail;
    /* Whether the LLM answers is found out in the background: start-up does
     * not wait for it, and a user is told before they speak. */
    struct llm_watch_params watch = llm_watch_default_params();
    watch.llm = server_llm_params(cfg);
    watch.interval_ms = cfg->llm_check_interval_s * 1000;
    watch.on_change = llm_status_changed;
    watch.ud = srv;
    srv->env.llm_watch = llm_watch_new(&watch);
    if (!srv->env.llm_watch) {
        snprintf(err, errlen, "cannot start the LLM check");
        goto fail;
    }
    srv->env.llm_connections = llm_connections_new(); /* without it, each reply connects anew */
    srv->env.admit = server_admit;
    srv->env.admit_ud = srv;
    server_load_start(srv);
    return srv;
fail:
    server_free(srv);
    return NULL;
}

void server_request_stop(server *srv)
{
    srv->stop_requested = 1;
    if (srv->ctx)
        lws_cancel_service(srv->ctx);
}

int server_run(server *srv)
{
    server_log_engines(srv->cfg, asr_model_choice(srv->env.asr), &srv->vad);
    server_auth_log(srv);
    log_info("listening on %s://%s:%d/ (WebSocket: /ws), LLM: %s %s model %s, ASR: %s, TTS: %s",
             srv->cfg->tls_cert[0] ? "https" : "http", srv->cfg->listen_host, srv->cfg->listen_port, srv->cfg->llm_provider, srv->cfg->llm_url,
             srv->cfg->llm_model, asr_model_engine_name(srv->env.asr), srv->cfg->tts_chain);
    while (!(srv->stopping && (srv->nconns == 0 || clock_now_us() > srv->stop_deadline))) {
        if (lws_service(srv->ctx, 100) < 0)
            break;
        if (srv->stop_requested && !srv->stopping)
            begin_shutdown(srv);
    }
    return 0;
}

void server_free(server *srv)
{
    if (!srv)
        return;
    /* Workers first: their last mail still finds a live context to wake.
     * Then the context, whose teardown frees the remaining sessions, which
     * store their turns through the writer: it goes last. */
    llm_watch_free(srv->env.llm_watch); /* it wakes the loop: before the context goes */
    for (int i = 0; i < CONFIG_MAX_MCP; i++)
        mcp_begin_stop(srv->mcp[i]); /* tool calls still waiting on a server return now */
    workers_free(srv->env.pool);
    workers_free(srv->env.io);
    for (int i = 0; i < CONFIG_MAX_MCP; i++)
        mcp_stop(srv->mcp[i]); /* no tool job is left to call them */
    if (srv->env.mail)
        mailbox_set_wake(srv->env.mail, NULL, NULL); /* the writer's last reads wake nothing */
    if (srv->ctx) {
        server_load_stop(srv);
        lws_context_destroy(srv->ctx); /* sessions still open store their turn as they go */
    }
    workers_free(srv->env.writer);     /* every turn queued for the database is written */
    mailbox_free(srv->env.mail, session_mail_free);
    tools_free(srv->env.tools);
    tools_builtins_free(srv->builtin_tools);
    store_close(srv->env.db);
    llm_connections_free(srv->env.llm_connections); /* requests still unwinding hold their own reference */
    server_auth_stop(srv); /* no worker is left to read users into it */
    metrics_free(srv->metrics);
    audio_cache_free(srv->audio);
    tts_free(srv->env.tts);
    asr_model_free(srv->env.asr);
    /* No llm_global_cleanup(): a cancelled request's thread may still be
     * unwinding inside libcurl (it holds its own reference), and curl's
     * global state must outlive it. The process exits right after. */
    free(srv);
}
