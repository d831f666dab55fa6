/* The endpointer: frames in, speech start/audio/end events out. Independent
 * of the engine, so WebRTC and later classifiers share one contract. */
#include "vad/vad.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/audio.h"

/* Longest audio handed over at a start, beyond the pre-roll. */
#define MAX_CANDIDATE_MS 2000
/* WebRTC's classifier keeps saying "voiced" for ~100 ms after speech stops
 * (its hangover). Inside an utterance, a frame this far below the loudest
 * one so far counts as silence, so the endpoint is not delayed by that
 * hangover. Real rooms whose noise floor is closer than this to the speech
 * simply keep the classifier's own decision. */
#define QUIET_BELOW_PEAK_DB 35.0

struct vad {
    struct vad_params p;
    void *engine_state;
    size_t frame_len;
    int16_t *frame;       /* what is classified */
    int16_t *heard_frame; /* what the events carry (vad_process_pair) */
    size_t frame_fill;
    uint64_t frame_index;

    struct pcm_buf hist; /* recent audio, for the pre-roll */
    size_t hist_cap;

    int in_speech;
    double peak_db; /* loudest frame of the current candidate or utterance */
    int candidate_voiced_ms, candidate_gap_ms;
    uint64_t candidate_start;
    int silence_ms;
    struct vad_confirmation conf; /* the confirmation in force */
};

struct vad_params vad_default_params(void)
{
    return (struct vad_params){
        .engine = &vad_engine_webrtc,
        .sample_rate = 16000,
        .frame_ms = 20,
        .aggressiveness = 2,
        .min_speech_ms = 100,
        .silence_ms = 500,
        .preroll_ms = 300,
    };
}

vad *vad_new(const struct vad_params *params, char *err, size_t errlen)
{
    struct vad_params p = params ? *params : vad_default_params();
    if (!p.engine)
        p.engine = &vad_engine_webrtc;
    vad *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->p = p;
    v->frame_len = (size_t)p.sample_rate * (size_t)p.frame_ms / 1000;
    v->frame = calloc(v->frame_len, sizeof *v->frame);
    v->heard_frame = calloc(v->frame_len, sizeof *v->heard_frame);
    v->hist_cap = (size_t)p.sample_rate * (size_t)(p.preroll_ms + MAX_CANDIDATE_MS) / 1000 + v->frame_len;
    /* A candidate start survives a 60 ms gap (a plosive, a pause between
     * syllables) before its voiced count resets. */
    v->conf = (struct vad_confirmation){p.aggressiveness, p.min_speech_ms, -200, 60};
    v->engine_state = p.engine->create(&p, err, errlen);
    if (!v->frame || !v->heard_frame || !v->engine_state) {
        vad_free(v);
        return NULL;
    }
    return v;
}

void vad_free(vad *v)
{
    if (!v)
        return;
    if (v->engine_state)
        v->p.engine->destroy(v->engine_state);
    free(v->frame);
    free(v->heard_frame);
    pcm_free(&v->hist);
    free(v);
}

void vad_set_confirmation(vad *v, const struct vad_confirmation *c)
{
    int aggressiveness = v->conf.aggressiveness;
    if (c->aggressiveness != aggressiveness && v->p.engine->set_aggressiveness(v->engine_state, c->aggressiveness) == 0)
        aggressiveness = c->aggressiveness;
    v->conf = *c;
    v->conf.aggressiveness = aggressiveness;
}

void vad_reset_utterance(vad *v)
{
    v->in_speech = 0;
    v->candidate_voiced_ms = v->candidate_gap_ms = 0;
    v->silence_ms = 0;
}

int vad_in_speech(const vad *v) { return v->in_speech; }
int vad_frame_ms(const vad *v) { return v->p.frame_ms; }

static void remember(vad *v, const int16_t *frame)
{
    if (v->hist.len + v->frame_len > 2 * v->hist_cap) {
        size_t keep = v->hist_cap;
        memmove(v->hist.samples, v->hist.samples + v->hist.len - keep, keep * sizeof *v->hist.samples);
        v->hist.len = keep;
    }
    pcm_append(&v->hist, frame, v->frame_len);
}

static double frame_db(const int16_t *f, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++)
        e += (double)f[i] * f[i];
    return 10 * log10(e / (double)n + 1e-9);
}

static int step(vad *v, vad_event_fn fn, void *ud)
{
    const int fms = v->p.frame_ms;
    int voiced = v->p.engine->classify(v->engine_state, v->frame, v->frame_len);
    if (voiced < 0)
        return -1;
    double db = frame_db(v->frame, v->frame_len);
    if (voiced && !v->in_speech && db - 90.309 < v->conf.min_level_dbfs)
        voiced = 0; /* too quiet to start speech under this confirmation */
    if (voiced && (v->in_speech || v->candidate_voiced_ms)) {
        if (db > v->peak_db)
            v->peak_db = db;
        else if (v->in_speech && db < v->peak_db - QUIET_BELOW_PEAK_DB)
            voiced = 0;
    } else if (voiced) {
        v->peak_db = db; /* a new candidate */
    }
    remember(v, v->heard_frame);
    struct vad_event ev = {.audio = v->heard_frame, .n = v->frame_len, .voiced = voiced, .frame_index = v->frame_index};

    if (v->in_speech) {
        v->silence_ms = voiced ? 0 : v->silence_ms + fms;
        ev.kind = VAD_EVENT_AUDIO;
        fn(ud, &ev);
        if (v->silence_ms >= v->p.silence_ms) {
            vad_reset_utterance(v);
            ev.kind = VAD_EVENT_END;
            ev.audio = NULL;
            ev.n = 0;
            fn(ud, &ev);
        }
    } else if (voiced) {
        if (v->candidate_voiced_ms == 0)
            v->candidate_start = v->frame_index;
        v->candidate_voiced_ms += fms;
        v->candidate_gap_ms = 0;
        if (v->candidate_voiced_ms >= v->conf.min_speech_ms) {
            uint64_t frames_back = v->frame_index - v->candidate_start + 1 + (uint64_t)(v->p.preroll_ms / fms);
            size_t want = (size_t)frames_back * v->frame_len;
            size_t have = v->hist.len < want ? v->hist.len : want;
            v->in_speech = 1;
            v->silence_ms = 0;
            v->candidate_voiced_ms = 0;
            ev.kind = VAD_EVENT_START;
            ev.audio = v->hist.samples + v->hist.len - have;
            ev.n = have;
            fn(ud, &ev);
        }
    } else if (v->candidate_voiced_ms) {
        v->candidate_gap_ms += fms;
        if (v->candidate_gap_ms > v->conf.max_gap_ms ||
            (int)(v->frame_index - v->candidate_start) * fms > MAX_CANDIDATE_MS)
            v->candidate_voiced_ms = v->candidate_gap_ms = 0;
    }
    v->frame_index++;
    return 0;
}

int vad_process(vad *v, const int16_t *pcm, size_t n, vad_event_fn fn, void *ud)
{
    return vad_process_pair(v, pcm, pcm, n, fn, ud);
}

int vad_process_pair(vad *v, const int16_t *decide, const int16_t *hear, size_t n, vad_event_fn fn, void *ud)
{
    while (n > 0) {
        size_t take = v->frame_len - v->frame_fill;
        if (take > n)
            take = n;
        memcpy(v->frame + v->frame_fill, decide, take * sizeof *decide);
        memcpy(v->heard_frame + v->frame_fill, hear, take * sizeof *hear);
        v->frame_fill += take;
        decide += take;
        hear += take;
        n -= take;
        if (v->frame_fill == v->frame_len) {
            v->frame_fill = 0;
            if (step(v, fn, ud))
                return -1;
        }
    }
    return 0;
}

struct vad_opinion {
    const struct vad_engine *engine;
    void *state;
    int seen; /* speech heard in this stretch */
};

vad_opinion *vad_opinion_new(const struct vad_engine *engine, const char *model_path, int aggressiveness, char *err,
                             size_t errlen)
{
    struct vad_params p = vad_default_params();
    p.engine = engine;
    p.model_path = model_path;
    p.aggressiveness = aggressiveness;
    vad_opinion *o = calloc(1, sizeof *o);
    if (!o) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    o->engine = engine;
    o->state = engine->create(&p, err, errlen);
    if (!o->state) {
        free(o);
        return NULL;
    }
    return o;
}

void vad_opinion_free(vad_opinion *o)
{
    if (!o)
        return;
    o->engine->destroy(o->state);
    free(o);
}

void vad_opinion_reset(vad_opinion *o)
{
    if (o->engine->reset)
        o->engine->reset(o->state);
    o->seen = 0;
}

int vad_opinion_feed(vad_opinion *o, const int16_t *pcm, size_t n)
{
    const size_t step = 320; /* 20 ms: each gets the engine's latest verdict */
    for (size_t off = 0; off < n && !o->seen; off += step) {
        int r = o->engine->classify(o->state, pcm + off, n - off < step ? n - off : step);
        if (r < 0)
            return -1;
        o->seen = r;
    }
    return o->seen;
}

const struct vad_engine *vad_engine_find(const char *name, char *err, size_t errlen)
{
    if (!strcmp(name, "webrtc"))
        return &vad_engine_webrtc;
#ifdef PARLEY_HAVE_WHISPER
    if (!strcmp(name, "silero"))
        return &vad_engine_silero;
#else
    if (!strcmp(name, "silero")) {
        snprintf(err, errlen, "the Silero VAD needs whisper.cpp, which this build lacks (run scripts/setup.sh)");
        return NULL;
    }
#endif
    snprintf(err, errlen, "unknown VAD engine '%s' (webrtc, silero)", name);
    return NULL;
}
