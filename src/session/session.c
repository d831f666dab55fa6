/* The session: client messages, its state, its one timer over every
 * deadline, and mail routed to the utterance (utterance.c) and the reply
 * (reply.c). Everything here runs on the network thread; ASR, TTS and the
 * LLM report back through mail tagged with the turn they belong to. */
#include "session/session.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/clock.h"
#include "core/log.h"
#include "session/session_internal.h"

static const char *const state_names[] = {"listening", "thinking", "speaking"};

/* ---- small helpers ---- */

/* Hands one event to the transport: typed if it takes events, else as v1 JSON. */
static enum outq_result deliver(session *s, const struct proto_event *ev, enum out_class cls, uint64_t turn)
{
    if (s->io.event)
        return s->io.event(s->io_ud, ev, cls, turn);
    char *json = proto_event_json(ev);
    if (!json)
        return OUTQ_OK; /* out of memory: the message is lost, not the session */
    enum outq_result r = s->io.send(s->io_ud, 0, cls, turn, -1, json, strlen(json), 0);
    free(json);
    return r;
}

void session_emit(session *s, const struct proto_event *ev, enum out_class cls, uint64_t turn)
{
    enum outq_result r = deliver(s, ev, cls, turn);
    if (r == OUTQ_SKIPPED && !s->partial_skip_noted) {
        s->partial_skip_noted = 1;
        session_emit_info(s, "the client is reading slowly: partial transcripts are being skipped");
    } else if (r == OUTQ_OK && cls == OUT_PARTIAL) {
        s->partial_skip_noted = 0;
    }
}

void session_emit_info(session *s, const char *message)
{
    struct proto_event ev = {.kind = EV_INFO, .text = message};
    deliver(s, &ev, OUT_CONTROL, 0);
}

void session_emit_kind(session *s, enum proto_event_kind kind, uint64_t turn)
{
    struct proto_event ev = {.kind = kind, .turn = turn};
    session_emit(s, &ev, OUT_CONTROL, 0);
}

void session_send_error(session *s, const char *code, const char *message, int recoverable)
{
    log_info("session %s: %s: %s", s->sid, code, message);
    metrics_error(s->env->metrics, code);
    struct proto_event ev = {.kind = EV_ERROR, .code = code, .text = message, .recoverable = recoverable};
    session_emit(s, &ev, OUT_CONTROL, 0);
}

struct session_mail *session_mail_new(uint64_t session_id, enum session_mail_kind kind, uint64_t turn,
                                      const char *text, size_t len)
{
    struct session_mail *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->session_id = session_id;
    m->kind = kind;
    m->turn = turn;
    if (text)
        m->text = strndup(text, len);
    return m;
}

void session_post(session *s, enum session_mail_kind kind, uint64_t turn, const char *text, size_t len)
{
    struct session_mail *m = session_mail_new(s->id, kind, turn, text, len);
    if (m)
        mailbox_post(s->env->mail, &m->node);
}

void session_mail_free(struct mail *node)
{
    struct session_mail *m = (struct session_mail *)node;
    free(m->text);
    tts_result_free(&m->tts);
    cJSON_Delete(m->json);
    free(m);
}

/* A stricter start confirmation while the assistant talks keeps coughs and
 * its own echo from cutting it off. */
static void confirm_for_state(session *s)
{
    if (!s->vad)
        return;
    const struct parley_config *c = s->cfg;
    struct vad_confirmation normal = {c->vad_aggressiveness, c->vad_min_speech_ms, -200, 60};
    struct vad_confirmation strict = {c->barge_in_aggressiveness, c->barge_in_min_speech_ms, c->barge_in_min_level_dbfs, 40};
    vad_set_confirmation(s->vad, s->state == ST_LISTENING ? &normal : &strict);
}

void session_set_state(session *s, enum assistant_state st)
{
    if (s->state == st)
        return;
    s->state = st;
    confirm_for_state(s);
    struct proto_event ev = {.kind = EV_STATE, .status = state_names[st]};
    session_emit(s, &ev, OUT_CONTROL, 0);
}

/* Opens the speech detector at 'start', not at connect: a Silero detector
 * costs ~10 ms and ~2.5 MiB a session (whisper.cpp has no state-only VAD
 * context), which a connection that never starts should not pay. */
static int open_vad(session *s, char *err, size_t errlen)
{
    const struct parley_config *c = s->cfg;
    struct vad_params vp = vad_default_params();
    vp.frame_ms = c->vad_frame_ms;
    vp.aggressiveness = c->vad_aggressiveness;
    vp.min_speech_ms = c->vad_min_speech_ms;
    vp.silence_ms = c->vad_max_silence_ms; /* the session ends shorter windows itself (endpoint.c) */
    vp.preroll_ms = c->vad_preroll_ms;
    vp.engine = s->env->vad_engine;
    vp.model_path = s->env->vad_model;
    s->vad = vad_new(&vp, err, errlen);
    if (!s->vad)
        return -1;
    confirm_for_state(s);
    return 0;
}

void gate_release(struct turn_gate *g)
{
    if (g && atomic_fetch_sub(&g->refs, 1) == 1)
        free(g);
}

void session_arm_timer(session *s)
{
    int64_t next = 0;
    if (s->reply.turn && s->reply.gap_deadline)
        next = s->reply.gap_deadline;
    if (s->reply.turn && s->reply.pump_deadline && (!next || s->reply.pump_deadline < next))
        next = s->reply.pump_deadline;
    /* The end of playback matters only once the whole reply is written;
     * before that, each write moves it (and re-arms from session_on_written). */
    const struct reply *r = &s->reply;
    if (r->turn && r->finished && r->written_samples == r->sent_samples && s->speaking_until &&
        (!next || s->speaking_until < next))
        next = s->speaking_until;
    if (r->turn && r->tools_running && (!next || r->tool_deadline < next))
        next = r->tool_deadline;
    for (int i = 0; i < MAX_FINISHING; i++) {
        int64_t d = s->finishing[i].turn ? s->finishing[i].final_deadline : 0;
        if (d && (!next || d < next))
            next = d;
    }
    if (!s->started && !s->closing && (!next || s->start_deadline < next))
        next = s->start_deadline;
    if (next) {
        int64_t delay = next - session_now(s);
        s->io.set_timer(s->io_ud, delay > 0 ? delay : 0);
    }
}

/* ---- client input ---- */

/* The audio formats 'start' chose: the microphone's (resampled to the
 * recognisers' 16 kHz, or decoded from Opus at it) and the reply's. */
static int open_codecs(session *s, const struct proto_client_msg *msg, char *err, size_t errlen)
{
    s->in_format = msg->format;
    s->in_rate = msg->sample_rate;
    s->out_rate = s->cfg->tts_sample_rate;
    if (msg->format == FMT_OPUS && !s->headless) {
        struct opus_reader_params rp = opus_reader_default_params();
        rp.out_rate = 16000;
        if (!(s->opus_in = opus_reader_new(&rp, err, errlen)))
            return -1;
        s->in_rate = rp.out_rate; /* a packet says its own rate; the reader decodes at this one */
    }
    if (msg->output_format == FMT_OPUS && !s->headless) {
        struct opus_writer_params wp = opus_writer_default_params();
        wp.in_rate = s->cfg->tts_sample_rate;
        if (!(s->opus_out = opus_writer_new(&wp, err, errlen)))
            return -1;
        s->out_rate = opus_writer_rate(s->opus_out);
    }
    if (!(s->rs = resampler_new(s->in_rate, 16000))) {
        snprintf(err, errlen, "cannot create a resampler");
        return -1;
    }
    return 0;
}

static int handle_start(session *s, struct proto_client_msg *msg)
{
    if (s->started) {
        session_send_error(s, ERR_PROTOCOL, "'start' was already received", 1);
        return 0;
    }
    char why[200];
    int retry_ms = 0;
    /* HTTP turns (headless) were authenticated and admitted by the API. */
    if (!s->headless && s->env->authenticate) {
        enum session_auth a = s->env->authenticate(s->env->auth_ud, s->io_ud, msg->token[0] ? msg->token : NULL,
                                                   &s->user, why, sizeof why);
        if (a != SESSION_AUTH_OK) {
            session_send_error(s, a == SESSION_AUTH_LIMITED ? ERR_RATE_LIMITED : ERR_UNAUTHORIZED, why, 0);
            s->closing = 1;
            s->io.close(s->io_ud);
            return 0;
        }
    }
    if (!s->headless && s->env->admit && s->env->admit(s->env->admit_ud, why, sizeof why, &retry_ms)) {
        log_info("session %s: BUSY: %s", s->sid, why);
        metrics_error(s->env->metrics, ERR_BUSY);
        struct proto_event ev = {
            .kind = EV_ERROR, .code = ERR_BUSY, .text = why, .recoverable = 1, .retry_after_ms = retry_ms};
        session_emit(s, &ev, OUT_CONTROL, 0);
        s->closing = 1;
        s->io.close(s->io_ud);
        return 0;
    }
    if (msg->tts[0]) {
        char err[256];
        int n = tts_parse_chain(s->env->tts, msg->tts, s->tts_order, TTS_MAX_ENGINES, err, sizeof err);
        if (n < 0) {
            session_send_error(s, ERR_PROTOCOL, err, 1);
            return 0;
        }
        s->tts_n = n;
    }
    if (msg->llm_model[0])
        snprintf(s->llm_model, sizeof s->llm_model, "%s", msg->llm_model);
    if (msg->session_id[0])
        snprintf(s->sid, sizeof s->sid, "%s", msg->session_id);
    if (msg->half_duplex >= 0)
        s->half_duplex = msg->half_duplex;
    char verr[256] = "";
    if (open_codecs(s, msg, verr, sizeof verr)) {
        session_send_error(s, ERR_INTERNAL, verr, 0);
        return -1;
    }
    if (!s->headless && open_vad(s, verr, sizeof verr)) { /* HTTP turns hear no audio stream */
        session_send_error(s, ERR_INTERNAL, verr[0] ? verr : "cannot open the speech detector", 0);
        return -1;
    }
    int cancel_echo = msg->echo_cancellation >= 0 ? msg->echo_cancellation : s->cfg->aec_enabled;
    if (!s->headless && cancel_echo) {
        struct aec_params ap = aec_default_params();
        ap.reference_rate = s->cfg->tts_sample_rate;
        ap.max_delay_ms = s->cfg->aec_max_delay_ms;
        ap.lead_ms = s->cfg->tts_playout_lead_ms;
        ap.suppression = s->cfg->aec_suppression;
        s->aec = aec_new(&ap, verr, sizeof verr);
        if (!s->aec)
            log_warn("session %s: no echo cancellation: %s", s->sid, verr);
    }
    s->started = 1;
    if (msg->conversation_id[0])
        persist_resume(s, msg->conversation_id); /* 'ready' follows the stored history */
    else
        session_send_ready(s);
    return 0;
}

int session_set_instructions(session *s, const char *text)
{
    free(s->instructions);
    s->instructions = text && text[0] ? strdup(text) : NULL;
    return text && text[0] && !s->instructions ? -1 : 0;
}

void session_set_user(session *s, const struct session_user *user)
{
    s->user = *user;
}

void session_send_ready(session *s)
{
    const char *engines[TTS_MAX_ENGINES];
    int nengines = tts_engine_count(s->env->tts);
    for (int i = 0; i < nengines; i++)
        engines[i] = tts_engine_name(s->env->tts, i);
    struct llm_check llm = {0};
    if (s->env->llm_watch)
        llm_watch_get(s->env->llm_watch, &llm);
    const struct asr_choice *asr = asr_model_choice(s->env->asr);
    struct proto_ready_info info = {.session_id = s->sid,
                                    .conversation_id = s->conversation_id,
                                    .out_rate = s->out_rate,
                                    .out_opus_frame_ms = s->opus_out ? opus_writer_default_params().frame_ms : 0,
                                    .tts_engines = engines,
                                    .ntts_engines = nengines,
                                    .llm = &llm,
                                    .llm_model = s->cfg->llm_model,
                                    .asr_engine = asr->engine,
                                    .asr_partials = asr->partials};
    struct proto_event ready = {.kind = EV_READY, .ready = &info};
    session_emit(s, &ready, OUT_CONTROL, 0);
    struct proto_event state = {.kind = EV_STATE, .status = state_names[s->state]};
    session_emit(s, &state, OUT_CONTROL, 0);
}

int session_submit_text(session *s, const char *text, int spoken)
{
    if (!s->started)
        return -1;
    uint64_t turn = ++s->last_turn;
    struct turn_marks marks = {0};
    marks.speech_end = marks.final = session_now(s);
    marks.spoken = spoken;
    reply_start(s, turn, text, &marks);
    return 0;
}

int session_on_text(session *s, const char *data, size_t len)
{
    struct proto_client_msg msg;
    int fatal = 0;
    char err[256];
    if (s->closing)
        return 0; /* refused, revoked or timed out: what follows is not read */
    if (proto_parse(data, len, &msg, &fatal, err, sizeof err)) {
        session_send_error(s, ERR_PROTOCOL, err, !fatal);
        return fatal ? -1 : 0;
    }
    int rc = session_on_message(s, &msg);
    proto_client_msg_clear(&msg);
    return rc;
}

int session_on_message(session *s, struct proto_client_msg *msg)
{
    if (s->closing)
        return 0;
    if (msg->type != MSG_START && !s->started) {
        session_send_error(s, ERR_PROTOCOL, "send 'start' first", 1);
        return 0;
    }
    switch (msg->type) {
    case MSG_START: return handle_start(s, msg);
    case MSG_TEXT:
        if (!s->resuming) {
            session_submit_text(s, msg->text, 0);
        } else if (!s->text_before_ready) { /* after the old history, not before it */
            s->text_before_ready = msg->text;
            msg->text = NULL;
        } else {
            session_send_error(s, ERR_PROTOCOL, "one typed turn at a time until 'ready'", 1);
        }
        break;
    case MSG_STOP: utterance_end(s); break;
    case MSG_CANCEL:
        if (s->reply.turn)
            barge_in_interrupt(s);
        break;
    case MSG_PLAYED: barge_in_on_played(s, msg->turn, msg->ms); break;
    }
    return 0;
}

void session_on_oversized(session *s, int binary, size_t len, size_t limit)
{
    char msg[160];
    snprintf(msg, sizeof msg, "%s frame of %zu bytes dropped: frames are limited to %zu bytes",
             binary ? "an audio" : "a text", len, limit);
    session_send_error(s, ERR_PROTOCOL, msg, 1);
}

void session_on_written(session *s, uint64_t turn, int phrase, size_t samples)
{
    struct reply *r = &s->reply;
    if (turn != r->turn || phrase < 0 || phrase >= r->nphrases)
        return;
    int64_t now = session_now(s);
    if (!r->marks.first_audio)
        r->marks.first_audio = now;
    r->written_samples += samples;
    /* The client plays in real time from its first frame. */
    s->speaking_until = r->marks.first_audio + (int64_t)(r->written_samples * 1000000 / (size_t)s->cfg->tts_sample_rate);
    if (r->finished)
        session_arm_timer(s);
    else
        reply_maybe_finish(s);
}

void session_on_timer(session *s)
{
    int64_t now = session_now(s);
    struct reply *r = &s->reply;
    if (!s->started && !s->closing && now >= s->start_deadline) {
        char msg[96];
        snprintf(msg, sizeof msg, "no 'start' within %d ms of connecting", s->cfg->limits_start_timeout_ms);
        session_send_error(s, ERR_PROTOCOL, msg, 0);
        s->closing = 1;
        s->io.close(s->io_ud);
        return;
    }
    if (r->turn && r->gap_deadline && now >= r->gap_deadline) {
        r->gap_deadline = 0;
        session_flush_phrases(s); /* the LLM paused mid-sentence: speak what we have */
    }
    if (r->turn && r->pump_deadline && now >= r->pump_deadline)
        reply_pump_audio(s);
    if (r->turn && r->tools_running && now >= r->tool_deadline)
        tool_calls_on_timer(s);
    for (int i = 0; i < MAX_FINISHING; i++) {
        struct utterance *u = &s->finishing[i];
        unsigned progress = u->turn ? asr_stream_progress(s->asr) : 0;
        if (u->turn && now >= u->final_deadline && (asr_stream_waiting(s->asr) || progress != u->asr_progress)) {
            /* Its audio waits for a decoder or a worker, or the recogniser is
             * working through a backlog: that is load, and the final comes
             * once it is decoded (bounded by the utterance's length), so the
             * wait goes on rather than failing the turn. Only a recogniser
             * that made no progress for a whole timeout is stuck. */
            u->final_deadline = now + (int64_t)s->cfg->asr_final_timeout_ms * 1000;
            u->asr_progress = progress;
        } else if (u->turn && now >= u->final_deadline) {
            char msg[160];
            snprintf(msg, sizeof msg, "no transcript within %d ms of the end of speech; the utterance was dropped",
                     s->cfg->asr_final_timeout_ms);
            session_send_error(s, ERR_ASR_TIMEOUT, msg, 1);
            memset(u, 0, sizeof *u); /* a late final finds no utterance and is dropped */
        }
    }
    if (r->turn && r->finished && r->written_samples == r->sent_samples && now >= s->speaking_until)
        session_end_reply(s);
    session_arm_timer(s);
}

/* The one stale-work check. Every piece of work carries what it was made
 * for: an utterance's turn, or a reply's ticket. When that is no longer the
 * utterance or reply in hand (a barge-in, a cancel, a timeout, a newer turn,
 * a speculative reply dropped), the result is dropped here, unread. */
static int mail_is_current(const session *s, const struct session_mail *m)
{
    switch (m->kind) {
    case MAIL_ASR_PARTIAL:
    case MAIL_ASR_SPECULATIVE: return m->turn && m->turn == s->utt.turn;
    case MAIL_ASR_FINAL:
        for (int i = 0; i < MAX_FINISHING; i++)
            if (s->finishing[i].turn && s->finishing[i].turn == m->turn)
                return 1;
        return 0;
    case MAIL_LLM_TOKEN:
    case MAIL_LLM_DONE:
    case MAIL_LLM_THINKING:
    case MAIL_LLM_TOOL_CALL:
    case MAIL_TOOL_RESULT:
    case MAIL_RECALL:
    case MAIL_TTS_AUDIO:
    case MAIL_TTS_DONE: return m->turn && m->turn == s->reply.ticket; /* reply work carries its ticket */
    case MAIL_ASR_ERROR:     /* the client hears of it, whichever utterance it was */
    case MAIL_STORE_FAILED:  /* likewise, for a turn already over */
    case MAIL_HISTORY:       /* not a turn's work */
    case MAIL_HTTP_DONE: return 1;
    }
    return 0;
}

void session_on_mail(session *s, struct session_mail *m)
{
    if (!mail_is_current(s, m)) {
        if (m->kind == MAIL_TOOL_RESULT) { /* its side effects happened: say it went unheard */
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(m->json, "name");
            const cJSON *turn = cJSON_GetObjectItemCaseSensitive(m->json, "turn");
            log_info("session %s: the result of %s for turn %.0f came after its turn ended: dropped", s->sid,
                     cJSON_IsString(name) ? name->valuestring : "a tool", cJSON_IsNumber(turn) ? turn->valuedouble : 0.0);
        }
        return;
    }
    switch (m->kind) {
    case MAIL_ASR_PARTIAL:
        if (!m->text)
            break;
        if (!s->utt.marks.first_partial)
            s->utt.marks.first_partial = session_now(s);
        snprintf(s->utt.words, sizeof s->utt.words, "%s", m->text);
        struct proto_event ev = {.kind = EV_TRANSCRIPT, .turn = m->turn, .text = m->text};
        session_emit(s, &ev, OUT_PARTIAL, 0);
        barge_in_on_partial(s, m->text);
        break;
    case MAIL_ASR_FINAL: utterance_on_final(s, m); break;
    case MAIL_ASR_SPECULATIVE: utterance_on_speculative(s, m); break;
    case MAIL_ASR_ERROR:
        session_send_error(s, ERR_ASR_FAIL, m->text ? m->text : "recogniser failure", 1);
        if (m->turn == s->utt.turn) {
            memset(&s->utt, 0, sizeof s->utt);
            vad_reset_utterance(s->vad);
        }
        for (int i = 0; i < MAX_FINISHING; i++)
            if (s->finishing[i].turn == m->turn)
                memset(&s->finishing[i], 0, sizeof s->finishing[i]);
        break;
    case MAIL_LLM_TOKEN: reply_on_llm_token(s, m); break;
    case MAIL_LLM_DONE: reply_on_llm_done(s, m); break;
    case MAIL_STORE_FAILED: {
        char msg[400];
        snprintf(msg, sizeof msg, "turn %llu was not stored (%s); the conversation goes on",
                 (unsigned long long)m->turn, m->text ? m->text : "?");
        session_send_error(s, ERR_STORE_FAIL, msg, 1);
        break;
    }
    case MAIL_LLM_THINKING:
        if (!s->reply.llm_done && !s->reply.held)
            session_emit_kind(s, EV_THINKING, s->reply.turn);
        break;
    case MAIL_TTS_AUDIO:
    case MAIL_TTS_DONE: reply_on_tts(s, m); break;
    case MAIL_LLM_TOOL_CALL: reply_on_tool_call(s, m); break;
    case MAIL_TOOL_RESULT: tool_calls_on_result(s, m); break;
    case MAIL_RECALL: reply_on_recall(s, m); break;
    case MAIL_HISTORY: persist_on_history(s, m); break;
    case MAIL_HTTP_DONE: break; /* for the HTTP layer, never a session */
    }
}

void session_on_llm_status(session *s, const struct llm_check *c)
{
    if (s->started && !s->resuming && !s->closing) { /* otherwise 'ready' carries it */
        struct proto_event ev = {.kind = EV_LLM_STATUS, .llm = c, .llm_model = s->cfg->llm_model};
        session_emit(s, &ev, OUT_CONTROL, 0);
    }
}

void session_shutdown(session *s, const char *why)
{
    if (s->closing)
        return;
    s->closing = 1;
    session_emit_info(s, why);
    s->io.close(s->io_ud);
}

/* ---- life cycle ---- */

session *session_new(const struct session_env *env, const struct session_io *io, void *io_ud, uint64_t id)
{
    session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    const struct parley_config *c = env->cfg;
    s->id = id;
    s->env = env;
    s->cfg = c;
    s->io = *io;
    s->io_ud = io_ud;
    s->user.id = STORE_LOCAL_USER;
    snprintf(s->user.name, sizeof s->user.name, "local");
    unsigned char rnd[8] = {0};
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        memcpy(rnd, &id, sizeof rnd);
    snprintf(s->sid, sizeof s->sid, "%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
             rnd[5], rnd[6], rnd[7]);
    session_new_conversation_id(s->conversation_id, sizeof s->conversation_id);
    unsigned char key[8] = {0};
    if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key)
        memcpy(key, &s, sizeof s < sizeof key ? sizeof s : sizeof key);
    for (size_t i = 0; i < sizeof key; i++)
        snprintf(s->reply_key + 2 * i, 3, "%02x", key[i]);
    snprintf(s->llm_model, sizeof s->llm_model, "%s", c->llm_model);
    s->half_duplex = c->barge_in_half_duplex;
    char err[256];
    s->tts_n = tts_parse_chain(env->tts, c->tts_chain, s->tts_order, TTS_MAX_ENGINES, err, sizeof err);
    struct asr_callbacks acb = {utterance_on_asr_partial, utterance_on_asr_final, utterance_on_asr_error,
                                utterance_on_asr_speculative};
    s->asr = asr_stream_new(env->asr, env->pool, &acb, s, c->asr_partial_interval_ms);
    s->hist = history_new();
    struct phrase_params pp = phrase_default_params();
    pp.max_chars = c->phrase_max_chars;
    pp.first_min_words = c->phrase_first_min_words;
    s->splitter = phrase_new(&pp);
    s->gate = calloc(1, sizeof *s->gate);
    if (s->gate)
        atomic_init(&s->gate->refs, 1);
    if (s->tts_n <= 0 || !s->asr || !s->hist || !s->splitter || !s->gate) {
        log_error("session: cannot create: %s", err);
        session_free(s);
        return NULL;
    }
    s->start_deadline = session_now(s) + (int64_t)c->limits_start_timeout_ms * 1000;
    session_arm_timer(s);
    return s;
}

static void free_heard(struct heard_record *h)
{
    for (int i = 0; i < h->n; i++)
        free(h->texts[i]);
    free(h->texts);
    free(h->samples);
    memset(h, 0, sizeof *h);
}

void session_free(session *s)
{
    if (!s)
        return;
    if (s->gate)
        atomic_store(&s->gate->current, 0);
    barge_in_on_close(s);
    asr_stream_free(s->asr); /* no ASR callback runs after this */
    reply_free(s);           /* nor an LLM one */
    gate_release(s->gate);
    free(s->text_before_ready);
    vad_free(s->vad);
    resampler_free(s->rs);
    pcm_free(&s->scratch);
    opus_reader_free(s->opus_in);
    pcm_free(&s->decoded);
    opus_writer_free(s->opus_out);
    aec_free(s->aec);
    vad_opinion_free(s->opinion);
    pcm_free(&s->clean);
    pcm_free(&s->words);
    history_free(s->hist);
    phrase_free(s->splitter);
    free(s->instructions);
    free(s->client_tools);
    free_heard(&s->heard);
    free(s);
}

int session_started(const session *s) { return s->started; }
int session_active(const session *s) { return s->utt.turn || s->reply.turn; }

uint64_t session_id(const session *s) { return s->id; }

void session_set_headless(session *s, int text_only)
{
    s->headless = 1;
    s->text_only = text_only;
}

void session_new_conversation_id(char *out, size_t outlen)
{
    unsigned char rnd[12] = {0};
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        int64_t t = clock_now_us(); /* any varying bits */
        memcpy(rnd, &t, sizeof t);
    }
    size_t n = 0;
    n += (size_t)snprintf(out + n, outlen - n, "c-");
    for (size_t i = 0; i < sizeof rnd && n + 2 < outlen; i++)
        n += (size_t)snprintf(out + n, outlen - n, "%02x", rnd[i]);
}

/* Shared with barge_in.c: the text of the first `budget` samples. */
size_t heard_text(char *const *texts, const size_t *samples, int n, size_t budget, char *out, size_t outlen)
{
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < n && budget > 0 && len + 1 < outlen; i++) {
        const char *t = texts[i];
        size_t take = strlen(t);
        if (samples[i] > budget) {
            /* Part of a phrase: keep the share of its words that was played. */
            int words = 0, total = asr_count_words(t);
            int keep = (int)((double)total * (double)budget / (double)samples[i]);
            const char *p = t;
            for (; *p && words < keep; p++)
                if (*p != ' ' && (p[1] == ' ' || p[1] == 0))
                    words++;
            take = (size_t)(p - t);
            budget = 0;
        } else {
            budget -= samples[i];
        }
        if (take == 0)
            break;
        len += (size_t)snprintf(out + len, outlen - len, "%s%.*s", len ? " " : "", (int)take, t);
    }
    return len < outlen ? len : outlen - 1;
}
