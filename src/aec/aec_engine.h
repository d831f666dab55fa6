/* The canceller behind aec.c: one 10 ms frame of microphone audio and the
 * reference audio already aligned to within the engine's own delay search.
 * A new engine is one file that fills this in. */
#ifndef PARLEY_AEC_ENGINE_H
#define PARLEY_AEC_ENGINE_H
#include <stddef.h>
#include <stdint.h>

struct aec_engine {
    const char *name;
    void *(*create)(int sample_rate, int suppression, char *err, size_t errlen);
    /* n = sample_rate / 100. out may be mic. Returns 0, or -1. */
    int (*process)(void *state, const int16_t *mic, const int16_t *ref, int16_t *out, size_t n);
    void (*destroy)(void *state);
};
extern const struct aec_engine aec_engine_webrtc; /* adaptive filter + residual suppressor */
extern const struct aec_engine aec_engine_speex;  /* adaptive filter only */

#endif
