/* flite engine with the cmu_us_slt voice (16 kHz). Audio comes through
 * flite's streaming callback so a timeout or barge-in can stop it mid-phrase. */
#include <flite/flite.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tts/tts.h"

cst_voice *register_cmu_us_slt(const char *voxdir);
void unregister_cmu_us_slt(cst_voice *v);

struct flite_state {
    cst_voice *voice;
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
    if (p->flite_voice && strcmp(p->flite_voice, "slt")) {
        snprintf(err, errlen, "flite: voice '%s' is not built in (only slt)", p->flite_voice);
        return NULL;
    }
    flite_init();
    struct flite_state *s = calloc(1, sizeof *s);
    s->voice = register_cmu_us_slt(NULL);
    if (!s->voice) {
        snprintf(err, errlen, "flite: cannot load the cmu_us_slt voice");
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
    unregister_cmu_us_slt(s->voice);
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
