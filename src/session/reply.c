/* The reply: the LLM request (with recalled memories and tool rounds),
 * tokens into phrases, phrases into synthesis jobs, and the audio paced out
 * to the client at real time, until the reply is done or interrupted. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "session/session_internal.h"

#define AUDIO_CHUNK_MS 100 /* reply audio goes out in frames this long */

struct llm_ctx {
    session *s;
    uint64_t ticket;
};

static void on_llm_token(void *ud, const char *text, size_t len)
{
    struct llm_ctx *c = ud;
    session_post(c->s, MAIL_LLM_TOKEN, c->ticket, text, len);
}

static void on_llm_thinking(void *ud)
{
    struct llm_ctx *c = ud;
    session_post(c->s, MAIL_LLM_THINKING, c->ticket, NULL, 0);
}

static void on_llm_tool_call(void *ud, const char *id, const char *name, const char *arguments)
{
    struct llm_ctx *c = ud;
    struct session_mail *m = session_mail_new(c->s->id, MAIL_LLM_TOOL_CALL, c->ticket, NULL, 0);
    if (!m)
        return;
    m->json = cJSON_CreateObject();
    cJSON_AddStringToObject(m->json, "id", id);
    cJSON_AddStringToObject(m->json, "name", name);
    cJSON_AddStringToObject(m->json, "arguments", arguments);
    mailbox_post(c->s->env->mail, &m->node);
}

static void on_llm_done(void *ud, enum llm_status status, const char *message)
{
    struct llm_ctx *c = ud;
    struct session_mail *m = session_mail_new(c->s->id, MAIL_LLM_DONE, c->ticket, message, strlen(message));
    if (m) {
        m->status = (int)status;
        mailbox_post(c->s->env->mail, &m->node);
    }
}

struct tts_job {
    struct turn_gate *gate;
    uint64_t ticket, session_id;
    int phrase;
    char *text;
    int order[TTS_MAX_ENGINES], n;
    tts *engine;
    mailbox *mail;
    struct pcm_buf batch; /* audio not yet posted */
    size_t batch_min;
    int posted;
};

static int tts_job_stale(void *ud)
{
    struct tts_job *j = ud;
    return atomic_load(&j->gate->current) != j->ticket;
}

/* Hands the batched audio over to the session. */
static void tts_job_post_audio(struct tts_job *j)
{
    struct session_mail *m = session_mail_new(j->session_id, MAIL_TTS_AUDIO, j->ticket, NULL, 0);
    if (!m)
        return;
    m->phrase = j->phrase;
    m->tts.pcm = j->batch;
    memset(&j->batch, 0, sizeof j->batch);
    mailbox_post(j->mail, &m->node);
    j->posted++;
}

/* The first chunk goes out at once (it is what the listener waits for);
 * later ones are batched to the size of an outgoing audio frame. */
static void tts_job_audio(void *ud, const int16_t *pcm, size_t n)
{
    struct tts_job *j = ud;
    pcm_append(&j->batch, pcm, n);
    if (j->posted == 0 || j->batch.len >= j->batch_min)
        tts_job_post_audio(j);
}

static void tts_job_run(void *arg)
{
    struct tts_job *j = arg;
    struct tts_result r;
    int rc = tts_speak(j->engine, j->order, j->n, j->text, tts_job_stale, tts_job_audio, j, &r);
    if (rc != 1) { /* 1: a barge-in made it stale, nobody waits for it */
        if (j->batch.len)
            tts_job_post_audio(j);
        struct session_mail *m = session_mail_new(j->session_id, MAIL_TTS_DONE, j->ticket, NULL, 0);
        if (m) {
            m->phrase = j->phrase;
            m->status = rc;
            m->tts = r;
            mailbox_post(j->mail, &m->node);
        } else {
            tts_result_free(&r);
        }
    } else {
        tts_result_free(&r);
    }
    pcm_free(&j->batch);
    gate_release(j->gate);
    free(j->text);
    free(j);
}

/* ---- the reply: LLM tokens → phrases → synthesis → audio ---- */

/* Phrases produced but not yet fully queued: the LLM pauses past the bound. */
static int pending_phrases(const session *s) { return s->reply.nphrases - s->reply.playing; }

void reply_update_pause(session *s)
{
    struct reply *r = &s->reply;
    int want = pending_phrases(s) >= s->cfg->tts_max_pending_phrases;
    if (r->llm && !r->llm_done && want != r->paused) {
        r->paused = want;
        session_llm(s)->pause(r->llm, want);
    }
}

static void on_phrase(void *ud, const char *text, size_t len)
{
    session *s = ud;
    struct reply *r = &s->reply;
    if (r->nphrases == r->cap_phrases) {
        int cap = r->cap_phrases ? r->cap_phrases * 2 : 8;
        struct phrase_slot *p = realloc(r->phrases, (size_t)cap * sizeof *p);
        if (!p)
            return;
        r->phrases = p;
        r->cap_phrases = cap;
    }
    struct phrase_slot *slot = &r->phrases[r->nphrases];
    memset(slot, 0, sizeof *slot);
    slot->text = strndup(text, len);
    if (!slot->text)
        return; /* out of memory: the phrase is lost, never a NULL in the list */
    if (!r->marks.first_phrase)
        r->marks.first_phrase = session_now(s);
    if (s->text_only) { /* an HTTP text client: nothing to speak */
        slot->synthesized = 1;
        r->nphrases++;
        return;
    }

    struct tts_job *j = calloc(1, sizeof *j);
    if (!j) {
        free(slot->text);
        slot->text = NULL;
        return;
    }
    j->gate = s->gate;
    atomic_fetch_add(&s->gate->refs, 1);
    j->ticket = r->ticket;
    j->session_id = s->id;
    j->phrase = r->nphrases;
    j->text = strdup(slot->text);
    memcpy(j->order, s->tts_order, sizeof j->order);
    j->n = s->tts_n;
    j->engine = s->env->tts;
    j->mail = s->env->mail;
    j->batch_min = (size_t)s->cfg->tts_sample_rate * AUDIO_CHUNK_MS / 1000;
    r->nphrases++;
    if (!j->text || workers_submit_first(s->env->pool, tts_job_run, j)) { /* a listener waits for it */
        gate_release(j->gate);
        free(j->text);
        free(j);
        slot->synthesized = slot->failed = 1;
        session_send_error(s, ERR_TTS_FAIL, "the synthesis queue is full; a phrase was skipped", 1);
    }
    reply_update_pause(s);
}

static void assistant_text(session *s, uint64_t turn, const char *status, const char *text)
{
    struct proto_event ev = {.kind = EV_ASSISTANT_TEXT, .turn = turn, .status = status, .text = text};
    session_emit(s, &ev, OUT_CONTROL, 0);
}

void session_metrics(const struct turn_marks *m, struct proto_metrics *out)
{
    int64_t ref = m->speech_end;
#define MARK(t) ((t) && ref ? (double)((t) - ref) / 1000.0 : PROTO_UNREACHED)
    *out = (struct proto_metrics){.endpoint_ms = MARK(m->endpoint),
                                  .final_transcript_ms = MARK(m->final),
                                  .llm_request_ms = MARK(m->llm_request),
                                  .first_token_ms = MARK(m->first_token),
                                  .first_phrase_ms = MARK(m->first_phrase),
                                  .first_audio_ms = MARK(m->first_audio),
                                  .total_ms = MARK(m->done),
                                  .spoken = m->spoken,
                                  .asr_audio_ms = m->asr_audio_ms};
#undef MARK
    out->first_partial_ms = m->first_partial && m->speech_start
                                ? (double)(m->first_partial - m->speech_start) / 1000.0
                                : PROTO_UNREACHED;
    if (m->asr_audio_ms > 0)
        out->asr_rtf = (double)m->asr_cpu_us / 1000.0 / (double)m->asr_audio_ms;
}

void session_metrics_json(const struct turn_marks *m, char *out, size_t outlen)
{
    struct proto_metrics pm;
    session_metrics(m, &pm);
    cJSON *o = proto_metrics_object(&pm);
    char *txt = o ? cJSON_PrintUnformatted(o) : NULL;
    snprintf(out, outlen, "%s", txt ? txt : "{}");
    free(txt);
    cJSON_Delete(o);
}

static void spoken_text(const struct reply *r, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < r->nphrases; i++) {
        if (r->phrases[i].sent == 0)
            continue;
        n += (size_t)snprintf(out + n, n < outlen ? outlen - n : 0, "%s%s", n ? " " : "", r->phrases[i].text);
        if (n >= outlen)
            break;
    }
}

void reply_free(session *s)
{
    struct reply *r = &s->reply;
    session_llm(s)->free(r->llm); /* no LLM callback runs after this... */
    free(r->llm_ctx);         /* ...so their context can go */
    for (int i = 0; i < r->nphrases; i++) {
        free(r->phrases[i].text);
        pcm_free(&r->phrases[i].pcm);
    }
    free(r->phrases);
    free(r->text);
    free(r->user_text);
    free(r->memory_block);
    cJSON_Delete(r->round_calls);
    cJSON_Delete(r->tool_msgs);
    cJSON_Delete(r->tool_log);
    memset(r, 0, sizeof *r);
}

void session_log_latency(session *s, const struct reply *r, int interrupted)
{
    if (!s->cfg->log_latency)
        return;
    char metrics[1024], line[1400];
    session_metrics_json(&r->marks, metrics, sizeof metrics);
    snprintf(line, sizeof line,
             "{\"event\":\"latency\",\"session_id\":\"%s\",\"turn\":%" PRIu64 ",\"interrupted\":%s,\"metrics\":%s}",
             s->sid, r->turn, interrupted ? "true" : "false", metrics);
    log_line(line);
}

/* Called when nothing of the reply is left to produce or write: send done.
 * The reply stays "speaking" until its audio has had time to play. */
void reply_maybe_finish(session *s)
{
    struct reply *r = &s->reply;
    if (!r->turn || r->held || r->finished || !r->llm_done || r->playing < r->nphrases || phrase_buffered(s->splitter) ||
        r->written_samples < r->sent_samples)
        return;
    r->finished = 1;
    r->marks.done = session_now(s);
    metrics_turn(s->env->metrics, r->marks.spoken ? "speech" : "text", 0);
    if (r->marks.speech_end) {
        if (r->marks.first_audio)
            metrics_observe_ms(s->env->metrics, LAT_FIRST_AUDIO, (double)(r->marks.first_audio - r->marks.speech_end) / 1000);
        if (r->marks.first_token)
            metrics_observe_ms(s->env->metrics, LAT_FIRST_TOKEN, (double)(r->marks.first_token - r->marks.speech_end) / 1000);
        metrics_observe_ms(s->env->metrics, LAT_TURN, (double)(r->marks.done - r->marks.speech_end) / 1000);
    }
    struct proto_metrics metrics;
    session_metrics(&r->marks, &metrics);
    struct proto_event done = {.kind = EV_DONE, .turn = r->turn, .metrics = &metrics};
    session_emit(s, &done, OUT_CONTROL, 0);
    session_log_latency(s, r, 0);
    char *said = malloc(s->cfg->llm_max_reply_chars + 1u);
    if (said) {
        spoken_text(r, said, s->cfg->llm_max_reply_chars + 1u);
        if (said[0])
            history_add(s->hist, "assistant", said, r->turn);
        /* Stored as delivered: what was spoken, or the text when no voice
         * could speak it. */
        persist_commit_turn(s, r, said[0] ? said : r->text ? r->text : "", 0);
        free(said);
    }
    if (r->sent_samples == 0 || s->headless)
        session_end_reply(s); /* nothing to play, or nobody plays it in real time */
    else
        session_arm_timer(s);
}

/* Leaves the speaking state once the reply is over (or was interrupted). */
void session_end_reply(session *s)
{
    reply_free(s);
    s->speaking_until = 0;
    atomic_store(&s->gate->current, 0);
    session_set_state(s, ST_LISTENING);
}

struct packet_send {
    session *s;
    enum outq_result rc;
};

static int send_packet(void *ud, const unsigned char *pkt, size_t len, size_t in_samples)
{
    struct packet_send *p = ud;
    struct reply *r = &p->s->reply;
    p->rc = p->s->io.send(p->s->io_ud, 1, OUT_TURN_AUDIO, r->turn, r->playing, pkt, len, in_samples);
    return p->rc != OUTQ_OK;
}

/* Hands n samples of the playing phrase to the transport: as they are, or
 * as Opus packets (phrase_end: the phrase's last packet, padded). */
static enum outq_result send_audio(session *s, const int16_t *pcm, size_t n, int phrase_end)
{
    struct reply *r = &s->reply;
    if (!s->opus_out)
        return n ? s->io.send(s->io_ud, 1, OUT_TURN_AUDIO, r->turn, r->playing, pcm, n * 2, n) : OUTQ_OK;
    struct packet_send p = {.s = s, .rc = OUTQ_OK};
    int rc = n ? opus_writer_push(s->opus_out, pcm, n, send_packet, &p) : 0;
    if (rc == 0 && phrase_end)
        rc = opus_writer_flush(s->opus_out, send_packet, &p);
    if (rc < 0) {
        log_warn("session %s: the Opus encoder failed", s->sid);
        return OUTQ_FULL;
    }
    return p.rc;
}

/* Queues synthesized audio in phrase order, paced to stay at most
 * playout_lead_ms ahead of the client's real-time playback. */
void reply_pump_audio(session *s)
{
    struct reply *r = &s->reply;
    const int rate = s->cfg->tts_sample_rate;
    const size_t chunk = (size_t)rate * AUDIO_CHUNK_MS / 1000;
    const int64_t lead_us = (int64_t)s->cfg->tts_playout_lead_ms * 1000;
    r->pump_deadline = 0;
    if (r->held)
        return; /* its audio waits in the phrase slots until it is shown */
    while (r->playing < r->nphrases) {
        struct phrase_slot *p = &r->phrases[r->playing];
        if (p->synthesized && (p->failed || p->samples_total == 0)) {
            r->playing++;
            continue;
        }
        if (p->pcm.len == 0 && !p->synthesized)
            break; /* its first audio is not here yet */
        if (!p->announced) {
            p->announced = 1;
            if (s->state != ST_SPEAKING)
                session_set_state(s, ST_SPEAKING);
            struct proto_event ev = {
                .kind = EV_TTS_START, .turn = r->turn, .phrase = r->playing, .text = p->text, .rate = s->out_rate};
            session_emit(s, &ev, OUT_TURN_AUDIO, r->turn);
            if (s->opus_out)
                opus_writer_drop(s->opus_out); /* the rest of an interrupted phrase */
        }
        /* p->pcm holds the phrase's audio not yet queued. */
        while (p->pcm.len > 0) {
            int64_t now = session_now(s);
            int64_t ahead = r->playout_start ? (int64_t)(r->sent_samples * 1000000 / (size_t)rate) - (now - r->playout_start) : 0;
            if (ahead >= lead_us && !s->headless) {
                r->pump_deadline = now + (ahead - lead_us) + 1000;
                session_arm_timer(s);
                goto out;
            }
            size_t n = p->pcm.len < chunk ? p->pcm.len : chunk;
            if (send_audio(s, p->pcm.samples, n, 0) != OUTQ_OK)
                return; /* the transport drops a client this far behind */
            if (!r->playout_start)
                r->playout_start = now;
            if (s->aec)
                aec_play(s->aec, p->pcm.samples, n, now);
            memmove(p->pcm.samples, p->pcm.samples + n, (p->pcm.len - n) * sizeof *p->pcm.samples);
            p->pcm.len -= n;
            p->sent += n;
            r->sent_samples += n;
            if (s->headless) { /* no socket pacing: handed over is written */
                r->written_samples += n;
                if (!r->marks.first_audio)
                    r->marks.first_audio = now;
            }
        }
        if (!p->synthesized)
            break; /* more of this phrase is coming */
        if (send_audio(s, NULL, 0, 1) != OUTQ_OK)
            return;
        struct proto_event ev = {.kind = EV_TTS_PHRASE_DONE, .turn = r->turn, .phrase = r->playing};
        session_emit(s, &ev, OUT_TURN_AUDIO, r->turn);
        pcm_free(&p->pcm);
        r->playing++;
    }
out:
    reply_update_pause(s);
    reply_maybe_finish(s);
}

static void begin(session *s, uint64_t turn, const char *user_text, const struct turn_marks *marks, int held)
{
    if (s->env->authorized && !s->env->authorized(s->env->auth_ud, &s->user)) {
        session_send_error(s, ERR_UNAUTHORIZED, "this user was removed or given a new token; sign in again", 0);
        s->closing = 1;
        s->io.close(s->io_ud);
        return;
    }
    if (s->reply.held)
        reply_discard(s); /* a newer turn: the early answer was never shown */
    else if (s->reply.turn)
        barge_in_interrupt(s); /* a newer turn supersedes the reply in flight */
    s->replied_turn = turn;
    history_add(s->hist, "user", user_text, turn);
    struct reply *r = &s->reply;
    memset(r, 0, sizeof *r);
    r->turn = turn;
    r->ticket = ++s->last_ticket;
    r->held = held;
    r->marks = *marks;
    r->user_text = strdup(user_text);
    r->user_ms = store_now_ms();
    atomic_store(&s->gate->current, r->ticket);
    phrase_reset(s->splitter);
    if (!held) {
        session_set_state(s, ST_THINKING);
        assistant_text(s, turn, "start", "");
    }
    /* Memories are looked up first (a worker job); the request follows. */
    r->waiting_recall = persist_recall(s) == 0;
    if (!r->waiting_recall)
        session_request_llm(s);
}

void reply_start(session *s, uint64_t turn, const char *user_text, const struct turn_marks *marks)
{
    begin(s, turn, user_text, marks, 0);
}

void reply_start_held(session *s, uint64_t turn, const char *user_text, const struct turn_marks *marks)
{
    begin(s, turn, user_text, marks, 1);
}

void reply_show(session *s, const struct turn_marks *final)
{
    struct reply *r = &s->reply;
    r->held = 0;
    r->marks.speech_end = final->speech_end;
    r->marks.endpoint = final->endpoint;
    r->marks.final = final->final;
    r->marks.asr_audio_ms = final->asr_audio_ms;
    r->marks.asr_cpu_us = final->asr_cpu_us;
    r->user_ms = store_now_ms();
    metrics_speculation(s->env->metrics, 1);
    session_set_state(s, ST_THINKING);
    assistant_text(s, r->turn, "start", "");
    if (r->text_len)
        assistant_text(s, r->turn, "chunk", r->text);
    if (r->tools_waiting) {
        r->tools_waiting = 0;
        if (tool_calls_start(s) != 0)
            session_reply_llm_finished(s);
    } else if (r->llm_done) {
        assistant_text(s, r->turn, "end", r->text ? r->text : "");
    }
    reply_pump_audio(s);
    reply_maybe_finish(s);
    session_arm_timer(s);
}

void reply_discard(session *s)
{
    struct reply *r = &s->reply;
    if (!r->turn || !r->held)
        return;
    log_info("session %s: turn %llu: the user spoke on; the early answer is dropped unseen", s->sid,
             (unsigned long long)r->turn);
    metrics_speculation(s->env->metrics, 0);
    history_drop_turn(s->hist, r->turn);
    atomic_store(&s->gate->current, 0); /* its synthesis and tools stop */
    phrase_reset(s->splitter);
    reply_free(s);
}

/* The system prompt, with the recalled memories after it. */
static char *system_prompt(const session *s)
{
    const char *base = s->instructions ? s->instructions : s->cfg->llm_system_prompt;
    const char *mem = s->reply.memory_block;
    size_t n = strlen(base) + (mem ? strlen(mem) + 2 : 0) + 1;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s%s%s", base, mem ? "\n\n" : "", mem ? mem : "");
    return out;
}

void session_request_llm(session *s)
{
    struct reply *r = &s->reply;
    r->marks.llm_request = r->marks.llm_request ? r->marks.llm_request : session_now(s);
    r->round_start = r->text_len;
    char *prompt = system_prompt(s);
    /* History, then per tool round (at most 32, tools.max_rounds' bound) the
     * assistant's calls and one result per call. */
    enum { MAX_MSGS = HISTORY_MAX_MESSAGES + 1 + 32 * (1 + LLM_MAX_TOOL_CALLS) };
    struct llm_message *msgs = calloc(MAX_MSGS, sizeof *msgs);
    char *tools = r->tool_rounds < s->cfg->tools_max_rounds ? tool_calls_definitions(s) : NULL;
    char err[256] = "";
    if (prompt && msgs) {
        int n = history_context(s->hist, prompt, (size_t)s->cfg->llm_context_tokens * 4, msgs, HISTORY_MAX_MESSAGES + 1);
        n += tool_calls_context(r, msgs + n, MAX_MSGS - n);
        struct llm_params p = llm_params_from_config(s->cfg);
        p.model = s->llm_model; /* start.llm_model may choose another */
        p.tools = tools;
        p.connections = s->env->llm_connections;
        struct llm_callbacks cb = {
            .token = on_llm_token, .thinking = on_llm_thinking, .tool_call = on_llm_tool_call, .done = on_llm_done};
        if (!r->llm_ctx)
            r->llm_ctx = malloc(sizeof *r->llm_ctx);
        if (r->llm_ctx) {
            r->llm_ctx->s = s;
            r->llm_ctx->ticket = r->ticket;
            r->llm = session_llm(s)->start(&p, msgs, n, &cb, r->llm_ctx, err, sizeof err); /* copies what it needs */
        }
    }
    free(tools);
    free(msgs);
    free(prompt);
    r->paused = 0; /* a new request starts reading */
    if (!r->llm && r->held) {
        reply_discard(s); /* the endpoint asks again, and says what is wrong */
        return;
    }
    if (!r->llm) {
        session_send_error(s, ERR_LLM_FAIL, err[0] ? err : "cannot start the LLM request", 1);
        session_reply_llm_finished(s);
        return;
    }
    reply_update_pause(s);
}

void reply_on_llm_token(session *s, struct session_mail *m)
{
    struct reply *r = &s->reply;
    if (!r->llm || r->llm_done || !m->text)
        return;
    if (r->round_start > 0 && r->text_len == r->round_start && r->text_len > 0 && m->text[0] != ' ' &&
        r->text[r->text_len - 1] != ' ') {
        /* A new round after tool calls is a new message: keep words apart. */
        char *spaced = malloc(strlen(m->text) + 2);
        if (spaced) {
            spaced[0] = ' ';
            strcpy(spaced + 1, m->text);
            free(m->text);
            m->text = spaced;
        }
    }
    size_t len = strlen(m->text);
    if (!r->marks.first_token)
        r->marks.first_token = session_now(s);
    char *t = realloc(r->text, r->text_len + len + 1);
    if (!t)
        return;
    r->text = t;
    memcpy(r->text + r->text_len, m->text, len + 1);
    r->text_len += len;
    if (!r->held)
        assistant_text(s, r->turn, "chunk", m->text);
    phrase_push(s->splitter, m->text, len, on_phrase, s);
    r->gap_deadline = phrase_buffered(s->splitter) ? session_now(s) + (int64_t)s->cfg->phrase_gap_ms * 1000 : 0;
    session_arm_timer(s);
}

void reply_on_llm_done(session *s, struct session_mail *m)
{
    struct reply *r = &s->reply;
    if (r->llm_done || !r->llm)
        return;
    session_llm(s)->free(r->llm); /* its thread has finished; the next round gets a new one */
    r->llm = NULL;
    if (r->held && m->status != LLM_OK) {
        reply_discard(s); /* unseen; the endpoint asks again, and reports what goes wrong then */
        return;
    }
    if (r->held && m->status == LLM_OK && cJSON_GetArraySize(r->round_calls) > 0) {
        r->tools_waiting = 1; /* tools act on the world: not before the user has finished */
        return;
    }
    if (m->status == LLM_OK && cJSON_GetArraySize(r->round_calls) > 0 && tool_calls_start(s) == 0)
        return; /* the reply goes on once the tools have answered */
    if (m->status == LLM_ERR_TIMEOUT)
        session_send_error(s, ERR_LLM_TIMEOUT, m->text ? m->text : "LLM timeout", 1);
    else if (m->status == LLM_ERR_FAIL) {
        session_send_error(s, ERR_LLM_FAIL, m->text ? m->text : "LLM failure", 1);
        if (s->env->llm_watch)
            llm_watch_poke(s->env->llm_watch); /* the page learns why, and when it is back */
    }
    session_reply_llm_finished(s);
}

void session_flush_phrases(session *s)
{
    s->reply.gap_deadline = 0;
    phrase_flush(s->splitter, on_phrase, s);
}

void session_reply_llm_finished(session *s)
{
    struct reply *r = &s->reply;
    r->llm_done = 1;
    r->gap_deadline = 0;
    phrase_flush(s->splitter, on_phrase, s);
    if (!r->held)
        assistant_text(s, r->turn, "end", r->text ? r->text : "");
    reply_pump_audio(s);
}

void reply_on_tool_call(session *s, struct session_mail *m)
{
    struct reply *r = &s->reply;
    if (!r->llm || !m->json)
        return;
    if (!r->round_calls)
        r->round_calls = cJSON_CreateArray();
    cJSON_AddItemToArray(r->round_calls, m->json);
    m->json = NULL;
}

void reply_on_recall(session *s, struct session_mail *m)
{
    struct reply *r = &s->reply;
    if (!r->waiting_recall)
        return;
    r->waiting_recall = 0;
    r->memory_block = m->text;
    m->text = NULL;
    session_request_llm(s);
}

void reply_on_tts(session *s, struct session_mail *m)
{
    struct reply *r = &s->reply;
    if (m->phrase < 0 || m->phrase >= r->nphrases)
        return;
    struct phrase_slot *p = &r->phrases[m->phrase];
    if (m->kind == MAIL_TTS_AUDIO) {
        if (pcm_append(&p->pcm, m->tts.pcm.samples, m->tts.pcm.len) == 0)
            p->samples_total += m->tts.pcm.len;
        reply_pump_audio(s);
        return;
    }
    p->synthesized = 1;
    char msg[700];
    if (m->status == 0 && m->tts.failures[0]) {
        snprintf(msg, sizeof msg, "%s; spoken by %s", m->tts.failures, tts_engine_name(s->env->tts, m->tts.engine));
        session_send_error(s, ERR_TTS_FAIL, msg, 1);
    } else if (m->status != 0) {
        p->failed = p->samples_total == 0;
        snprintf(msg, sizeof msg, "phrase %d not spoken: %s", m->phrase, m->tts.failures);
        session_send_error(s, ERR_TTS_FAIL, msg, 1);
    }
    reply_pump_audio(s);
}

