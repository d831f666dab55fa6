/* The utterance: microphone frames through the VAD into the recogniser,
 * partial and final transcripts, and the final turned into a turn (or
 * dropped: a false start, no words, a turn already superseded). */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "session/session_internal.h"

/* ---- worker and LLM-thread callbacks: they only post mail ---- */

void utterance_on_asr_partial(void *ud, uint64_t utt, const char *text)
{
    session_post(ud, MAIL_ASR_PARTIAL, utt, text, strlen(text));
}

void utterance_on_asr_final(void *ud, uint64_t utt, const char *text, int64_t audio_ms, int64_t cpu_us)
{
    session *s = ud;
    struct session_mail *m = session_mail_new(s->id, MAIL_ASR_FINAL, utt, text, strlen(text));
    if (!m)
        return;
    m->audio_ms = audio_ms;
    m->cpu_us = cpu_us;
    mailbox_post(s->env->mail, &m->node);
}

void utterance_on_asr_error(void *ud, uint64_t utt, const char *message)
{
    session_post(ud, MAIL_ASR_ERROR, utt, message, strlen(message));
}

void utterance_on_asr_speculative(void *ud, uint64_t utt, const char *text)
{
    session_post(ud, MAIL_ASR_SPECULATIVE, utt, text, strlen(text));
}

/* ---- the utterance: VAD events → ASR ---- */

void utterance_end(session *s)
{
    struct utterance *u = &s->utt;
    if (!u->turn)
        return;
    u->marks.endpoint = session_now(s);
    if (!u->marks.speech_end)
        u->marks.speech_end = u->marks.endpoint;
    vad_reset_utterance(s->vad);
    session_emit_kind(s, EV_SPEECH_STOPPED, 0);
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

void utterance_on_vad_event(void *ud, const struct vad_event *ev)
{
    session *s = ud;
    struct utterance *u = &s->utt;
    int64_t now = session_now(s);
    switch (ev->kind) {
    case VAD_EVENT_START: {
        memset(u, 0, sizeof *u);
        u->turn = ++s->last_turn;
        u->marks.spoken = 1;
        int64_t candidate_ms = (int64_t)ev->n / 16 - s->cfg->vad_preroll_ms;
        u->marks.speech_start = now - (candidate_ms > 0 ? candidate_ms : 0) * 1000;
        u->marks.speech_end = now;
        u->samples = ev->n;
        session_emit_kind(s, EV_SPEECH_STARTED, 0);
        if (asr_stream_begin(s->asr, u->turn) || asr_stream_push(s->asr, ev->audio, ev->n))
            session_send_error(s, ERR_ASR_FAIL, "the recogniser queue is full", 1);
        if (s->reply.turn) {
            size_t preroll = (size_t)s->cfg->vad_preroll_ms * 16;
            barge_in_on_speech_start(s, ev->audio, ev->n, ev->n > preroll ? ev->n - preroll : 0);
        }
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
        barge_in_on_audio(s, ev->audio, ev->n);
        /* Decode the final while the endpointer waits out its silence window;
         * undo that if the speaker goes on. */
        if (ev->voiced && u->speculated) {
            u->speculated = 0;
            asr_stream_resume(s->asr);
            if (s->reply.held && s->reply.turn == u->turn)
                reply_discard(s); /* the user goes on: the early answer was to half a sentence */
        } else if (!u->speculated && s->cfg->asr_speculative_final_ms > 0 &&
                   u->quiet_ms >= s->cfg->asr_speculative_final_ms && u->quiet_ms < s->cfg->vad_max_silence_ms) {
            u->speculated = 1;
            asr_stream_speculate(s->asr);
        }
        if (!ev->voiced && u->quiet_ms >= endpoint_window_ms(s->cfg, u->words)) {
            utterance_end(s); /* the pause is long enough for these words */
            break;
        }
        if ((int64_t)u->samples / 16 > s->cfg->asr_max_utterance_ms) {
            char msg[128];
            snprintf(msg, sizeof msg, "speech longer than %d ms; answering what was said so far",
                     s->cfg->asr_max_utterance_ms);
            session_send_error(s, ERR_MAX_DURATION, msg, 1);
            utterance_end(s);
        }
        break;
    case VAD_EVENT_END:
        utterance_end(s);
        break;
    }
}

void utterance_on_final(session *s, struct session_mail *m)
{
    struct utterance *u = NULL;
    for (int i = 0; i < MAX_FINISHING; i++)
        if (s->finishing[i].turn && s->finishing[i].turn == m->turn)
            u = &s->finishing[i];
    if (!u)
        return;
    const char *text = m->text ? m->text : "";
    struct turn_marks marks = u->marks;
    marks.final = session_now(s);
    metrics_observe_ms(s->env->metrics, LAT_ASR_FINAL, (double)(marks.final - marks.endpoint) / 1000);
    marks.asr_audio_ms = m->audio_ms;
    marks.asr_cpu_us = m->cpu_us;
    int false_start = barge_in_is_false_start(s, u, text);
    memset(u, 0, sizeof *u);
    if (false_start) {
        session_emit_info(s, false_start == 2 ? "sound over the assistant was not speech (a cough, a clatter); ignored"
                                              : "speech over the assistant was too short to interrupt it; ignored");
        return;
    }
    struct proto_event ev = {.kind = EV_TRANSCRIPT, .turn = m->turn, .text = text, .final = 1};
    session_emit(s, &ev, OUT_CONTROL, 0);
    if (s->reply.held && s->reply.turn == m->turn) {
        if (!strcmp(s->reply.user_text ? s->reply.user_text : "", text)) {
            reply_show(s, &marks); /* asked inside the silence window: the answer is under way */
            return;
        }
        reply_discard(s); /* other words after all: ask again */
    }
    if (!text[0]) {
        session_emit_info(s, "no words recognised");
        return;
    }
    if (m->turn < s->replied_turn) { /* a typed turn came after this speech began: it stands */
        session_emit_info(s, "a newer turn is already answered; this one is not");
        return;
    }
    reply_start(s, m->turn, text, &marks);
}

/* The speculative final is in while the silence window still runs: ask the
 * LLM now, and hold its answer until the endpoint confirms the words. Only
 * for a plain turn: no reply in flight (a barge-in's rules decide then), no
 * utterance still to prove itself over the assistant. */
void utterance_on_speculative(session *s, struct session_mail *m)
{
    struct utterance *u = &s->utt;
    snprintf(u->words, sizeof u->words, "%s", m->text ? m->text : ""); /* the surest words yet */
    if (!s->cfg->llm_speculative_start || !u->speculated || !m->text || !m->text[0] || u->barge_pending ||
        s->reply.turn || m->turn < s->replied_turn)
        return;
    reply_start_held(s, m->turn, m->text, &u->marks);
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
    if (s->opus_in) {
        /* Decoded even while the microphone is closed, so the decoder's
         * state follows the stream. */
        char err[160];
        s->decoded.len = 0;
        if (opus_reader_decode(s->opus_in, data, len, &s->decoded, err, sizeof err)) {
            session_send_error(s, ERR_PROTOCOL, err, 1);
            return 0;
        }
        data = s->decoded.samples;
        len = s->decoded.len * sizeof *s->decoded.samples;
        if (len == 0)
            return 0;
    }
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
    int resampled = resampler_process(s->rs, pcm, n, &s->scratch) == 0;
    if (resampled && s->aec) {
        /* The VAD and barge-in decide on the microphone with every trace
         * of the assistant's own voice suppressed; the recogniser hears the
         * same span with the echo subtracted but the user's words whole. */
        s->clean.len = s->words.len = 0;
        if (aec_process(s->aec, s->scratch.samples, s->scratch.len, session_now(s), &s->clean, &s->words) == 0) {
            if (vad_process_pair(s->vad, s->clean.samples, s->words.samples, s->clean.len, utterance_on_vad_event, s))
                session_send_error(s, ERR_INTERNAL, "voice activity detection failed", 1);
            free(converted);
            return 0;
        }
    }
    if (resampled && vad_process(s->vad, s->scratch.samples, s->scratch.len, utterance_on_vad_event, s))
        session_send_error(s, ERR_INTERNAL, "voice activity detection failed", 1);
    free(converted);
    return 0;
}

