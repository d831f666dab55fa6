/* The Wyoming server (wyoming.listen): a raw TCP vhost of the same lws loop.
 * Each connection can transcribe (a recogniser stream of its own), speak
 * (TTS jobs, one at a time, in order) and handle a transcript (a headless
 * text-only session: the LLM with memory and tools). Framing is
 * protocol/wyoming.c's; results come back through the server's mailbox. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "core/log.h"
#include "core/utf8.h"
#include "phrase/phrase.h"
#include "protocol/wyoming.h"
#include "server/server_internal.h"
#include "tts/tts.h"

#define WY_SEND_QUEUE (16 * 1024 * 1024) /* a long spoken answer, queued whole */
#define WY_MAX_TEXT 4000                 /* characters per synthesis (about 4 min of speech) */
#define WY_CHUNK_MS 100                  /* audio-chunk length we send */
#define WY_ATTRIBUTION_URL "https://github.com/parley-voice/parley"

struct wy_text { /* a piece of text waiting for the TTS, in order */
    struct wy_text *next;
    char *text;
};

struct wy_conn {
    struct lws *wsi;
    server *srv;
    uint64_t id, sess_id; /* mail for this connection; for its handle session */
    wy_reader *rd;
    outq *q;
    int close_after_flush; /* a broken stream: the error goes out, then the close */
    int dropped;           /* not reading: nothing more is queued */
    struct wy_conn *next;
    /* speech to text */
    asr_stream *asr;
    resampler *rs;
    struct pcm_buf pcm16;
    int rate, width, channels; /* of audio-start */
    int hearing;               /* between audio-start and audio-stop */
    uint64_t utt;
    int64_t heard_samples;
    /* text to speech */
    int tts_order[TTS_MAX_ENGINES], tts_n;
    struct wy_text *texts, **texts_tail;
    size_t texts_chars;
    int tts_running, streaming, stream_stopped, stream_spoke;
    phrase_splitter *splitter;
    /* handle */
    session *sess;
    int sess_ready, handling;
    char *handle_text;
    char *answer, *failure;
    cJSON *context;
    lws_sorted_usec_list_t timer;
};

struct wy_tts_job {
    const struct session_env *env;
    uint64_t conn_id;
    int order[TTS_MAX_ENGINES], n;
    char *text;
};

/* ---- sending ---- */

static void wy_send(struct wy_conn *c, const char *type, cJSON *data, const void *payload, size_t len)
{
    size_t n = 0;
    unsigned char *bytes = wy_encode(type, data, payload, len, &n);
    cJSON_Delete(data);
    if (c->dropped) {
        free(bytes);
        return;
    }
    if (!bytes || outq_push(c->q, 1, OUT_CONTROL, 0, 0, bytes, n, 0) != OUTQ_OK) {
        log_warn("wyoming %llu: the client is not reading; closing", (unsigned long long)c->id);
        c->dropped = 1;
    }
    free(bytes);
    lws_callback_on_writable(c->wsi);
}

static void wy_error(struct wy_conn *c, const char *code, const char *text)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "text", text);
    cJSON_AddStringToObject(d, "code", code);
    wy_send(c, "error", d, NULL, 0);
}

static cJSON *audio_format(int rate)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "rate", rate);
    cJSON_AddNumberToObject(d, "width", 2);
    cJSON_AddNumberToObject(d, "channels", 1);
    return d;
}

/* audio-start, 100 ms chunks, audio-stop: one synthesised piece. */
static void send_audio(struct wy_conn *c, const int16_t *pcm, size_t n)
{
    const int rate = c->srv->cfg->tts_sample_rate;
    const size_t chunk = (size_t)rate * WY_CHUNK_MS / 1000;
    wy_send(c, "audio-start", audio_format(rate), NULL, 0);
    for (size_t off = 0; off < n; off += chunk)
        wy_send(c, "audio-chunk", audio_format(rate), pcm + off, (n - off < chunk ? n - off : chunk) * 2);
    wy_send(c, "audio-stop", cJSON_CreateObject(), NULL, 0);
}

/* ---- describe ---- */

static cJSON *program(const char *name, const char *description)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "name", name);
    cJSON *a = cJSON_AddObjectToObject(p, "attribution");
    cJSON_AddStringToObject(a, "name", "parley");
    cJSON_AddStringToObject(a, "url", WY_ATTRIBUTION_URL);
    cJSON_AddBoolToObject(p, "installed", 1);
    cJSON_AddStringToObject(p, "description", description);
    cJSON_AddNullToObject(p, "version");
    return p;
}

static cJSON *english(void)
{
    const char *en[] = {"en"};
    return cJSON_CreateStringArray(en, 1);
}

static void send_info(struct wy_conn *c)
{
    const struct session_env *env = &c->srv->env;
    cJSON *info = cJSON_CreateObject();
    cJSON *asr = program("parley", "parley's speech recognition");
    cJSON *m = program(asr_model_engine_name(env->asr), "the recogniser parley is configured with");
    cJSON_AddItemToObject(m, "languages", english());
    cJSON_AddItemToArray(cJSON_AddArrayToObject(asr, "models"), m);
    cJSON_AddBoolToObject(asr, "supports_transcript_streaming", 1);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(info, "asr"), asr);

    cJSON *tts = program("parley", "parley's speech synthesis");
    cJSON *voices = cJSON_AddArrayToObject(tts, "voices");
    for (int i = 0; i < tts_engine_count(env->tts); i++) {
        cJSON *v = program(tts_engine_name(env->tts, i), "a TTS engine; the others follow it if it fails");
        cJSON_AddItemToObject(v, "languages", english());
        cJSON_AddItemToArray(voices, v);
    }
    cJSON_AddBoolToObject(tts, "supports_synthesize_streaming", 1);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(info, "tts"), tts);

    cJSON *handle = program("parley", "parley's assistant: its LLM, with memory and tools");
    cJSON *hm = program(c->srv->cfg->llm_model, "the LLM that answers");
    cJSON_AddItemToObject(hm, "languages", english());
    cJSON_AddItemToArray(cJSON_AddArrayToObject(handle, "models"), hm);
    cJSON_AddBoolToObject(handle, "supports_handled_streaming", 0);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(info, "handle"), handle);
    static const char *const none[] = {"intent", "wake", "mic", "snd"}; /* not ours */
    for (size_t i = 0; i < sizeof none / sizeof *none; i++)
        cJSON_AddArrayToObject(info, none[i]);
    wy_send(c, "info", info, NULL, 0);
}

/* ---- speech to text ---- */

static void on_asr_final(void *ud, uint64_t utt, const char *text, int64_t audio_ms, int64_t cpu_us)
{
    (void)audio_ms, (void)cpu_us;
    struct wy_conn *c = ud; /* id and srv never change: safe to read here */
    struct session_mail *m = session_mail_new(c->id, MAIL_ASR_FINAL, utt, text, strlen(text));
    if (m)
        mailbox_post(c->srv->env.mail, &m->node);
}

static void on_asr_error(void *ud, uint64_t utt, const char *message)
{
    struct wy_conn *c = ud;
    struct session_mail *m = session_mail_new(c->id, MAIL_ASR_ERROR, utt, message, strlen(message));
    if (m)
        mailbox_post(c->srv->env.mail, &m->node);
}

static int int_field(const cJSON *d, const char *name, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, name);
    return cJSON_IsNumber(v) && v->valuedouble >= -1e9 && v->valuedouble <= 1e9 ? (int)v->valuedouble : dflt;
}

/* The transcript (empty after a failure), closing the streaming frame. */
static void send_transcript(struct wy_conn *c, const char *text)
{
    if (text[0]) {
        cJSON *chunk = cJSON_CreateObject();
        cJSON_AddStringToObject(chunk, "text", text);
        wy_send(c, "transcript-chunk", chunk, NULL, 0);
    }
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "text", text);
    cJSON_AddStringToObject(t, "language", "en");
    wy_send(c, "transcript", t, NULL, 0);
    wy_send(c, "transcript-stop", cJSON_CreateObject(), NULL, 0);
}

static void start_hearing(struct wy_conn *c, const cJSON *d)
{
    int rate = int_field(d, "rate", 16000), width = int_field(d, "width", 2), channels = int_field(d, "channels", 1);
    if (rate < 8000 || rate > 96000 || width != 2 || channels < 1 || channels > 8) {
        wy_error(c, "BAD_AUDIO", "audio must be 16-bit PCM (width 2), 8000 to 96000 Hz, 1 to 8 channels");
        return;
    }
    if (!c->asr) {
        struct asr_callbacks cb = {.final = on_asr_final, .error = on_asr_error};
        /* No partials: their text would be revised, and Wyoming's chunks
         * add up to the transcript. */
        c->asr = asr_stream_new(c->srv->env.asr, c->srv->env.pool, &cb, c, 3600 * 1000);
    }
    resampler_free(c->rs);
    c->rs = resampler_new(rate, 16000);
    if (!c->asr || !c->rs) {
        wy_error(c, "INTERNAL", "cannot start a recogniser");
        return;
    }
    if (c->hearing)
        asr_stream_abort(c->asr); /* a new audio-start replaces an unfinished clip */
    c->rate = rate, c->width = width, c->channels = channels;
    c->hearing = 1;
    c->heard_samples = 0;
    asr_stream_begin(c->asr, ++c->utt);
    cJSON *ts = cJSON_CreateObject();
    cJSON_AddStringToObject(ts, "language", "en");
    wy_send(c, "transcript-start", ts, NULL, 0);
}

static void hear(struct wy_conn *c, const struct wy_event *ev)
{
    if (!c->hearing)
        start_hearing(c, ev->data); /* audio-start is optional: the chunk says its format */
    if (!c->hearing)
        return;
    if (int_field(ev->data, "rate", c->rate) != c->rate || int_field(ev->data, "width", 2) != 2 ||
        int_field(ev->data, "channels", c->channels) != c->channels) {
        wy_error(c, "BAD_AUDIO", "an audio-chunk's format differs from its audio-start's");
        return;
    }
    size_t frame = (size_t)c->channels * 2, n = ev->payload_len / frame;
    if (ev->payload_len % frame) {
        wy_error(c, "BAD_AUDIO", "an audio-chunk's payload must hold whole 16-bit frames");
        return;
    }
    int16_t *mono = malloc((n ? n : 1) * sizeof *mono);
    if (!mono)
        return;
    for (size_t i = 0; i < n; i++) {
        int sum = 0;
        for (int ch = 0; ch < c->channels; ch++) {
            int16_t v;
            memcpy(&v, ev->payload + (i * (size_t)c->channels + (size_t)ch) * 2, 2);
            sum += v;
        }
        mono[i] = (int16_t)(sum / c->channels);
    }
    c->pcm16.len = 0;
    int ok = resampler_process(c->rs, mono, n, &c->pcm16) == 0;
    free(mono);
    c->heard_samples += (int64_t)c->pcm16.len;
    if (c->heard_samples > (int64_t)c->srv->cfg->asr_max_utterance_ms * 16) {
        asr_stream_abort(c->asr);
        c->hearing = 0;
        wy_error(c, ERR_MAX_DURATION, "the clip is longer than asr.max_utterance_ms");
        send_transcript(c, "");
        return;
    }
    if (ok && c->pcm16.len)
        asr_stream_push(c->asr, c->pcm16.samples, c->pcm16.len);
}

static void stop_hearing(struct wy_conn *c)
{
    if (!c->hearing)
        return; /* a stray audio-stop (or after an error): nothing to finish */
    c->hearing = 0;
    if (asr_stream_end(c->asr)) {
        wy_error(c, ERR_ASR_FAIL, "the recogniser could not finish");
        send_transcript(c, "");
    }
}

/* ---- text to speech: one job at a time, in order ---- */

static void tts_job_run(void *arg)
{
    struct wy_tts_job *j = arg;
    struct session_mail *m = session_mail_new(j->conn_id, MAIL_TTS_DONE, 0, NULL, 0);
    struct tts_result res = {0};
    int rc = tts_speak(j->env->tts, j->order, j->n, j->text, NULL, NULL, NULL, &res);
    if (m) {
        m->status = rc;
        m->tts = res;
        mailbox_post(j->env->mail, &m->node);
    } else {
        tts_result_free(&res);
    }
    free(j->text);
    free(j);
}

static void next_tts(struct wy_conn *c)
{
    if (c->tts_running)
        return;
    if (!c->texts) {
        if (c->streaming && c->stream_stopped) { /* always end with audio-stop and synthesize-stopped */
            if (!c->stream_spoke)
                send_audio(c, NULL, 0);
            c->streaming = 0;
            wy_send(c, "synthesize-stopped", cJSON_CreateObject(), NULL, 0);
        }
        return;
    }
    struct wy_text *t = c->texts;
    c->texts = t->next;
    if (!c->texts)
        c->texts_tail = &c->texts;
    c->texts_chars -= strlen(t->text);
    struct wy_tts_job *j = calloc(1, sizeof *j);
    if (j) {
        j->env = &c->srv->env;
        j->conn_id = c->id;
        memcpy(j->order, c->tts_order, sizeof j->order);
        j->n = c->tts_n;
        j->text = t->text;
    }
    free(t);
    if (!j || workers_submit_first(c->srv->env.pool, tts_job_run, j)) {
        if (j)
            free(j->text);
        free(j);
        wy_error(c, ERR_BUSY, "the server is too busy to speak now; try again");
        send_audio(c, NULL, 0);
        next_tts(c);
        return;
    }
    c->tts_running = 1;
}

static void queue_text(struct wy_conn *c, const char *text, size_t len)
{
    while (len && (*text == ' ' || *text == '\n'))
        text++, len--;
    if (!len)
        return;
    if (c->texts_chars + len > WY_MAX_TEXT) {
        wy_error(c, "TEXT_TOO_LONG", "at most 4000 characters of text may wait to be spoken");
        return;
    }
    struct wy_text *t = calloc(1, sizeof *t);
    if (!t || !(t->text = strndup(text, len))) {
        free(t);
        return;
    }
    *c->texts_tail = t;
    c->texts_tail = &t->next;
    c->texts_chars += len;
    next_tts(c);
}

static void on_phrase(void *ud, const char *phrase, size_t len)
{
    queue_text(ud, phrase, len);
}

/* The voice a synthesize names (a TTS engine, first in the chain). */
static void choose_voice(struct wy_conn *c, const cJSON *d)
{
    const cJSON *voice = cJSON_GetObjectItemCaseSensitive(d, "voice");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(voice, "name");
    char err[200];
    if (cJSON_IsString(name) &&
        tts_parse_chain(c->srv->env.tts, name->valuestring, c->tts_order, TTS_MAX_ENGINES, err, sizeof err) == 1) {
        c->tts_n = 1;
        return;
    }
    c->tts_n = tts_engine_count(c->srv->env.tts); /* the configured chain */
    for (int i = 0; i < c->tts_n; i++)
        c->tts_order[i] = i;
}

static void on_tts_done(struct wy_conn *c, struct session_mail *m)
{
    c->tts_running = 0;
    if (m->status == 0) {
        send_audio(c, m->tts.pcm.samples, m->tts.pcm.len);
    } else {
        wy_error(c, ERR_TTS_FAIL, m->tts.failures[0] ? m->tts.failures : "no TTS engine could speak");
        send_audio(c, NULL, 0); /* a client waiting for audio-stop gets it */
    }
    c->stream_spoke = 1;
    next_tts(c);
}

/* ---- handle: a headless, text-only session answers transcripts ---- */

static void finish_handle(struct wy_conn *c)
{
    cJSON *d = cJSON_CreateObject();
    int answered = c->answer && c->answer[0];
    cJSON_AddStringToObject(d, "text", answered ? c->answer : c->failure ? c->failure : "no answer came");
    if (c->context)
        cJSON_AddItemToObject(d, "context", cJSON_Duplicate(c->context, 1));
    wy_send(c, answered ? "handled" : "not-handled", d, NULL, 0);
    free(c->answer);
    free(c->failure);
    c->answer = c->failure = NULL;
    c->handling = 0;
}

static enum outq_result sess_event(void *ud, const struct proto_event *ev, enum out_class cls, uint64_t turn)
{
    (void)cls, (void)turn;
    struct wy_conn *c = ud;
    switch (ev->kind) {
    case EV_READY:
        c->sess_ready = 1;
        lws_callback_on_writable(c->wsi); /* the text goes in from there, not from inside the session */
        break;
    case EV_ASSISTANT_TEXT:
        if (ev->status && !strcmp(ev->status, "end")) {
            free(c->answer);
            c->answer = strdup(ev->text ? ev->text : "");
        }
        break;
    case EV_ERROR:
        if (!c->failure)
            c->failure = strdup(ev->text ? ev->text : ev->code);
        break;
    case EV_DONE:
    case EV_INTERRUPTED:
        if (c->handling)
            finish_handle(c);
        break;
    default:
        break;
    }
    return OUTQ_OK;
}

static enum outq_result sess_send(void *ud, int binary, enum out_class cls, uint64_t turn, int phrase,
                                  const void *data, size_t len, size_t samples)
{
    (void)ud, (void)binary, (void)cls, (void)turn, (void)phrase, (void)data, (void)len, (void)samples;
    return OUTQ_OK; /* text only: nothing else is sent */
}

static void sess_purge(void *ud, uint64_t turn) { (void)ud, (void)turn; }

static void sess_timer_fired(lws_sorted_usec_list_t *sul)
{
    struct wy_conn *c = lws_container_of(sul, struct wy_conn, timer);
    if (c->sess)
        session_on_timer(c->sess);
}

static void sess_set_timer(void *ud, int64_t delay_us)
{
    struct wy_conn *c = ud;
    lws_sul_schedule(lws_get_context(c->wsi), 0, &c->timer, sess_timer_fired, delay_us);
}

static void sess_close(void *ud)
{
    struct wy_conn *c = ud;
    c->close_after_flush = 1;
    lws_callback_on_writable(c->wsi);
}

static const struct session_io wy_session_io = {
    .send = sess_send, .purge_turn = sess_purge, .set_timer = sess_set_timer, .close = sess_close, .event = sess_event};

static void handle_transcript(struct wy_conn *c, const cJSON *d)
{
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(d, "text");
    char why[200];
    int retry_ms = 0;
    if (!cJSON_IsString(text) || !text->valuestring[0] ||
        utf8_chars(text->valuestring, strlen(text->valuestring)) > PROTO_MAX_TEXT_CHARS) {
        wy_error(c, "BAD_EVENT", "a transcript needs a 'text' of 1 to 8000 characters");
        return;
    }
    if (c->handling) {
        wy_error(c, ERR_BUSY, "a transcript is already being handled on this connection");
        return;
    }
    if (server_admit_turn(c->srv, why, sizeof why, &retry_ms)) {
        cJSON *nh = cJSON_CreateObject();
        cJSON_AddStringToObject(nh, "text", why);
        wy_send(c, "not-handled", nh, NULL, 0);
        return;
    }
    if (!c->sess) {
        c->sess = session_new(&c->srv->env, &wy_session_io, c, c->sess_id);
        if (!c->sess) {
            wy_error(c, ERR_INTERNAL, "cannot start a session");
            return;
        }
        c->srv->nhttp_sessions++; /* counted with the server's other headless sessions */
        session_set_headless(c->sess, 1);
        struct session_user user = {.id = STORE_LOCAL_USER};
        snprintf(user.name, sizeof user.name, "wyoming");
        session_set_user(c->sess, &user);
        struct proto_client_msg start = {
            .type = MSG_START, .sample_rate = 16000, .half_duplex = -1, .echo_cancellation = -1};
        session_on_message(c->sess, &start);
    }
    cJSON_Delete(c->context);
    const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(d, "context");
    c->context = ctx ? cJSON_Duplicate(ctx, 1) : NULL;
    free(c->handle_text);
    c->handle_text = strdup(text->valuestring);
    c->handling = 1;
    lws_callback_on_writable(c->wsi);
}

/* ---- events in ---- */

static int on_event(void *ud, const struct wy_event *ev)
{
    struct wy_conn *c = ud;
    const char *t = ev->type;
    if (!strcmp(t, "describe"))
        send_info(c);
    else if (!strcmp(t, "ping")) {
        cJSON *d = cJSON_CreateObject();
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(ev->data, "text");
        if (cJSON_IsString(text))
            cJSON_AddStringToObject(d, "text", text->valuestring);
        wy_send(c, "pong", d, NULL, 0);
    } else if (!strcmp(t, "transcribe"))
        ; /* the model and language are parley's own; audio-start begins the clip */
    else if (!strcmp(t, "audio-start"))
        start_hearing(c, ev->data);
    else if (!strcmp(t, "audio-chunk"))
        hear(c, ev);
    else if (!strcmp(t, "audio-stop"))
        stop_hearing(c);
    else if (!strcmp(t, "synthesize")) {
        if (c->streaming)
            return 0; /* the back-compat copy of a streamed text: already spoken */
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(ev->data, "text");
        if (!cJSON_IsString(text)) {
            wy_error(c, "BAD_EVENT", "synthesize needs a 'text' string");
            send_audio(c, NULL, 0);
            return 0;
        }
        choose_voice(c, ev->data);
        queue_text(c, text->valuestring, strlen(text->valuestring));
    } else if (!strcmp(t, "synthesize-start")) {
        choose_voice(c, ev->data);
        c->streaming = 1;
        c->stream_stopped = c->stream_spoke = 0;
        phrase_reset(c->splitter);
    } else if (!strcmp(t, "synthesize-chunk")) {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(ev->data, "text");
        if (!c->streaming || c->stream_stopped || !cJSON_IsString(text))
            wy_error(c, "BAD_EVENT", "synthesize-chunk needs a 'text' string, after synthesize-start");
        else
            phrase_push(c->splitter, text->valuestring, strlen(text->valuestring), on_phrase, c);
    } else if (!strcmp(t, "synthesize-stop")) {
        if (!c->streaming || c->stream_stopped)
            return 0;
        phrase_flush(c->splitter, on_phrase, c);
        c->stream_stopped = 1;
        next_tts(c);
    } else if (!strcmp(t, "transcript"))
        handle_transcript(c, ev->data);
    /* Any other event (wake words, satellites, timers) is not for us: ignored, as Wyoming peers do. */
    return 0;
}

/* ---- the connection ---- */

/* Off loopback, only the addresses in wyoming.allow_from are served. */
static int peer_allowed(struct wy_conn *c)
{
    const struct parley_config *cfg = c->srv->cfg;
    if (auth_host_is_loopback(cfg->wyoming_host))
        return 1;
    char peer[64] = "";
    if (!lws_get_peer_simple(c->wsi, peer, sizeof peer))
        return 0;
    for (const char *p = cfg->wyoming_allow_from; *p;) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, " ,");
        if (n && n == strlen(peer) && !strncmp(p, peer, n))
            return 1;
        p += n;
    }
    log_warn("wyoming: refused a connection from %s (not in wyoming.allow_from)", peer);
    return 0;
}

static void conn_free(struct wy_conn *c)
{
    server *srv = c->srv;
    for (struct wy_conn **pp = &srv->wy_conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            srv->nwy_conns--;
            break;
        }
    lws_sul_cancel(&c->timer);
    asr_stream_free(c->asr); /* no callback runs after this */
    if (c->sess) {
        session_free(c->sess);
        srv->nhttp_sessions--;
    }
    resampler_free(c->rs);
    pcm_free(&c->pcm16);
    while (c->texts) {
        struct wy_text *t = c->texts;
        c->texts = t->next;
        free(t->text);
        free(t);
    }
    phrase_free(c->splitter);
    wy_reader_free(c->rd);
    outq_free(c->q);
    free(c->handle_text);
    free(c->answer);
    free(c->failure);
    cJSON_Delete(c->context);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct wy_conn *c = user;
    server *srv = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_RAW_ADOPT: {
        memset(c, 0, sizeof *c);
        c->wsi = wsi;
        c->srv = srv;
        int refused = !peer_allowed(c) || srv->stopping || srv->nwy_conns >= WY_MAX_CONNS;
        if (!refused) {
            c->rd = wy_reader_new();
            c->q = outq_new(WY_SEND_QUEUE, LWS_PRE);
            struct phrase_params pp = phrase_default_params();
            pp.max_chars = srv->cfg->phrase_max_chars;
            c->splitter = phrase_new(&pp);
        }
        if (refused || !c->rd || !c->q || !c->splitter) {
            wy_reader_free(c->rd);
            outq_free(c->q);
            phrase_free(c->splitter);
            c->srv = NULL; /* nothing for the close to undo */
            return -1;
        }
        c->id = ++srv->next_session_id;
        c->sess_id = ++srv->next_session_id;
        c->texts_tail = &c->texts;
        choose_voice(c, NULL);
        c->next = srv->wy_conns;
        srv->wy_conns = c;
        srv->nwy_conns++;
        return 0;
    }
    case LWS_CALLBACK_RAW_RX: {
        char err[200];
        if (c->close_after_flush || c->dropped)
            return 0; /* what follows a broken frame is not read */
        if (wy_reader_feed(c->rd, in, len, on_event, c, err, sizeof err) < 0) {
            log_info("wyoming %llu: closing: %s", (unsigned long long)c->id, err);
            wy_error(c, "BAD_FRAME", err);
            c->close_after_flush = 1;
        }
        return 0;
    }
    case LWS_CALLBACK_RAW_WRITEABLE: {
        if (c->dropped)
            return -1;
        if (c->sess_ready && c->handle_text) {
            char *text = c->handle_text;
            c->handle_text = NULL;
            session_submit_text(c->sess, text, 1);
            free(text);
        }
        struct out_msg *m = outq_peek(c->q);
        if (m) {
            if (lws_write(wsi, m->data, m->len, LWS_WRITE_RAW) < (int)m->len)
                return -1;
            outq_pop(c->q);
            if (outq_peek(c->q))
                lws_callback_on_writable(wsi);
        }
        if (!outq_peek(c->q) && c->close_after_flush)
            return -1;
        return 0;
    }
    case LWS_CALLBACK_RAW_CLOSE:
        if (c->srv)
            conn_free(c);
        return 0;
    default:
        return 0;
    }
}

int wyoming_start(server *srv, char *err, size_t errlen)
{
    const struct parley_config *cfg = srv->cfg;
    if (!cfg->wyoming_listen[0])
        return 0;
    if (!auth_host_is_loopback(cfg->wyoming_host) && !cfg->wyoming_allow_from[0]) {
        snprintf(err, errlen,
                 "wyoming.listen is %s, off loopback, and Wyoming has no tokens: set wyoming.allow_from to the "
                 "addresses of the clients to serve (Home Assistant's)",
                 cfg->wyoming_listen);
        return -1;
    }
    srv->wy_protocols[0] = (struct lws_protocols){
        .name = "wyoming", .callback = callback, .per_session_data_size = sizeof(struct wy_conn)};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.vhost_name = "wyoming";
    info.port = cfg->wyoming_port;
    info.iface = strcmp(cfg->wyoming_host, "0.0.0.0") ? cfg->wyoming_host : NULL;
    info.protocols = srv->wy_protocols;
    info.options = LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.listen_accept_role = "raw-skt";
    info.listen_accept_protocol = "wyoming";
    if (!lws_create_vhost(srv->ctx, &info)) {
        snprintf(err, errlen, "cannot listen for Wyoming on %s (address in use, or not a local address?)",
                 cfg->wyoming_listen);
        return -1;
    }
    log_info("Wyoming (Home Assistant) on tcp://%s%s%s", cfg->wyoming_listen,
             auth_host_is_loopback(cfg->wyoming_host) ? "" : ", for ", cfg->wyoming_allow_from);
    return 0;
}

int wyoming_deliver(server *srv, struct session_mail *m)
{
    for (struct wy_conn *c = srv->wy_conns; c; c = c->next) {
        if (c->sess && m->session_id == c->sess_id) {
            session_on_mail(c->sess, m);
            return 0;
        }
        if (m->session_id != c->id)
            continue;
        if (m->kind == MAIL_TTS_DONE) {
            on_tts_done(c, m);
        } else if (m->kind == MAIL_ASR_FINAL && m->turn == c->utt && !c->hearing) {
            send_transcript(c, m->text ? m->text : "");
        } else if (m->kind == MAIL_ASR_ERROR && m->turn == c->utt && !c->hearing) {
            wy_error(c, ERR_ASR_FAIL, m->text ? m->text : "recognition failed");
            send_transcript(c, "");
        }
        return 0;
    }
    return -1;
}
