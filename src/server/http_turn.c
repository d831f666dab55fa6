/* HTTP turns: a headless session runs the same pipeline as a WebSocket, and
 * its messages are gathered into one JSON answer (or relayed as server-sent
 * events). Uploaded clips' replies are kept a while for GET /v1/audio/{id}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/audio.h"
#include "core/clock.h"
#include "core/log.h"
#include "server/http_internal.h"
#include "protocol/protocol.h"

/* ---- replies of /v1/voice/upload, kept for GET /v1/audio/{id} ---- */

struct audio_cache {
    struct {
        char id[40];
        unsigned char *wav;
        size_t len;
        int64_t at;
        int64_t user_id; /* whose reply it is: nobody else may fetch it */
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
void audio_cache_put(struct audio_cache *c, int64_t user_id, const char *id, unsigned char *wav, size_t len)
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
            c->slot[i].user_id = user_id;
            return;
        }
    free(wav);
}

int audio_cache_get(struct audio_cache *c, int64_t user_id, const char *id, const unsigned char **wav, size_t *len)
{
    for (int i = 0; i < AUDIO_CACHE_SLOTS; i++)
        if (c->slot[i].wav && c->slot[i].user_id == user_id && !strcmp(c->slot[i].id, id)) {
            *wav = c->slot[i].wav;
            *len = c->slot[i].len;
            return 0;
        }
    return -1;
}


/* ---- turns through a headless session ---- */

/* Reply audio, gathered for the upload's answer (bounded). */
static enum outq_result req_send(void *ud, int binary, enum out_class cls, uint64_t turn, int phrase,
                                 const void *data, size_t len, size_t samples)
{
    (void)cls, (void)turn, (void)phrase, (void)samples;
    struct http_req *r = ud;
    if (r->complete || r->text_sent == 2 || !binary)
        return OUTQ_OK; /* the answer ends at done; text comes as events */
    if (r->audio.len + len / 2 <= (size_t)REPLY_AUDIO_MAX_S * (size_t)r->srv->cfg->tts_sample_rate)
        pcm_append(&r->audio, data, len / 2);
    return OUTQ_OK;
}

/* Relays the event as one server-sent event: its v1 message. */
static int relay_sse(struct http_req *r, const struct proto_event *ev)
{
    char *json = proto_event_json(ev);
    if (!json)
        return 0;
    char head[64];
    snprintf(head, sizeof head, "event: %s\ndata: ", proto_event_type(ev));
    int rc = http_stream_append(r, head, strlen(head)) || http_stream_append(r, json, strlen(json)) ||
             http_stream_append(r, "\n\n", 2);
    free(json);
    return rc;
}

/* Gathers what the session says into the answer (and relays it over SSE). */
static enum outq_result req_event(void *ud, const struct proto_event *ev, enum out_class cls, uint64_t turn)
{
    (void)cls, (void)turn;
    struct http_req *r = ud;
    if (r->complete || r->text_sent == 2)
        return OUTQ_OK; /* the answer ends at done */
    if (r->sse && relay_sse(r, ev))
        return OUTQ_FULL; /* the client is not reading; the turn goes on without it */
    switch (ev->kind) {
    case EV_READY:
        snprintf(r->conversation_id, sizeof r->conversation_id, "%s", ev->ready->conversation_id);
        r->ready = 1;
        if (r->sse && !r->not_found) { /* the stream's headers can go now */
            r->status = 200;
            snprintf(r->ctype, sizeof r->ctype, "text/event-stream");
            metrics_http_request(r->srv->metrics, 200);
        }
        lws_callback_on_writable(r->wsi); /* the text goes in from there, not from inside the session */
        break;
    case EV_ERROR: {
        if (!r->ready && ev->code && !strcmp(ev->code, ERR_NOT_FOUND))
            r->not_found = 1;
        cJSON *e = proto_event_object(ev);
        cJSON_DeleteItemFromObjectCaseSensitive(e, "type");
        if (e && !cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(r->answer, "errors"), e))
            cJSON_Delete(e);
        break;
    }
    case EV_ASSISTANT_TEXT:
        if (ev->status && !strcmp(ev->status, "end"))
            cJSON_ReplaceItemInObjectCaseSensitive(r->answer, "text", cJSON_CreateString(ev->text ? ev->text : ""));
        cJSON_ReplaceItemInObjectCaseSensitive(r->answer, "turn", cJSON_CreateNumber((double)ev->turn));
        break;
    case EV_TOOL_CALL:
    case EV_TOOL_RESULT: {
        cJSON *t = proto_event_object(ev);
        if (t && !cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(r->answer, "tools"), t))
            cJSON_Delete(t);
        break;
    }
    case EV_DONE:
    case EV_INTERRUPTED:
        if (ev->metrics) {
            cJSON_DeleteItemFromObjectCaseSensitive(r->answer, "metrics");
            cJSON_AddItemToObject(r->answer, "metrics", proto_metrics_object(ev->metrics));
        }
        r->text_sent = 2; /* the turn is over */
        lws_callback_on_writable(r->wsi);
        break;
    default:
        break;
    }
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
        http_stream_append(r, ev, sizeof ev - 1);
        r->complete = 1;
        return;
    }
    http_respond_error(r, 503, "SHUTTING_DOWN", "the server is shutting down");
}

static const struct session_io req_io = {
    .send = req_send, .purge_turn = req_purge, .set_timer = req_set_timer, .close = req_close, .event = req_event};

/* Starts the turn: a headless session, 'start' (resuming a conversation if
 * asked), and the text once 'ready' arrives. */
void http_start_turn(struct http_req *r, const char *conversation_id, int text_only)
{
    server *srv = r->srv;
    r->sess = session_new(&srv->env, &req_io, r, r->id);
    if (!r->sess) {
        http_respond_error(r, 500, "INTERNAL", "cannot start a session");
        return;
    }
    srv->nhttp_sessions++;
    session_set_headless(r->sess, text_only);
    session_set_user(r->sess, &r->user);
    r->answer = cJSON_CreateObject();
    cJSON_AddStringToObject(r->answer, "text", "");
    cJSON_AddNullToObject(r->answer, "turn");
    cJSON_AddArrayToObject(r->answer, "tools");
    cJSON_AddArrayToObject(r->answer, "errors");
    struct proto_client_msg start = {.type = MSG_START, .sample_rate = 16000, .half_duplex = -1, .echo_cancellation = -1};
    snprintf(start.conversation_id, sizeof start.conversation_id, "%s", conversation_id ? conversation_id : "");
    session_on_message(r->sess, &start);
}

/* Called from the writable callback: feed the text, or finish the answer. */
void http_advance_turn(struct http_req *r)
{
    if (!r->sess || r->complete)
        return;
    if (r->not_found) {
        http_respond_error(r, 404, "NOT_FOUND", "no such conversation");
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
                audio_cache_put(r->srv->audio, r->user.id, id, wav, len);
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
        http_respond_json(r, 502, o);
    } else {
        http_respond_json(r, 200, a);
    }
}
