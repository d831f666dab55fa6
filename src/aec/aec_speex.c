/* speexdsp's echo canceller used as a linear filter only (no residual
 * suppressor): it removes most of the echo and leaves the user's voice
 * whole, which is what a recogniser wants; the decisions use WebRTC's
 * suppressed output (aec_webrtc.c). */
#include <speex/speex_echo.h>
#include <stdio.h>

#include "aec/aec_engine.h"

/* The echo tail it models after the coarse alignment (the engines' own
 * reach plus a room). */
#define SPEEX_TAIL_MS 300

static void *speex_create(int sample_rate, int suppression, char *err, size_t errlen)
{
    (void)suppression;
    SpeexEchoState *st = speex_echo_state_init(sample_rate / 100, sample_rate * SPEEX_TAIL_MS / 1000);
    if (!st) {
        snprintf(err, errlen, "speexdsp echo canceller: could not initialise");
        return NULL;
    }
    speex_echo_ctl(st, SPEEX_ECHO_SET_SAMPLING_RATE, &sample_rate);
    return st;
}

static int speex_process(void *state, const int16_t *mic, const int16_t *ref, int16_t *out, size_t n)
{
    (void)n; /* the frame size given at creation */
    speex_echo_cancellation(state, mic, ref, out);
    return 0;
}

static void speex_destroy(void *state) { speex_echo_state_destroy(state); }

const struct aec_engine aec_engine_speex = {"speex", speex_create, speex_process, speex_destroy};
