/* espeak-ng engine (22.05 kHz). espeak-ng keeps one global synthesiser per
 * process, so this engine is a singleton by nature; the chain serialises it. */
#include <espeak-ng/speak_lib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tts/tts.h"

struct espeak_state {
    int sample_rate;
    char voice[64];
};

struct espeak_call {
    tts_sink_fn sink;
    void *ud;
    int rate;
    int stopped;
};

static int espeak_chunk(short *wav, int n, espeak_EVENT *events)
{
    struct espeak_call *call = events ? events->user_data : NULL;
    if (!call || !wav || n <= 0)
        return call && call->stopped;
    if (call->sink(call->ud, wav, (size_t)n, call->rate))
        call->stopped = 1;
    return call->stopped; /* 1 aborts synthesis */
}

/* espeak-ng 1.51 deadlocks in espeak_Terminate once it has been initialised
 * a second time, so it is initialised once per process and never torn down:
 * its memory stays reachable from its own globals until exit. */
static pthread_once_t espeak_once = PTHREAD_ONCE_INIT;
static int espeak_rate;

static void espeak_init_once(void)
{
    espeak_rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 100, NULL, 0);
    if (espeak_rate > 0)
        espeak_SetSynthCallback(espeak_chunk);
}

static void *espeak_create(const struct tts_params *p, char *err, size_t errlen)
{
    pthread_once(&espeak_once, espeak_init_once);
    int rate = espeak_rate;
    if (rate <= 0) {
        snprintf(err, errlen, "espeak-ng: cannot initialise (is espeak-ng-data installed?)");
        return NULL;
    }
    struct espeak_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->sample_rate = rate;
    snprintf(s->voice, sizeof s->voice, "%s", p->espeak_voice ? p->espeak_voice : "en-us");
    return s;
}

static void espeak_destroy(void *state) { free(state); }

static int espeak_synthesize(void *state, const char *text, tts_sink_fn sink, void *ud, char *err, size_t errlen)
{
    struct espeak_state *s = state;
    /* Set per call: the voice is checked where it is used, and a bad one is a
     * per-phrase failure that the chain recovers from. */
    if (espeak_SetVoiceByName(s->voice) != EE_OK) {
        snprintf(err, errlen, "espeak-ng: voice '%s' not found", s->voice);
        return -1;
    }
    struct espeak_call call = {.sink = sink, .ud = ud, .rate = s->sample_rate};
    espeak_ERROR e = espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, &call);
    if (e != EE_OK && !call.stopped) {
        snprintf(err, errlen, "espeak-ng: synthesis failed (%d)", (int)e);
        return -1;
    }
    return call.stopped ? 1 : 0;
}

const struct tts_engine tts_engine_espeak = {
    .name = "espeak",
    .create = espeak_create,
    .destroy = espeak_destroy,
    .synthesize = espeak_synthesize,
};
