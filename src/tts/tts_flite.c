/* flite engine with Debian's voices: slt (default), kal, kal16, awb, rms.
 * Audio comes through flite's streaming callback so a timeout or barge-in
 * can stop it mid-phrase; each voice says its own rate (kal is 8 kHz). */
#include <flite/flite.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tts/tts.h"

#define FLITE_VOICE(name)                                                                                       \
    cst_voice *register_cmu_us_##name(const char *voxdir);                                                      \
    void unregister_cmu_us_##name(cst_voice *v);
FLITE_VOICE(slt)
FLITE_VOICE(kal)
FLITE_VOICE(kal16)
FLITE_VOICE(awb)
FLITE_VOICE(rms)

static const struct {
    const char *name;
    cst_voice *(*reg)(const char *voxdir);
    void (*unreg)(cst_voice *v);
} voices[] = {
    {"slt", register_cmu_us_slt, unregister_cmu_us_slt},       {"kal", register_cmu_us_kal, unregister_cmu_us_kal},
    {"kal16", register_cmu_us_kal16, unregister_cmu_us_kal16}, {"awb", register_cmu_us_awb, unregister_cmu_us_awb},
    {"rms", register_cmu_us_rms, unregister_cmu_us_rms},
};
#define NVOICES (sizeof voices / sizeof voices[0])

struct flite_state {
    cst_voice *voice;
    size_t which; /* in voices[] */
    cst_audio_streaming_info *asi; /* owned by the voice's features once set */
};

struct flite_call {
    tts_sink_fn sink;
    void *ud;
    int stopped;
};

static int flite_chunk(const cst_wave *w, int start, int size, int last, cst_audio_streaming_info *asi)
{
    (void)last;
    struct flite_call *call = asi->userdata;
    if (call->sink(call->ud, w->samples + start, (size_t)size, w->sample_rate)) {
        call->stopped = 1;
        return CST_AUDIO_STREAM_STOP;
    }
    return CST_AUDIO_STREAM_CONT;
}

static void *flite_create(const struct tts_params *p, char *err, size_t errlen)
{
    const char *want = p->flite_voice && p->flite_voice[0] ? p->flite_voice : "slt";
    size_t which = 0;
    while (which < NVOICES && strcmp(voices[which].name, want))
        which++;
    if (which == NVOICES) {
        snprintf(err, errlen, "flite: no voice '%s' (slt, kal, kal16, awb or rms)", want);
        return NULL;
    }
    flite_init();
    struct flite_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->which = which;
    s->voice = voices[which].reg(NULL);
    if (!s->voice) {
        snprintf(err, errlen, "flite: cannot load the cmu_us_%s voice", want);
        free(s);
        return NULL;
    }
    s->asi = new_audio_streaming_info();
    s->asi->asc = flite_chunk;
    s->asi->min_buffsize = 1600; /* 100 ms chunks */
    flite_feat_set(s->voice->features, "streaming_info", audio_streaming_info_val(s->asi));
    return s;
}

static void flite_destroy(void *state)
{
    struct flite_state *s = state;
    if (!s)
        return;
    voices[s->which].unreg(s->voice);
    free(s);
}

static int flite_synthesize(void *state, const char *text, tts_sink_fn sink, void *ud, char *err, size_t errlen)
{
    struct flite_state *s = state;
    struct flite_call call = {.sink = sink, .ud = ud};
    s->asi->userdata = &call;
    cst_wave *w = flite_text_to_wave(text, s->voice);
    s->asi->userdata = NULL;
    if (!w && !call.stopped) {
        snprintf(err, errlen, "flite: synthesis failed");
        return -1;
    }
    if (w)
        delete_wave(w);
    return call.stopped ? 1 : 0;
}

const struct tts_engine tts_engine_flite = {
    .name = "flite",
    .create = flite_create,
    .destroy = flite_destroy,
    .synthesize = flite_synthesize,
};
