/* Barge-in: when user speech over the assistant counts as an interruption
 * (VAD confirmation, min_words, half duplex), and what an interruption does:
 * bump the turn, abort the LLM, drop pending synthesis and queued audio, tell
 * the client, and keep in history only what the user heard. */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "session/session_internal.h"

enum { BARGE_NONE, BARGE_WAIT_WORDS, BARGE_NEVER, BARGE_WAIT_SPEECH };

/* Silero hears a little of the pre-roll too: its LSTM needs a few windows
 * to rise, and more would hand it the quiet before the onset. */
#define OPINION_LEAD_SAMPLES (100 * 16)

int barge_in_mic_open(const session *s)
{
    /* Half duplex closes the microphone while the assistant's audio plays,
     * but never in the middle of an utterance that already started. */
    return !(s->half_duplex && s->state == ST_SPEAKING && !s->utt.turn);
}

/* The onset passed the VAD; past the second opinion (if any), the words
 * (if asked for) or nothing, it interrupts. */
static void onset_heard_as_speech(session *s)
{
    if (s->cfg->barge_in_min_words > 0) {
        s->utt.barge_pending = BARGE_WAIT_WORDS;
    } else {
        s->utt.barge_pending = BARGE_NONE;
        barge_in_interrupt(s);
    }
}

/* 1: the second opinion heard speech in audio; 0 not (yet); also 1 when
 * there is no second opinion to ask, or it fails (the VAD's word stands). */
static int second_opinion(session *s, const int16_t *audio, size_t n, int fresh)
{
    if (!s->env->barge_confirm || !s->env->vad_model)
        return 1;
    if (!s->opinion) {
        char err[256];
        s->opinion = vad_opinion_new(s->env->barge_confirm, s->env->vad_model, 2, err, sizeof err);
        if (!s->opinion) {
            log_warn("session %s: no second opinion on barge-in: %s", s->sid, err);
            return 1;
        }
    }
    if (fresh)
        vad_opinion_reset(s->opinion);
    int r = vad_opinion_feed(s->opinion, audio, n);
    return r != 0;
}

void barge_in_on_speech_start(session *s, const int16_t *audio, size_t n, size_t candidate_n)
{
    if (!s->cfg->barge_in_enabled) {
        s->utt.barge_pending = BARGE_NEVER;
        return;
    }
    size_t from = n - (candidate_n + OPINION_LEAD_SAMPLES < n ? candidate_n + OPINION_LEAD_SAMPLES : n);
    if (second_opinion(s, audio + from, n - from, 1))
        onset_heard_as_speech(s);
    else
        s->utt.barge_pending = BARGE_WAIT_SPEECH; /* a cough or a clatter, so far */
}

void barge_in_on_audio(session *s, const int16_t *audio, size_t n)
{
    if (s->utt.barge_pending == BARGE_WAIT_SPEECH && s->reply.turn && second_opinion(s, audio, n, 0))
        onset_heard_as_speech(s);
}

void barge_in_on_partial(session *s, const char *text)
{
    if (s->utt.barge_pending != BARGE_WAIT_WORDS || asr_count_words(text) < s->cfg->barge_in_min_words)
        return;
    s->utt.barge_pending = BARGE_NONE;
    barge_in_interrupt(s);
}

int barge_in_is_false_start(session *s, const struct utterance *u, const char *final_text)
{
    if (u->barge_pending == BARGE_NONE || !s->reply.turn)
        return 0; /* the assistant has finished meanwhile: answer it */
    if (u->barge_pending == BARGE_WAIT_SPEECH)
        return 2; /* never sounded like speech to the second opinion */
    if (u->barge_pending == BARGE_NEVER)
        return 1;
    return asr_count_words(final_text) < s->cfg->barge_in_min_words;
}

static void keep_heard_record(session *s, const struct reply *r)
{
    struct heard_record *h = &s->heard;
    for (int i = 0; i < h->n; i++)
        free(h->texts[i]);
    free(h->texts);
    free(h->samples);
    memset(h, 0, sizeof *h);
    h->texts = calloc((size_t)r->nphrases + 1, sizeof *h->texts);
    h->samples = calloc((size_t)r->nphrases + 1, sizeof *h->samples);
    if (!h->texts || !h->samples)
        return;
    h->turn = r->turn;
    for (int i = 0; i < r->nphrases; i++) {
        const struct phrase_slot *p = &r->phrases[i];
        if (p->sent == 0)
            continue;
        h->texts[h->n] = strdup(p->text);
        h->samples[h->n] = p->samples_total;
        if (h->texts[h->n])
            h->n++;
    }
}

void barge_in_interrupt(session *s)
{
    struct reply *r = &s->reply;
    if (!r->turn)
        return;
    if (r->held) { /* never shown: nothing to interrupt, only to drop */
        reply_discard(s);
        return;
    }
    uint64_t turn = r->turn;
    /* Order matters: stale work is fenced off first, then queued audio is
     * purged, and only then is agent_interrupted queued, so no audio of the
     * old turn can follow it. */
    atomic_store(&s->gate->current, 0);
    session_llm(s)->free(r->llm);
    r->llm = NULL;
    s->io.purge_turn(s->io_ud, turn);
    if (s->aec)
        aec_stop_playback(s->aec, session_now(s));
    session_emit_kind(s, EV_INTERRUPTED, turn);
    if (!r->finished) {
        session_log_latency(s, r, 1);
        metrics_turn(s->env->metrics, r->marks.spoken ? "speech" : "text", 1);
    }
    if (s->utt.turn && s->utt.marks.speech_start) /* a spoken barge-in, not a cancel */
        metrics_observe_ms(s->env->metrics, LAT_BARGE_IN, (double)(session_now(s) - s->utt.marks.speech_start) / 1000);

    keep_heard_record(s, r);
    size_t cap = (size_t)s->cfg->llm_max_reply_chars + 1;
    char *heard = malloc(cap);
    if (heard) {
        heard_text(s->heard.texts, s->heard.samples, s->heard.n, r->written_samples, heard, cap);
        if (r->finished) {
            history_set_assistant(s->hist, turn, heard);
            persist_update_reply(s, turn, heard); /* it was stored whole at done */
        } else {
            if (heard[0])
                history_add(s->hist, "assistant", heard, turn);
            persist_commit_turn(s, r, heard, 1);
        }
        free(heard);
    }
    session_end_reply(s);
}

void barge_in_on_played(session *s, uint64_t turn, int64_t ms)
{
    struct heard_record *h = &s->heard;
    if (!turn || turn != h->turn)
        return;
    size_t cap = (size_t)s->cfg->llm_max_reply_chars + 1;
    char *heard = malloc(cap);
    if (!heard)
        return;
    size_t budget = (size_t)ms * (size_t)s->cfg->tts_sample_rate / 1000;
    heard_text(h->texts, h->samples, h->n, budget, heard, cap);
    history_set_assistant(s->hist, turn, heard);
    persist_update_reply(s, turn, heard);
    free(heard);
}

void barge_in_on_close(session *s)
{
    struct reply *r = &s->reply;
    if (!r->turn || r->finished || r->held)
        return;
    /* The client left mid-reply (a reload, a lost network): store the turn
     * as interrupted, with what reached it, and count it. */
    metrics_turn(s->env->metrics, r->marks.spoken ? "speech" : "text", 1);
    keep_heard_record(s, r);
    size_t cap = (size_t)s->cfg->llm_max_reply_chars + 1;
    char *heard = malloc(cap);
    if (!heard)
        return;
    heard_text(s->heard.texts, s->heard.samples, s->heard.n, r->written_samples, heard, cap);
    persist_commit_turn(s, r, heard, 1);
    free(heard);
}
