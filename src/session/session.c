/* The session: protocol handling and the pipeline from microphone frames to
 * reply audio. Everything here runs on the network thread; ASR, TTS and the
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

#define AUDIO_CHUNK_MS 100 /* reply audio goes out in frames this long */

static const char *const state_names[] = {"listening", "thinking", "speaking"};

/* ---- small helpers ---- */

void session_send_json(session *s, char *json, enum out_class cls, uint64_t turn)
{
    if (!json)
        return;
    enum outq_result r = s->io.send(s->io_ud, 0, cls, turn, -1, json, strlen(json), 0);
    if (r == OUTQ_SKIPPED && !s->partial_skip_noted) {
        s->partial_skip_noted = 1;
        char *info = proto_info("the client is reading slowly: partial transcripts are being skipped");
        s->io.send(s->io_ud, 0, OUT_CONTROL, 0, -1, info, strlen(info), 0);
        free(info);
    } else if (r == OUTQ_OK && cls == OUT_PARTIAL) {
        s->partial_skip_noted = 0;
    }
    free(json);
}

void session_send_error(session *s, const char *code, const char *message, int recoverable)
{
    log_info("session %s: %s: %s", s->sid, code, message);
    metrics_error(s->env->metrics, code);
    session_send_json(s, proto_error(code, message, recoverable), OUT_CONTROL, 0);
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

static void post(session *s, enum session_mail_kind kind, uint64_t turn, const char *text, size_t len)
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
    session_send_json(s, proto_state(state_names[st]), OUT_CONTROL, 0);
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
    vp.silence_ms = c->vad_silence_ms;
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
        int64_t delay = next - clock_now_us();
        s->io.set_timer(s->io_ud, delay > 0 ? delay : 0);
    }
}

/* ---- worker and LLM-thread callbacks: they only post mail ---- */

static void on_asr_partial(void *ud, uint64_t utt, const char *text)
{
    post(ud, MAIL_ASR_PARTIAL, utt, text, strlen(text));
}

static void on_asr_final(void *ud, uint64_t utt, const char *text, int64_t audio_ms, int64_t cpu_us)
{
    session *s = ud;
    struct session_mail *m = session_mail_new(s->id, MAIL_ASR_FINAL, utt, text, strlen(text));
    if (!m)
        return;
    m->audio_ms = audio_ms;
    m->cpu_us = cpu_us;
    mailbox_post(s->env->mail, &m->node);
}

static void on_asr_error(void *ud, uint64_t utt, const char *message)
{
    post(ud, MAIL_ASR_ERROR, utt, message, strlen(message));
}

struct llm_ctx {
    session *s;
    uint64_t turn;
};

static void on_llm_token(void *ud, const char *text, size_t len)
{
    struct llm_ctx *c = ud;
    post(c->s, MAIL_LLM_TOKEN, c->turn, text, len);
}

static void on_llm_thinking(void *ud)
{
    struct llm_ctx *c = ud;
    post(c->s, MAIL_LLM_THINKING, c->turn, NULL, 0);
}

static void on_llm_tool_call(void *ud, const char *id, const char *name, const char *arguments)
{
    struct llm_ctx *c = ud;
    struct session_mail *m = session_mail_new(c->s->id, MAIL_LLM_TOOL_CALL, c->turn, NULL, 0);
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
    struct session_mail *m = session_mail_new(c->s->id, MAIL_LLM_DONE, c->turn, message, strlen(message));
    if (m) {
        m->status = (int)status;
        mailbox_post(c->s->env->mail, &m->node);
    }
}

struct tts_job {
    struct turn_gate *gate;
    uint64_t turn, session_id;
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
    return atomic_load(&j->gate->current) != j->turn;
}

/* Hands the batched audio over to the session. */
static void tts_job_post_audio(struct tts_job *j)
{
    struct session_mail *m = session_mail_new(j->session_id, MAIL_TTS_AUDIO, j->turn, NULL, 0);
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
        struct session_mail *m = session_mail_new(j->session_id, MAIL_TTS_DONE, j->turn, NULL, 0);
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

static void update_pause(session *s)
{
    struct reply *r = &s->reply;
    int want = pending_phrases(s) >= s->cfg->tts_max_pending_phrases;
    if (r->llm && !r->llm_done && want != r->paused) {
        r->paused = want;
        llm_request_pause(r->llm, want);
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
        r->marks.first_phrase = clock_now_us();
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
    j->turn = r->turn;
    j->session_id = s->id;
    j->phrase = r->nphrases;
    j->text = strdup(slot->text);
    memcpy(j->order, s->tts_order, sizeof j->order);
    j->n = s->tts_n;
    j->engine = s->env->tts;
    j->mail = s->env->mail;
    j->batch_min = (size_t)s->cfg->tts_sample_rate * AUDIO_CHUNK_MS / 1000;
    r->nphrases++;
    if (!j->text || workers_submit(s->env->pool, tts_job_run, j)) {
        gate_release(j->gate);
        free(j->text);
        free(j);
        slot->synthesized = slot->failed = 1;
        session_send_error(s, ERR_TTS_FAIL, "the synthesis queue is full; a phrase was skipped", 1);
    }
    update_pause(s);
}

void session_metrics_json(const struct turn_marks *m, char *out, size_t outlen)
{
    cJSON *o = cJSON_CreateObject();
    int64_t ref = m->speech_end;
#define MARK(name, t)                                                   \
    if ((t) && ref)                                                     \
        cJSON_AddNumberToObject(o, name, (double)((t) - ref) / 1000.0); \
    else                                                                \
        cJSON_AddNullToObject(o, name);
    MARK("endpoint_ms", m->endpoint);
    MARK("final_transcript_ms", m->final);
    MARK("llm_request_ms", m->llm_request);
    MARK("first_token_ms", m->first_token);
    MARK("first_phrase_ms", m->first_phrase);
    MARK("first_audio_ms", m->first_audio);
    MARK("total_ms", m->done);
#undef MARK
    if (m->first_partial && m->speech_start)
        cJSON_AddNumberToObject(o, "first_partial_ms", (double)(m->first_partial - m->speech_start) / 1000.0);
    else
        cJSON_AddNullToObject(o, "first_partial_ms");
    cJSON_AddStringToObject(o, "input", m->spoken ? "speech" : "text");
    if (m->asr_audio_ms > 0) {
        cJSON_AddNumberToObject(o, "asr_audio_ms", (double)m->asr_audio_ms);
        cJSON_AddNumberToObject(o, "asr_rtf", (double)m->asr_cpu_us / 1000.0 / (double)m->asr_audio_ms);
    }
    char *txt = cJSON_PrintUnformatted(o);
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

static void free_reply(session *s)
{
    struct reply *r = &s->reply;
    llm_request_free(r->llm); /* no LLM callback runs after this... */
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
static void maybe_finish_reply(session *s)
{
    struct reply *r = &s->reply;
    if (!r->turn || r->finished || !r->llm_done || r->playing < r->nphrases || phrase_buffered(s->splitter) ||
        r->written_samples < r->sent_samples)
        return;
    r->finished = 1;
    r->marks.done = clock_now_us();
    metrics_turn(s->env->metrics, r->marks.spoken ? "speech" : "text", 0);
    if (r->marks.speech_end) {
        if (r->marks.first_audio)
            metrics_observe_ms(s->env->metrics, LAT_FIRST_AUDIO, (double)(r->marks.first_audio - r->marks.speech_end) / 1000);
        if (r->marks.first_token)
            metrics_observe_ms(s->env->metrics, LAT_FIRST_TOKEN, (double)(r->marks.first_token - r->marks.speech_end) / 1000);
        metrics_observe_ms(s->env->metrics, LAT_TURN, (double)(r->marks.done - r->marks.speech_end) / 1000);
    }
    char metrics[1024];
    session_metrics_json(&r->marks, metrics, sizeof metrics);
    session_send_json(s, proto_done(r->turn, metrics), OUT_CONTROL, 0);
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
    free_reply(s);
    s->speaking_until = 0;
    atomic_store(&s->gate->current, 0);
    session_set_state(s, ST_LISTENING);
}

/* Queues synthesized audio in phrase order, paced to stay at most
 * playout_lead_ms ahead of the client's real-time playback. */
static void pump_audio(session *s)
{
    struct reply *r = &s->reply;
    const int rate = s->cfg->tts_sample_rate;
    const size_t chunk = (size_t)rate * AUDIO_CHUNK_MS / 1000;
    const int64_t lead_us = (int64_t)s->cfg->tts_playout_lead_ms * 1000;
    r->pump_deadline = 0;
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
            session_send_json(s, proto_tts_start(r->turn, r->playing, p->text, rate), OUT_TURN_AUDIO, r->turn);
        }
        /* p->pcm holds the phrase's audio not yet queued. */
        while (p->pcm.len > 0) {
            int64_t now = clock_now_us();
            int64_t ahead = r->playout_start ? (int64_t)(r->sent_samples * 1000000 / (size_t)rate) - (now - r->playout_start) : 0;
            if (ahead >= lead_us && !s->headless) {
                r->pump_deadline = now + (ahead - lead_us) + 1000;
                session_arm_timer(s);
                goto out;
            }
            size_t n = p->pcm.len < chunk ? p->pcm.len : chunk;
            if (s->io.send(s->io_ud, 1, OUT_TURN_AUDIO, r->turn, r->playing, p->pcm.samples, n * 2, n) != OUTQ_OK)
                return; /* the transport drops a client this far behind */
            if (!r->playout_start)
                r->playout_start = now;
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
        session_send_json(s, proto_tts_phrase_done(r->turn, r->playing), OUT_TURN_AUDIO, r->turn);
        pcm_free(&p->pcm);
        r->playing++;
    }
out:
    update_pause(s);
    maybe_finish_reply(s);
}

static void start_reply(session *s, uint64_t turn, const char *user_text, const struct turn_marks *marks)
{
    if (s->env->authorized && !s->env->authorized(s->env->auth_ud, &s->user)) {
        session_send_error(s, ERR_UNAUTHORIZED, "this user was removed or given a new token; sign in again", 0);
        s->closing = 1;
        s->io.close(s->io_ud);
        return;
    }
    if (s->reply.turn)
        barge_in_interrupt(s); /* a newer turn supersedes the reply in flight */
    s->replied_turn = turn;
    history_add(s->hist, "user", user_text, turn);
    struct reply *r = &s->reply;
    memset(r, 0, sizeof *r);
    r->turn = turn;
    r->marks = *marks;
    r->user_text = strdup(user_text);
    r->user_ms = store_now_ms();
    atomic_store(&s->gate->current, turn);
    phrase_reset(s->splitter);
    session_set_state(s, ST_THINKING);
    session_send_json(s, proto_assistant_text(turn, "start", ""), OUT_CONTROL, 0);
    /* Memories are looked up first (a worker job); the request follows. */
    r->waiting_recall = persist_recall(s) == 0;
    if (!r->waiting_recall)
        session_request_llm(s);
}

/* The system prompt, with the recalled memories after it. */
static char *system_prompt(const session *s)
{
    const char *base = s->cfg->llm_system_prompt;
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
    r->marks.llm_request = r->marks.llm_request ? r->marks.llm_request : clock_now_us();
    r->round_start = r->text_len;
    char *prompt = system_prompt(s);
    /* History, then per tool round (at most 32, tools.max_rounds' bound) the
     * assistant's calls and one result per call. */
    enum { MAX_MSGS = HISTORY_MAX_MESSAGES + 1 + 32 * (1 + LLM_MAX_TOOL_CALLS) };
    struct llm_message *msgs = calloc(MAX_MSGS, sizeof *msgs);
    char *tools = s->env->tools && s->cfg->tools_enabled && r->tool_rounds < s->cfg->tools_max_rounds
                      ? tools_definitions(s->env->tools)
                      : NULL;
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
            r->llm_ctx->turn = r->turn;
            r->llm = llm_request_start(&p, msgs, n, &cb, r->llm_ctx, err, sizeof err); /* copies what it needs */
        }
    }
    free(tools);
    free(msgs);
    free(prompt);
    r->paused = 0; /* a new request starts reading */
    if (!r->llm) {
        session_send_error(s, ERR_LLM_FAIL, err[0] ? err : "cannot start the LLM request", 1);
        session_reply_llm_finished(s);
        return;
    }
    update_pause(s);
}

static void on_llm_token_mail(session *s, struct session_mail *m)
{
    struct reply *r = &s->reply;
    if (m->turn != r->turn || !r->llm || r->llm_done || !m->text)
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
        r->marks.first_token = clock_now_us();
    char *t = realloc(r->text, r->text_len + len + 1);
    if (!t)
        return;
    r->text = t;
    memcpy(r->text + r->text_len, m->text, len + 1);
    r->text_len += len;
    session_send_json(s, proto_assistant_text(r->turn, "chunk", m->text), OUT_CONTROL, 0);
    phrase_push(s->splitter, m->text, len, on_phrase, s);
    r->gap_deadline = phrase_buffered(s->splitter) ? clock_now_us() + (int64_t)s->cfg->phrase_gap_ms * 1000 : 0;
    session_arm_timer(s);
}

static void on_llm_done_mail(session *s, struct session_mail *m)
{
    struct reply *r = &s->reply;
    if (m->turn != r->turn || r->llm_done || !r->llm)
        return;
    llm_request_free(r->llm); /* its thread has finished; the next round gets a new one */
    r->llm = NULL;
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
    session_send_json(s, proto_assistant_text(r->turn, "end", r->text ? r->text : ""), OUT_CONTROL, 0);
    pump_audio(s);
}

static void on_tool_call_mail(session *s, struct session_mail *m)
{
    struct reply *r = &s->reply;
    if (m->turn != r->turn || !r->llm || !m->json)
        return;
    if (!r->round_calls)
        r->round_calls = cJSON_CreateArray();
    cJSON_AddItemToArray(r->round_calls, m->json);
    m->json = NULL;
}

static void on_recall_mail(session *s, struct session_mail *m)
{
    struct reply *r = &s->reply;
    if (m->turn != r->turn || !r->waiting_recall)
        return;
    r->waiting_recall = 0;
    r->memory_block = m->text;
    m->text = NULL;
    session_request_llm(s);
}

static void on_tts_mail(session *s, struct session_mail *m)
{
    struct reply *r = &s->reply;
    if (m->turn != r->turn || m->phrase < 0 || m->phrase >= r->nphrases)
        return;
    struct phrase_slot *p = &r->phrases[m->phrase];
    if (m->kind == MAIL_TTS_AUDIO) {
        if (pcm_append(&p->pcm, m->tts.pcm.samples, m->tts.pcm.len) == 0)
            p->samples_total += m->tts.pcm.len;
        pump_audio(s);
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
    pump_audio(s);
}

/* ---- the utterance: VAD events → ASR ---- */

static void end_utterance(session *s)
{
    struct utterance *u = &s->utt;
    if (!u->turn)
        return;
    u->marks.endpoint = clock_now_us();
    if (!u->marks.speech_end)
        u->marks.speech_end = u->marks.endpoint;
    vad_reset_utterance(s->vad);
    session_send_json(s, proto_simple("speech_stopped"), OUT_CONTROL, 0);
    if (asr_stream_end(s->asr))
        session_send_error(s, ERR_ASR_FAIL, "the recogniser queue is full", 1);
    int slot = 0;
    for (int i = 0; i < MAX_FINISHING; i++) {
        if (!s->finishing[i].turn) {
            slot = i;
            break;
        }
        if (s->finishing[i].turn < s->finishing[slot].turn)
            slot = i; /* all busy: the oldest is given up */
    }
    u->final_deadline = u->marks.endpoint + (int64_t)s->cfg->asr_final_timeout_ms * 1000;
    u->asr_progress = asr_stream_progress(s->asr);
    s->finishing[slot] = *u;
    memset(u, 0, sizeof *u);
    session_arm_timer(s);
}

static void on_vad_event(void *ud, const struct vad_event *ev)
{
    session *s = ud;
    struct utterance *u = &s->utt;
    int64_t now = clock_now_us();
    switch (ev->kind) {
    case VAD_EVENT_START: {
        memset(u, 0, sizeof *u);
        u->turn = ++s->last_turn;
        u->marks.spoken = 1;
        int64_t candidate_ms = (int64_t)ev->n / 16 - s->cfg->vad_preroll_ms;
        u->marks.speech_start = now - (candidate_ms > 0 ? candidate_ms : 0) * 1000;
        u->marks.speech_end = now;
        u->samples = ev->n;
        session_send_json(s, proto_simple("speech_started"), OUT_CONTROL, 0);
        if (asr_stream_begin(s->asr, u->turn) || asr_stream_push(s->asr, ev->audio, ev->n))
            session_send_error(s, ERR_ASR_FAIL, "the recogniser queue is full", 1);
        if (s->reply.turn)
            barge_in_on_speech_start(s);
        break;
    }
    case VAD_EVENT_AUDIO:
        if (!u->turn)
            return;
        u->samples += ev->n;
        if (ev->voiced) {
            u->marks.speech_end = now;
            u->quiet_ms = 0;
        } else {
            u->quiet_ms += vad_frame_ms(s->vad);
        }
        if (asr_stream_push(s->asr, ev->audio, ev->n))
            session_send_error(s, ERR_ASR_FAIL, "the recogniser is not keeping up; audio was dropped", 1);
        /* Decode the final while the endpointer waits out its silence window;
         * undo that if the speaker goes on. */
        if (ev->voiced && u->speculated) {
            u->speculated = 0;
            asr_stream_resume(s->asr);
        } else if (!u->speculated && s->cfg->asr_speculative_final_ms > 0 &&
                   u->quiet_ms >= s->cfg->asr_speculative_final_ms && u->quiet_ms < s->cfg->vad_silence_ms) {
            u->speculated = 1;
            asr_stream_speculate(s->asr);
        }
        if ((int64_t)u->samples / 16 > s->cfg->asr_max_utterance_ms) {
            char msg[128];
            snprintf(msg, sizeof msg, "speech longer than %d ms; answering what was said so far",
                     s->cfg->asr_max_utterance_ms);
            session_send_error(s, ERR_MAX_DURATION, msg, 1);
            end_utterance(s);
        }
        break;
    case VAD_EVENT_END:
        end_utterance(s);
        break;
    }
}

static void on_final_mail(session *s, struct session_mail *m)
{
    struct utterance *u = NULL;
    for (int i = 0; i < MAX_FINISHING; i++)
        if (s->finishing[i].turn && s->finishing[i].turn == m->turn)
            u = &s->finishing[i];
    if (!u)
        return;
    const char *text = m->text ? m->text : "";
    struct turn_marks marks = u->marks;
    marks.final = clock_now_us();
    metrics_observe_ms(s->env->metrics, LAT_ASR_FINAL, (double)(marks.final - marks.endpoint) / 1000);
    marks.asr_audio_ms = m->audio_ms;
    marks.asr_cpu_us = m->cpu_us;
    int false_start = barge_in_is_false_start(s, u, text);
    memset(u, 0, sizeof *u);
    if (false_start) {
        session_send_json(s, proto_info("speech over the assistant was too short to interrupt it; ignored"),
                          OUT_CONTROL, 0);
        return;
    }
    session_send_json(s, proto_transcript(1, m->turn, text), OUT_CONTROL, 0);
    if (!text[0]) {
        session_send_json(s, proto_info("no words recognised"), OUT_CONTROL, 0);
        return;
    }
    if (m->turn < s->replied_turn) { /* a typed turn came after this speech began: it stands */
        session_send_json(s, proto_info("a newer turn is already answered; this one is not"), OUT_CONTROL, 0);
        return;
    }
    start_reply(s, m->turn, text, &marks);
}

/* ---- client input ---- */

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
        session_send_json(s, proto_busy(why, retry_ms), OUT_CONTROL, 0);
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
    s->in_rate = msg->sample_rate;
    s->in_format = msg->format;
    s->rs = resampler_new(s->in_rate, 16000);
    if (!s->rs) {
        session_send_error(s, ERR_INTERNAL, "cannot create a resampler", 0);
        return -1;
    }
    char verr[256] = "";
    if (!s->headless && open_vad(s, verr, sizeof verr)) { /* HTTP turns hear no audio stream */
        session_send_error(s, ERR_INTERNAL, verr[0] ? verr : "cannot open the speech detector", 0);
        return -1;
    }
    s->started = 1;
    if (msg->conversation_id[0])
        persist_resume(s, msg->conversation_id); /* 'ready' follows the stored history */
    else
        session_send_ready(s);
    return 0;
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
    session_send_json(s,
                      proto_ready(s->sid, s->conversation_id, s->cfg->tts_sample_rate, engines, nengines, &llm,
                                  s->cfg->llm_model),
                      OUT_CONTROL, 0);
    session_send_json(s, proto_state(state_names[s->state]), OUT_CONTROL, 0);
}

int session_submit_text(session *s, const char *text, int spoken)
{
    if (!s->started)
        return -1;
    uint64_t turn = ++s->last_turn;
    struct turn_marks marks = {0};
    marks.speech_end = marks.final = clock_now_us();
    marks.spoken = spoken;
    start_reply(s, turn, text, &marks);
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
    int rc = 0;
    if (msg.type != MSG_START && !s->started) {
        session_send_error(s, ERR_PROTOCOL, "send 'start' first", 1);
        proto_client_msg_clear(&msg);
        return 0;
    }
    switch (msg.type) {
    case MSG_START: rc = handle_start(s, &msg); break;
    case MSG_TEXT:
        if (!s->resuming) {
            session_submit_text(s, msg.text, 0);
        } else if (!s->text_before_ready) { /* after the old history, not before it */
            s->text_before_ready = msg.text;
            msg.text = NULL;
        } else {
            session_send_error(s, ERR_PROTOCOL, "one typed turn at a time until 'ready'", 1);
        }
        break;
    case MSG_STOP: end_utterance(s); break;
    case MSG_CANCEL:
        if (s->reply.turn)
            barge_in_interrupt(s);
        break;
    case MSG_PLAYED: barge_in_on_played(s, msg.turn, msg.ms); break;
    }
    proto_client_msg_clear(&msg);
    return rc;
}

int session_on_audio(session *s, const void *data, size_t len)
{
    if (s->closing)
        return 0;
    if (!s->started) {
        session_send_error(s, ERR_PROTOCOL, "audio before 'start'", 1);
        return 0;
    }
    if (!s->vad)
        return 0; /* an HTTP turn: it has no audio stream */
    size_t width = s->in_format == FMT_F32LE ? 4 : 2;
    if (len % width) {
        session_send_error(s, ERR_PROTOCOL, "an audio frame must hold whole samples", 1);
        return 0;
    }
    if (!barge_in_mic_open(s))
        return 0;
    size_t n = len / width;
    int16_t *pcm = (int16_t *)data;
    int16_t *converted = NULL;
    if (s->in_format == FMT_F32LE) {
        converted = malloc(n * sizeof *converted);
        if (!converted)
            return 0;
        for (size_t i = 0; i < n; i++) {
            float f;
            memcpy(&f, (const char *)data + i * 4, 4);
            f = f > 1 ? 1 : f < -1 ? -1 : f;
            converted[i] = (int16_t)(f * 32767);
        }
        pcm = converted;
    } else if ((uintptr_t)data % 2) {
        converted = malloc(len);
        if (!converted)
            return 0;
        memcpy(converted, data, len);
        pcm = converted;
    }
    s->scratch.len = 0;
    if (resampler_process(s->rs, pcm, n, &s->scratch) == 0 &&
        vad_process(s->vad, s->scratch.samples, s->scratch.len, on_vad_event, s))
        session_send_error(s, ERR_INTERNAL, "voice activity detection failed", 1);
    free(converted);
    return 0;
}

void session_on_oversized(session *s, int binary, size_t len)
{
    char msg[160];
    snprintf(msg, sizeof msg, "%s frame of %zu bytes dropped: frames are limited to %d bytes",
             binary ? "an audio" : "a text", len, PROTO_MAX_FRAME);
    session_send_error(s, ERR_PROTOCOL, msg, 1);
}

void session_on_written(session *s, uint64_t turn, int phrase, size_t samples)
{
    struct reply *r = &s->reply;
    if (turn != r->turn || phrase < 0 || phrase >= r->nphrases)
        return;
    int64_t now = clock_now_us();
    if (!r->marks.first_audio)
        r->marks.first_audio = now;
    r->written_samples += samples;
    /* The client plays in real time from its first frame. */
    s->speaking_until = r->marks.first_audio + (int64_t)(r->written_samples * 1000000 / (size_t)s->cfg->tts_sample_rate);
    if (r->finished)
        session_arm_timer(s);
    else
        maybe_finish_reply(s);
}

void session_on_timer(session *s)
{
    int64_t now = clock_now_us();
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
        phrase_flush(s->splitter, on_phrase, s); /* the LLM paused mid-sentence: speak what we have */
    }
    if (r->turn && r->pump_deadline && now >= r->pump_deadline)
        pump_audio(s);
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

void session_on_mail(session *s, struct session_mail *m)
{
    switch (m->kind) {
    case MAIL_ASR_PARTIAL:
        if (m->turn != s->utt.turn || !m->text)
            break;
        if (!s->utt.marks.first_partial)
            s->utt.marks.first_partial = clock_now_us();
        session_send_json(s, proto_transcript(0, m->turn, m->text), OUT_PARTIAL, 0);
        barge_in_on_partial(s, m->text);
        break;
    case MAIL_ASR_FINAL: on_final_mail(s, m); break;
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
    case MAIL_LLM_TOKEN: on_llm_token_mail(s, m); break;
    case MAIL_LLM_DONE: on_llm_done_mail(s, m); break;
    case MAIL_STORE_FAILED: {
        char msg[400];
        snprintf(msg, sizeof msg, "turn %llu was not stored (%s); the conversation goes on",
                 (unsigned long long)m->turn, m->text ? m->text : "?");
        session_send_error(s, ERR_STORE_FAIL, msg, 1);
        break;
    }
    case MAIL_LLM_THINKING:
        if (m->turn == s->reply.turn && !s->reply.llm_done)
            session_send_json(s, proto_thinking(m->turn), OUT_CONTROL, 0);
        break;
    case MAIL_TTS_AUDIO:
    case MAIL_TTS_DONE: on_tts_mail(s, m); break;
    case MAIL_LLM_TOOL_CALL: on_tool_call_mail(s, m); break;
    case MAIL_TOOL_RESULT: tool_calls_on_result(s, m); break;
    case MAIL_RECALL: on_recall_mail(s, m); break;
    case MAIL_HISTORY: persist_on_history(s, m); break;
    case MAIL_HTTP_DONE: break; /* for the HTTP layer, never a session */
    }
}

void session_on_llm_status(session *s, const struct llm_check *c)
{
    if (s->started && !s->resuming && !s->closing) /* otherwise 'ready' carries it */
        session_send_json(s, proto_llm_status(c, s->cfg->llm_model), OUT_CONTROL, 0);
}

void session_shutdown(session *s, const char *why)
{
    if (s->closing)
        return;
    s->closing = 1;
    session_send_json(s, proto_info(why), OUT_CONTROL, 0);
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
    struct asr_callbacks acb = {on_asr_partial, on_asr_final, on_asr_error};
    s->asr = asr_stream_new(env->asr, env->pool, &acb, s, c->asr_partial_interval_ms);
    s->hist = history_new();
    struct phrase_params pp = {.max_chars = c->phrase_max_chars, .first_min_words = c->phrase_first_min_words};
    s->splitter = phrase_new(&pp);
    s->gate = calloc(1, sizeof *s->gate);
    if (s->gate)
        atomic_init(&s->gate->refs, 1);
    if (s->tts_n <= 0 || !s->asr || !s->hist || !s->splitter || !s->gate) {
        log_error("session: cannot create: %s", err);
        session_free(s);
        return NULL;
    }
    s->start_deadline = clock_now_us() + (int64_t)c->limits_start_timeout_ms * 1000;
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
    free_reply(s);           /* nor an LLM one */
    gate_release(s->gate);
    free(s->text_before_ready);
    vad_free(s->vad);
    resampler_free(s->rs);
    pcm_free(&s->scratch);
    history_free(s->hist);
    phrase_free(s->splitter);
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
        int64_t t = clock_now_us();
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
