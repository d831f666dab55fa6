/* The turn state machine without real time: a session driven by a clock the
 * test moves, pools that run jobs only when told (workers threads = 0), a
 * scripted LLM behind the session's llm_driver, and a transport that records
 * typed events. Real VAD, recogniser, synthesiser and SQLite file: only time
 * and the model are the test's. Every run takes the same path. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/config.h"
#include "defaults.h"
#include "session/endpoint.h"
#include "session/session.h"
#include "tools/tools.h"
#include "vad/vad.h"

/* ---- the clock ---- */

static int64_t now_us = 1000000;
static int64_t test_clock(void *ud) { return (void)ud, now_us; }

/* ---- the scripted model: one request at a time ---- */

#define MAX_MSGS 32
static struct {
    int started, freed, live;
    struct llm_callbacks cb;
    void *ud;
    int n;
    char role[MAX_MSGS][16];
    char content[MAX_MSGS][256];
    int has_tools; /* the request offered tools */
} llm;

static llm_request *fake_start(const struct llm_params *p, const struct llm_message *msgs, int n,
                               const struct llm_callbacks *cb, void *ud, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    llm.started++;
    llm.live = 1;
    llm.cb = *cb;
    llm.ud = ud;
    llm.n = n < MAX_MSGS ? n : MAX_MSGS;
    llm.has_tools = p->tools != NULL;
    for (int i = 0; i < llm.n; i++) {
        snprintf(llm.role[i], sizeof llm.role[i], "%s", msgs[i].role);
        snprintf(llm.content[i], sizeof llm.content[i], "%s", msgs[i].content ? msgs[i].content : "");
    }
    return (llm_request *)&llm;
}
static void fake_pause(llm_request *r, int paused) { (void)r, (void)paused; }
static void fake_free(llm_request *r)
{
    if (r)
        llm.freed++, llm.live = 0;
}
static const struct llm_driver fake_llm = {fake_start, fake_pause, fake_free};

static void say(const char *text) { llm.cb.token(llm.ud, text, strlen(text)); }
static void finish(enum llm_status st) { llm.cb.done(llm.ud, st, st == LLM_OK ? "" : "scripted failure"); }
static const char *last_user(void)
{
    for (int i = llm.n - 1; i >= 0; i--)
        if (!strcmp(llm.role[i], "user"))
            return llm.content[i];
    return "";
}

/* ---- the transport ---- */

#define MAX_EVENTS 512
struct seen {
    enum proto_event_kind kind;
    uint64_t turn;
    int final, is_error;
    char text[200], code[32], status[16];
    int64_t at; /* the clock when it was sent */
};
static struct {
    struct seen ev[MAX_EVENTS];
    int n;
    size_t audio_samples;
    struct {
        uint64_t turn;
        int phrase;
        size_t samples;
    } unwritten[256];
    int nunwritten, purges, closed;
    int64_t timer_at; /* 0: none */
} out;

/* A client on a loudspeaker: the reply audio plays from when it arrives (or
 * after what is queued), by sample on the test's clock since the session
 * opened, and stops when an interruption purges it. */
static struct {
    int16_t *pcm;
    size_t cap, end; /* samples; [0, end) is the timeline so far */
    int64_t t0;
} speaker;
static size_t speaker_now(void) { return (size_t)((now_us - speaker.t0) * 16 / 1000); }

static enum outq_result t_send(void *ud, int binary, enum out_class cls, uint64_t turn, int phrase, const void *data,
                               size_t len, size_t samples)
{
    (void)ud, (void)cls;
    if (binary && speaker.pcm) {
        size_t at = speaker.end > speaker_now() ? speaker.end : speaker_now(), n = len / 2;
        if (at + n <= speaker.cap) {
            memset(speaker.pcm + speaker.end, 0, (at - speaker.end) * 2);
            memcpy(speaker.pcm + at, data, n * 2);
            speaker.end = at + n;
        }
    }
    if (binary && out.nunwritten < 256) {
        out.audio_samples += samples;
        out.unwritten[out.nunwritten].turn = turn;
        out.unwritten[out.nunwritten].phrase = phrase;
        out.unwritten[out.nunwritten++].samples = samples;
    }
    return OUTQ_OK;
}
static void t_purge(void *ud, uint64_t turn)
{
    (void)ud;
    out.purges++;
    if (speaker.pcm && speaker.end > speaker_now())
        speaker.end = speaker_now(); /* the client stops playing */
    int k = 0;
    for (int i = 0; i < out.nunwritten; i++)
        if (out.unwritten[i].turn != turn)
            out.unwritten[k++] = out.unwritten[i];
    out.nunwritten = k;
}
static void t_set_timer(void *ud, int64_t delay_us) { (void)ud, out.timer_at = now_us + delay_us; }
static void t_close(void *ud) { (void)ud, out.closed = 1; }
static enum outq_result t_event(void *ud, const struct proto_event *ev, enum out_class cls, uint64_t turn)
{
    (void)ud, (void)cls, (void)turn;
    if (out.n == MAX_EVENTS)
        return OUTQ_OK;
    struct seen *e = &out.ev[out.n++];
    memset(e, 0, sizeof *e);
    e->kind = ev->kind;
    e->turn = ev->turn;
    e->final = ev->final;
    e->is_error = ev->is_error;
    e->at = now_us;
    snprintf(e->text, sizeof e->text, "%s", ev->text ? ev->text : "");
    snprintf(e->code, sizeof e->code, "%s", ev->code ? ev->code : "");
    snprintf(e->status, sizeof e->status, "%s", ev->status ? ev->status : "");
    return OUTQ_OK;
}
static const struct session_io io = {
    .send = t_send, .purge_turn = t_purge, .set_timer = t_set_timer, .close = t_close, .event = t_event};

/* ---- the world ---- */

static struct parley_config cfg;
static struct session_env env;
static session *s;

/* Runs queued work and delivers mail and writes until nothing moves; cpu 0
 * leaves the CPU pool's jobs (ASR, TTS) waiting, as a loaded server would. */
static void settle_pools(int cpu)
{
    for (;;) {
        int moved = (cpu ? workers_run_pending(env.pool) : 0) + workers_run_pending(env.io) +
                    workers_run_pending(env.writer);
        struct mail *m = mailbox_take_all(env.mail);
        while (m) {
            struct mail *next = m->next;
            if (s)
                session_on_mail(s, (struct session_mail *)m);
            session_mail_free(m);
            m = next, moved++;
        }
        if (s && out.nunwritten) { /* the socket takes what was queued at once */
            int n = out.nunwritten;
            out.nunwritten = 0;
            for (int i = 0; i < n; i++)
                session_on_written(s, out.unwritten[i].turn, out.unwritten[i].phrase, out.unwritten[i].samples);
            moved++;
        }
        if (!moved)
            return;
    }
}
static void settle(void) { settle_pools(1); }

/* Fires the armed timer at its time, without running any pool; 0 if none. */
static int fire_next_timer(void)
{
    if (!out.timer_at)
        return 0;
    now_us = out.timer_at > now_us ? out.timer_at : now_us;
    out.timer_at = 0;
    session_on_timer(s);
    return 1;
}

/* Moves the clock to each timer in turn (and settles) up to ms from now. */
static void advance(int64_t ms)
{
    int64_t until = now_us + ms * 1000;
    settle();
    while (out.timer_at && out.timer_at <= until && fire_next_timer())
        settle();
    now_us = until;
}

static int count(enum proto_event_kind k, uint64_t turn)
{
    int c = 0;
    for (int i = 0; i < out.n; i++)
        c += out.ev[i].kind == k && (!turn || out.ev[i].turn == turn);
    return c;
}
static const struct seen *last(enum proto_event_kind k)
{
    for (int i = out.n - 1; i >= 0; i--)
        if (out.ev[i].kind == k)
            return &out.ev[i];
    return NULL;
}
static int index_of(enum proto_event_kind k, uint64_t turn)
{
    for (int i = 0; i < out.n; i++)
        if (out.ev[i].kind == k && out.ev[i].turn == turn)
            return i;
    return -1;
}

/* echo_cancellation: -1 the configuration's, 0 off, 1 on. */
static void open_session_with(const char *conversation_id, int echo_cancellation)
{
    memset(&out, 0, sizeof out);
    memset(&llm, 0, sizeof llm);
    static uint64_t ids;
    s = session_new(&env, &io, NULL, ++ids);
    CHECK(s != NULL);
    struct proto_client_msg start = {
        .type = MSG_START, .sample_rate = 16000, .half_duplex = -1, .echo_cancellation = echo_cancellation};
    if (conversation_id)
        snprintf(start.conversation_id, sizeof start.conversation_id, "%s", conversation_id);
    CHECK(session_on_message(s, &start) == 0);
}
static void open_session(const char *conversation_id) { open_session_with(conversation_id, -1); }
static void close_session(void)
{
    session_free(s);
    s = NULL;
    settle();
}
static void type_text(const char *text)
{
    struct proto_client_msg m = {.type = MSG_TEXT, .text = strdup(text)};
    session_on_message(s, &m);
    proto_client_msg_clear(&m);
    settle();
}

/* The clip without the synthesiser's own quiet at either end (20 ms frames
 * under -50 dBFS), so the test alone decides how long each pause is. */
static struct pcm_buf trimmed(struct pcm_buf in)
{
    const size_t frame = 320;
    size_t frames = in.len / frame, first = 0, last = frames ? frames - 1 : 0;
    for (; first < last; first++) {
        double e = 0;
        for (size_t i = 0; i < frame; i++)
            e += (double)in.samples[first * frame + i] * in.samples[first * frame + i];
        if (e / frame > 100.0 * 100.0)
            break;
    }
    for (; last > first; last--) {
        double e = 0;
        for (size_t i = 0; i < frame; i++)
            e += (double)in.samples[last * frame + i] * in.samples[last * frame + i];
        if (e / frame > 100.0 * 100.0)
            break;
    }
    struct pcm_buf out = {0};
    pcm_append(&out, in.samples + first * frame, (last - first + 1) * frame);
    return out;
}

/* Speech made by the synthesiser, fed as a microphone would: 20 ms frames,
 * the clock moving with them, then quiet. */
static struct pcm_buf words;
static void feed(const struct pcm_buf *pcm, int settle_cpu)
{
    for (size_t off = 0; off < pcm->len; off += 320) {
        size_t n = pcm->len - off < 320 ? pcm->len - off : 320;
        session_on_audio(s, pcm->samples + off, n * 2);
        now_us += 20000;
        settle_pools(settle_cpu);
    }
}
static void say_words(int settle_cpu)
{
    for (size_t off = 0; off < words.len; off += 320) {
        size_t n = words.len - off < 320 ? words.len - off : 320;
        session_on_audio(s, words.samples + off, n * 2);
        now_us += 20000;
        settle_pools(settle_cpu);
    }
}
/* Quiet frames until ms have passed or until() holds; returns the ms fed. */
static int quiet(int settle_cpu, int ms, int (*until)(void))
{
    static const int16_t zeros[320];
    int fed = 0;
    while (fed < ms && !(until && until())) {
        session_on_audio(s, zeros, sizeof zeros);
        now_us += 20000;
        fed += 20;
        settle_pools(settle_cpu);
    }
    return fed;
}
static void speak(int settle_cpu, int quiet_ms)
{
    say_words(settle_cpu);
    quiet(settle_cpu, quiet_ms, NULL);
}

/* ---- the scenarios ---- */

static void test_reply(void)
{
    open_session(NULL);
    CHECK(out.n >= 2 && out.ev[0].kind == EV_READY && out.ev[1].kind == EV_STATE);
    CHECK_STR(out.ev[1].status, "listening");
    type_text("hello there");
    CHECK(llm.started == 1);
    CHECK_STR(last_user(), "hello there");
    uint64_t turn = last(EV_ASSISTANT_TEXT)->turn;
    CHECK_STR(last(EV_STATE)->status, "thinking");
    say("Sure thing, here is a first sentence for you. ");
    say("And a second one follows it right away.");
    finish(LLM_OK);
    settle();
    CHECK_STR(last(EV_ASSISTANT_TEXT)->status, "end");
    /* Playback is paced: a little ahead of real time, so little is queued
     * when the clock stands still. */
    size_t queued = out.audio_samples;
    CHECK(queued > 0 && queued < 16000 * (size_t)(cfg.tts_playout_lead_ms + 1000) / 1000);
    CHECK(count(EV_DONE, turn) == 0);
    /* Done comes once the audio is out; listening once it has had time to play. */
    advance(20000);
    CHECK(count(EV_TTS_START, turn) == 2);
    CHECK(out.audio_samples > queued + 16000); /* two phrases of speech at 16 kHz */
    CHECK(count(EV_DONE, turn) == 1);
    CHECK(index_of(EV_DONE, turn) > index_of(EV_TTS_PHRASE_DONE, turn));
    CHECK_STR(last(EV_STATE)->status, "listening");
    CHECK(count(EV_ERROR, 0) == 0);
    close_session();
}

static void test_llm_failure(void)
{
    open_session(NULL);
    type_text("what is new");
    finish(LLM_ERR_TIMEOUT);
    settle();
    CHECK(last(EV_ERROR) && !strcmp(last(EV_ERROR)->code, "LLM_TIMEOUT"));
    advance(1000);
    CHECK_STR(last(EV_STATE)->status, "listening");
    close_session();
}

static void test_phrase_gap(void)
{
    open_session(NULL);
    type_text("tell me");
    say("Well I think that"); /* no end of sentence yet */
    settle();
    CHECK(count(EV_TTS_START, 0) == 0);
    advance(cfg.phrase_gap_ms + 10); /* the model paused: what it said is spoken */
    CHECK(count(EV_TTS_START, 0) == 1);
    finish(LLM_OK);
    advance(10000);
    CHECK(count(EV_DONE, 0) == 1);
    close_session();
}

static void test_cancel_drops_stale_work(void)
{
    open_session(NULL);
    type_text("a long story please");
    uint64_t turn = last(EV_ASSISTANT_TEXT)->turn;
    say("Once upon a time there was a parser. ");
    settle();
    int phrases = count(EV_TTS_START, turn), chunks = count(EV_ASSISTANT_TEXT, turn);
    CHECK(phrases == 1);
    /* Work made for the turn is in flight when the client cancels: words in
     * the mailbox, a phrase waiting for the synthesiser. */
    say("It lived happily ever after. And then it was fuzzed. ");
    struct proto_client_msg cancel = {.type = MSG_CANCEL};
    session_on_message(s, &cancel);
    CHECK(count(EV_INTERRUPTED, turn) == 1);
    CHECK(llm.freed == 1 && !llm.live);
    /* And the user's next question is in before any of it is delivered. */
    struct proto_client_msg next = {.type = MSG_TEXT, .text = strdup("something short")};
    session_on_message(s, &next);
    proto_client_msg_clear(&next);
    CHECK(llm.started == 2);
    uint64_t turn2 = last(EV_ASSISTANT_TEXT)->turn;
    CHECK(turn2 > turn);
    settle(); /* the old turn's work arrives now; the one stale check drops it */
    CHECK(count(EV_ASSISTANT_TEXT, turn) == chunks);
    CHECK(count(EV_TTS_START, turn) == phrases);
    CHECK(count(EV_ASSISTANT_TEXT, turn2) == 1); /* start: none of the old words */
    CHECK(count(EV_TTS_START, turn2) == 0);
    say("Short.");
    finish(LLM_OK);
    advance(10000);
    CHECK(count(EV_DONE, turn) == 0 && count(EV_DONE, turn2) == 1);
    CHECK_STR(last(EV_ASSISTANT_TEXT)->text, "Short.");
    CHECK_STR(last(EV_STATE)->status, "listening");
    close_session();
}

static void test_start_timeout(void)
{
    memset(&out, 0, sizeof out);
    s = session_new(&env, &io, NULL, 99);
    CHECK(s != NULL);
    advance(cfg.limits_start_timeout_ms - 1);
    CHECK(!out.closed);
    advance(2);
    CHECK(out.closed && last(EV_ERROR) != NULL);
    close_session();
}

static int lookup_tool(void *ud, const cJSON *args, const struct tool_ctx *ctx, char **result)
{
    (void)ud, (void)args, (void)ctx;
    *result = strdup("{\"answer\":42}");
    return 0;
}

static void test_tool_rounds(void)
{
    open_session(NULL);
    type_text("what is the answer");
    CHECK(llm.has_tools);
    uint64_t turn = last(EV_ASSISTANT_TEXT)->turn;
    llm.cb.tool_call(llm.ud, "call_1", "lookup", "{\"q\":\"answer\"}");
    finish(LLM_OK);
    settle(); /* the tool runs on the I/O pool, the result comes back */
    CHECK(count(EV_TOOL_CALL, turn) == 1 && count(EV_TOOL_RESULT, turn) == 1);
    CHECK(!last(EV_TOOL_RESULT)->is_error);
    CHECK(llm.started == 2); /* the continuation carries the result */
    CHECK_STR(llm.role[llm.n - 1], "tool");
    CHECK(strstr(llm.content[llm.n - 1], "42") != NULL);
    say("The answer is forty two.");
    finish(LLM_OK);
    advance(10000);
    CHECK(count(EV_DONE, turn) == 1);
    close_session();
}

static void test_tool_timeout(void)
{
    open_session(NULL);
    type_text("what is the answer");
    uint64_t turn = last(EV_ASSISTANT_TEXT)->turn;
    llm.cb.tool_call(llm.ud, "call_1", "lookup", "{}");
    finish(LLM_OK);
    /* The I/O pool is busy elsewhere: the tool's job never starts. */
    struct mail *m = mailbox_take_all(env.mail);
    while (m) {
        struct mail *next = m->next;
        session_on_mail(s, (struct session_mail *)m);
        session_mail_free(m);
        m = next;
    }
    CHECK(count(EV_TOOL_CALL, turn) == 1 && count(EV_TOOL_RESULT, turn) == 0);
    int64_t t = now_us;
    while (!count(EV_TOOL_RESULT, turn) && fire_next_timer()) /* only timers, no pools */
        ;
    CHECK(count(EV_TOOL_RESULT, turn) == 1 && last(EV_TOOL_RESULT)->is_error);
    CHECK(now_us - t >= (int64_t)cfg.tools_timeout_ms * 1000);
    CHECK(llm.started == 2); /* the model hears of the failure and goes on */
    settle();                /* the late result, when the job runs at last: dropped */
    CHECK(count(EV_TOOL_RESULT, turn) == 1);
    close_session();
}

static void test_barge_in(void)
{
    open_session(NULL);
    type_text("read me something long");
    uint64_t turn = last(EV_ASSISTANT_TEXT)->turn;
    say("Here is a long reply that goes on for a while so that the user can interrupt it. ");
    say("It keeps going with another sentence of words. ");
    settle();
    advance(300); /* playback has begun */
    CHECK_STR(last(EV_STATE)->status, "speaking");
    speak(1, 800); /* the user talks over it */
    CHECK(count(EV_SPEECH_STARTED, 0) >= 1);
    CHECK(count(EV_INTERRUPTED, turn) == 1);
    CHECK(out.purges >= 1);
    CHECK(llm.freed >= 1); /* the request was aborted */
    /* The words the user said become the next turn, answered in order. */
    advance(3000);
    const struct seen *fin = last(EV_TRANSCRIPT);
    CHECK(fin && fin->final && fin->turn > turn);
    CHECK(strstr(fin->text, "time") != NULL);
    CHECK(llm.started == 2);
    CHECK(strstr(last_user(), "time") != NULL);
    close_session();
}

/* ASR_TIMEOUT is for a stuck recogniser, not a busy one: while the
 * utterance's audio waits for a worker, the deadline moves on. */
static void test_asr_waits_under_load(void)
{
    open_session(NULL);
    speak(0, 800); /* the recogniser's jobs get no thread */
    CHECK(count(EV_SPEECH_STOPPED, 0) == 1);
    int fired = 0;
    int64_t t = now_us;
    while (now_us - t < 4 * (int64_t)cfg.asr_final_timeout_ms * 1000 && fire_next_timer())
        fired++;
    CHECK(fired >= 3); /* the deadline passed, and was put off, again and again */
    CHECK(count(EV_ERROR, 0) == 0 && count(EV_TRANSCRIPT, 0) == 0);
    settle(); /* a worker at last: the final, and the turn is answered */
    const struct seen *fin = last(EV_TRANSCRIPT);
    CHECK(fin && fin->final && strstr(fin->text, "time") != NULL);
    CHECK(llm.started == 1);
    close_session();
}

static int llm_asked(void) { return llm.started > 0; }
/* parley_speculative_starts_total{outcome=…} as /metrics shows it. */
static long speculations(const char *outcome)
{
    char *m = metrics_render(env.metrics, 0, 0), key[96];
    snprintf(key, sizeof key, "parley_speculative_starts_total{outcome=\"%s\"} ", outcome);
    const char *at = m ? strstr(m, key) : NULL;
    long n = at ? strtol(at + strlen(key), NULL, 10) : -1;
    free(m);
    return n;
}
static int endpointed(void) { return count(EV_SPEECH_STOPPED, 0) > 0; }

/* The LLM is asked on the speculative final, inside the silence window; its
 * answer is held until the endpoint, then shown at once. */
static void test_speculative_start(void)
{
    open_session(NULL);
    long shown = speculations("shown");
    int events_before = out.n;
    say_words(1);
    int ms = quiet(1, 2000, llm_asked);
    CHECK(llm.started == 1 && !endpointed());
    CHECK(ms < cfg.vad_silence_ms); /* inside the window (the clip ends in some quiet of its own) */
    CHECK(strstr(last_user(), "time") != NULL);
    say("It is noon in Paris. Enjoy your lunch.");
    finish(LLM_OK);
    settle(); /* the reply is written and synthesised, and held */
    for (int i = events_before; i < out.n; i++)
        CHECK(out.ev[i].kind == EV_SPEECH_STARTED || out.ev[i].kind == EV_TRANSCRIPT);
    CHECK(count(EV_TRANSCRIPT, 0) == 0 || !last(EV_TRANSCRIPT)->final);
    CHECK(out.audio_samples == 0);
    quiet(1, 2000, endpointed); /* the endpoint: the final, then the answer at once */
    const struct seen *fin = last(EV_TRANSCRIPT);
    CHECK(fin && fin->final && strstr(fin->text, "time"));
    uint64_t turn = fin->turn;
    CHECK(count(EV_ASSISTANT_TEXT, turn) == 3); /* start, everything so far, end */
    CHECK_STR(last(EV_ASSISTANT_TEXT)->text, "It is noon in Paris. Enjoy your lunch.");
    CHECK(count(EV_TTS_START, turn) == 1 && out.audio_samples > 0);
    CHECK(index_of(EV_TRANSCRIPT, turn) < index_of(EV_ASSISTANT_TEXT, turn));
    advance(20000);
    CHECK(count(EV_DONE, turn) == 1 && llm.started == 1);
    CHECK(speculations("shown") == shown + 1);
    close_session();
}

/* The user goes on after the speculative final: the early request is dropped
 * unseen, and the whole utterance is answered once. */
static void test_speculative_discard(void)
{
    open_session(NULL);
    long wasted = speculations("wasted");
    say_words(1);
    quiet(1, 2000, llm_asked);
    CHECK(llm.started == 1 && !endpointed());
    say("An early answer that nobody may hear.");
    int events_held = out.n;
    say_words(1); /* speech resumes */
    CHECK(llm.freed == 1 && !llm.live);
    for (int i = events_held; i < out.n; i++)
        CHECK(out.ev[i].kind == EV_TRANSCRIPT && !out.ev[i].final);
    quiet(1, 2000, endpointed);
    advance(100);
    CHECK(llm.started == 2); /* asked again, for the whole of it */
    int user_msgs = 0;
    for (int i = 0; i < llm.n; i++)
        user_msgs += !strcmp(llm.role[i], "user");
    CHECK(user_msgs == 1); /* the dropped question left nothing in the history */
    CHECK(strlen(last_user()) > strlen("what time is it in paris"));
    for (int i = 0; i < out.n; i++)
        CHECK(!strstr(out.ev[i].text, "nobody may hear"));
    CHECK(speculations("wasted") == wasted + 1);
    close_session();
}

/* A held reply that wants a tool: the tool waits until the user has finished. */
static void test_speculative_tools_wait(void)
{
    open_session(NULL);
    say_words(1);
    quiet(1, 2000, llm_asked);
    llm.cb.tool_call(llm.ud, "call_1", "lookup", "{}");
    finish(LLM_OK);
    settle();
    CHECK(count(EV_TOOL_CALL, 0) == 0 && count(EV_TOOL_RESULT, 0) == 0 && llm.started == 1);
    quiet(1, 2000, endpointed);
    settle();
    CHECK(count(EV_TOOL_CALL, 0) == 1 && count(EV_TOOL_RESULT, 0) == 1 && llm.started == 2);
    say("Forty two.");
    finish(LLM_OK);
    advance(10000);
    CHECK(count(EV_DONE, 0) == 1);
    close_session();
}

static struct pcm_buf clip(const char *text)
{
    int order[1] = {0};
    struct tts_result r;
    CHECK(tts_speak(env.tts, order, 1, text, NULL, NULL, NULL, &r) == 0);
    struct pcm_buf out = trimmed(r.pcm);
    tts_result_free(&r);
    return out;
}

static void test_endpoint_windows(void)
{
    int min = cfg.vad_min_silence_ms;
    cfg.vad_min_silence_ms = 400; /* a short window for finished words (off by default) */
    CHECK(endpoint_window_ms(&cfg, "what time is it") == cfg.vad_min_silence_ms);
    CHECK(endpoint_window_ms(&cfg, "can you play some jazz") == cfg.vad_min_silence_ms);
    CHECK(endpoint_window_ms(&cfg, "yes") == cfg.vad_min_silence_ms);
    CHECK(endpoint_window_ms(&cfg, "i would like a pizza with") == cfg.vad_max_silence_ms);
    CHECK(endpoint_window_ms(&cfg, "what time is it and um") == cfg.vad_max_silence_ms);
    CHECK(endpoint_window_ms(&cfg, "the weather in Paris") == cfg.vad_silence_ms);
    CHECK(endpoint_window_ms(&cfg, "") == cfg.vad_silence_ms);
    CHECK(endpoint_window_ms(&cfg, NULL) == cfg.vad_silence_ms);
    CHECK(endpoint_window_ms(&cfg, "remind me to call") == cfg.vad_max_silence_ms);
    CHECK(cfg.vad_min_silence_ms < cfg.vad_silence_ms && cfg.vad_silence_ms < cfg.vad_max_silence_ms);
    cfg.vad_min_silence_ms = min;
}

static int finals(void)
{
    int n = 0;
    for (int i = 0; i < out.n; i++)
        n += out.ev[i].kind == EV_TRANSCRIPT && out.ev[i].final;
    return n;
}

/* A speaker who trails off ("… with") and goes on after 700 ms: one turn,
 * where a fixed 500 ms window would have cut them off. */
static void test_trailing_pause(int adaptive)
{
    int max = cfg.vad_max_silence_ms;
    if (!adaptive)
        cfg.vad_max_silence_ms = cfg.vad_silence_ms;
    struct pcm_buf a = clip("I would like a large pizza with"), b = clip("mushrooms and olives please.");
    open_session(NULL);
    feed(&a, 1);
    quiet(1, 700, NULL);
    feed(&b, 1);
    quiet(1, 1500, NULL);
    advance(100);
    if (adaptive) {
        const struct seen *fin = last(EV_TRANSCRIPT);
        CHECK(finals() == 1 && count(EV_SPEECH_STOPPED, 0) == 1);
        CHECK(fin && strstr(fin->text, "pizza") && strstr(fin->text, "olives"));
    } else {
        CHECK(finals() == 2); /* cut off after "with": what the adaptive window prevents */
    }
    close_session();
    cfg.vad_max_silence_ms = max;
    pcm_free(&a);
    pcm_free(&b);
}

/* A 350 ms pause after words that read as a finished question is waited
 * out: the turn ends once, after the default window. */
static void test_pause_inside_question(void)
{
    struct pcm_buf a = clip("What time is it"), b = clip("in Paris right now?");
    open_session(NULL);
    feed(&a, 1);
    quiet(1, 350, NULL);
    feed(&b, 1);
    int ms = quiet(1, 2000, endpointed);
    advance(100);
    const struct seen *fin = last(EV_TRANSCRIPT);
    CHECK(finals() == 1 && count(EV_SPEECH_STOPPED, 0) == 1 && fin && strstr(fin->text, "paris"));
    /* The clip's last frames, under the VAD's threshold, count as quiet too. */
    CHECK(ms > cfg.vad_silence_ms - 100 && ms <= cfg.vad_silence_ms);
    close_session();
    pcm_free(&a);
    pcm_free(&b);
}

/* With a short window for finished words, a finished question ends sooner. */
static void test_short_window(void)
{
    int min = cfg.vad_min_silence_ms;
    cfg.vad_min_silence_ms = 300;
    open_session(NULL);
    say_words(1); /* "What time is it in Paris?" */
    int ms = quiet(1, 2000, endpointed);
    CHECK(ms > 200 && ms <= 300);
    close_session();
    cfg.vad_min_silence_ms = min;
}

/* ---- echo: a client on a loudspeaker without its own canceller ---- */

/* Microphone frames of what the speaker played delay_ms ago at gain_db,
 * plus the user's words from user_from_ms on (NULL: none), until ms have
 * passed or until() holds. Returns the clock when the words began. */
static int64_t echo_frames(int delay_ms, double gain_db, const struct pcm_buf *user, int user_from_ms, int ms,
                           int (*until)(void))
{
    const double g = pow(10, gain_db / 20);
    int64_t onset = 0;
    for (int fed = 0; fed < ms && !(until && until()); fed += 20) {
        int16_t frame[320];
        size_t at = speaker_now();
        for (size_t i = 0; i < 320; i++) {
            size_t k = at + i, d = (size_t)delay_ms * 16;
            double v = k >= d && k - d < speaker.end ? g * speaker.pcm[k - d] : 0;
            if (user && fed >= user_from_ms && (size_t)(fed - user_from_ms) * 16 + i < user->len)
                v += user->samples[(size_t)(fed - user_from_ms) * 16 + i];
            frame[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
        }
        if (user && fed == user_from_ms)
            onset = now_us;
        now_us += 20000; /* the frame was captured over the last 20 ms */
        session_on_audio(s, frame, sizeof frame);
        settle();
        while (out.timer_at && out.timer_at <= now_us && fire_next_timer())
            settle();
    }
    return onset;
}
static int reply_over(void) { return count(EV_DONE, 0) > 0 && !strcmp(last(EV_STATE)->status, "listening"); }

static uint64_t long_reply(void)
{
    type_text("tell me about the ocean");
    uint64_t turn = last(EV_ASSISTANT_TEXT)->turn;
    say("The ocean covers most of the planet, and it holds countless creatures. ");
    say("Whales sing to each other across great distances in the deep. ");
    say("Coral reefs shelter fish of every colour, and turtles swim between them. ");
    finish(LLM_OK);
    settle();
    return turn;
}

/* The reply leaking back at -20 dB, 150 ms late, over the whole reply:
 * with the server's canceller it never interrupts; without it, it does
 * (which is what makes this test able to fail). */
static void test_echo_does_not_interrupt(void)
{
    for (int cancel = 1; cancel >= 0; cancel--) {
        speaker.t0 = now_us, speaker.end = 0;
        open_session_with(NULL, cancel);
        uint64_t turn = long_reply();
        echo_frames(150, -20, NULL, 0, 30000, reply_over);
        if (cancel) {
            CHECK(count(EV_DONE, turn) == 1);
            CHECK(count(EV_SPEECH_STARTED, 0) == 0);
            CHECK(count(EV_INTERRUPTED, turn) == 0);
            CHECK(speaker.end > 16000 * 8); /* a long reply was played whole */
        } else {
            CHECK(count(EV_INTERRUPTED, turn) == 1);
        }
        close_session();
    }
}

/* A real question over the reply, with the echo still leaking, interrupts
 * within 250 ms of its onset and is heard whole. */
static void test_question_over_echo(void)
{
    speaker.t0 = now_us, speaker.end = 0;
    open_session(NULL);
    uint64_t turn = long_reply();
    int64_t onset = echo_frames(150, -20, &words, 2500, 6000, NULL);
    CHECK(count(EV_INTERRUPTED, turn) == 1);
    const struct seen *intr = last(EV_INTERRUPTED);
    CHECK(intr && onset && intr->at - onset <= 250000);
    printf("echo: a question over the reply interrupted it %lld ms after its onset\n",
           intr ? (long long)(intr->at - onset) / 1000 : -1LL);
    echo_frames(150, -20, NULL, 0, 3000, NULL);
    const struct seen *fin = last(EV_TRANSCRIPT);
    CHECK(fin && fin->final && fin->turn > turn && strstr(fin->text, "time") != NULL);
    close_session();
}

static void test_resume(const char *db_path)
{
    struct store_params sp = store_default_params();
    sp.path = db_path;
    char err[256];
    env.db = store_open(&sp, err, sizeof err);
    CHECK(env.db != NULL);
    struct store_message old[] = {{.turn = 1, .role = "user", .content = "my name is Ada", .input = "text"},
                                  {.turn = 1, .role = "assistant", .content = "Nice to meet you, Ada."}};
    CHECK(store_commit_turn(env.db, STORE_LOCAL_USER, "c-resume", old, 2, err, sizeof err) == 0);
    open_session("c-resume");
    /* The history loads on the writer; a question typed meanwhile waits. */
    struct proto_client_msg m = {.type = MSG_TEXT, .text = strdup("what is my name")};
    session_on_message(s, &m);
    proto_client_msg_clear(&m);
    CHECK(count(EV_READY, 0) == 0 && llm.started == 0);
    settle();
    CHECK(count(EV_READY, 0) == 1 && llm.started == 1);
    int ada = -1, question = -1;
    for (int i = 0; i < llm.n; i++) {
        if (strstr(llm.content[i], "Ada") && ada < 0)
            ada = i;
        if (!strcmp(llm.content[i], "what is my name"))
            question = i;
    }
    CHECK(ada >= 0 && question > ada);
    close_session();
    store_close(env.db);
    env.db = NULL;
}

int main(void)
{
    char err[256];
    parley_config_defaults(&cfg);
    CHECK(config_set(&cfg, "asr.engine", "pocketsphinx", err, sizeof err) == 0);
    CHECK(config_set(&cfg, "asr.model_dir", PARLEY_PS_MODELDIR, err, sizeof err) == 0);
    CHECK(config_set(&cfg, "tts.chain", "flite", err, sizeof err) == 0);
    CHECK(config_set(&cfg, "tts.sample_rate", "16000", err, sizeof err) == 0);
    CHECK(config_set(&cfg, "data_dir", "", err, sizeof err) == 0);
    CHECK(config_finish(&cfg, err, sizeof err) == 0);
    cfg.asr_partial_interval_ms = 0; /* a partial after every push: no timing in it */

    struct asr_params ap = asr_default_params();
    ap.engine = "pocketsphinx";
    ap.model_dir = PARLEY_PS_MODELDIR;
    struct tts_params tp = tts_default_params();
    tp.chain = "flite";
    tp.out_rate = 16000;
    struct workers_params sync = {.threads = 0, .max_queued = 1024};
    env = (struct session_env){
        .cfg = &cfg,
        .asr = asr_model_new(&ap, err, sizeof err),
        .vad_engine = &vad_engine_webrtc,
        .tts = tts_new(&tp, err, sizeof err),
        .pool = workers_new(&sync),
        .io = workers_new(&sync),
        .writer = workers_new(&sync),
        .mail = mailbox_new(NULL, NULL),
        .tools = tools_new(),
        .metrics = metrics_new(),
        .clock_us = test_clock,
        .llm = &fake_llm,
    };
    CHECK(env.asr && env.tts && env.pool && env.io && env.writer && env.mail && env.tools && env.metrics);
    struct tool_def lookup = {.name = "lookup",
                              .description = "looks things up",
                              .parameters = "{\"type\":\"object\"}",
                              .fn = lookup_tool};
    CHECK(tools_add(env.tools, &lookup) == 0);
    int order[1] = {0};
    struct tts_result speech;
    CHECK(tts_speak(env.tts, order, 1, "What time is it in Paris?", NULL, NULL, NULL, &speech) == 0);
    words = trimmed(speech.pcm);
    tts_result_free(&speech);

    test_reply();
    test_llm_failure();
    test_phrase_gap();
    test_cancel_drops_stale_work();
    test_start_timeout();
    test_tool_rounds();
    test_tool_timeout();
    test_barge_in();
    test_asr_waits_under_load();
    test_speculative_start();
    test_speculative_discard();
    test_speculative_tools_wait();
    test_endpoint_windows();
    test_trailing_pause(1);
    test_trailing_pause(0);
    test_pause_inside_question();
    test_short_window();
    speaker.cap = 16000 * 120;
    speaker.pcm = calloc(speaker.cap, sizeof *speaker.pcm);
    test_echo_does_not_interrupt();
    test_question_over_echo();
    free(speaker.pcm);
    speaker.pcm = NULL;
    char db[] = "/tmp/parley-turns-XXXXXX";
    int fd = mkstemp(db);
    CHECK(fd >= 0);
    close(fd);
    test_resume(db);
    unlink(db);

    pcm_free(&words);
    workers_free(env.pool);
    workers_free(env.io);
    workers_free(env.writer);
    mailbox_free(env.mail, session_mail_free);
    tools_free(env.tools);
    metrics_free(env.metrics);
    tts_free(env.tts);
    asr_model_free(env.asr);
    return check_summary();
}
