/* Silero VAD through whisper.cpp's whisper_vad_* API. Silero scores 512-sample
 * windows (32 ms at 16 kHz) with an LSTM that carries state between calls
 * (whisper_vad_detect_speech_no_reset), so frames of any size are gathered
 * into windows and each frame gets the latest window's speech probability.
 * About 0.25 ms of CPU a window: light enough for the network thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <whisper.h>

#include "core/whisper_log.h"

#include "vad/vad.h"

#define WINDOW 512

/* Aggressiveness 0..3 as probability thresholds (Silero's own default is 0.5). */
static const float thresholds[4] = {0.35f, 0.45f, 0.5f, 0.65f};

struct silero_state {
    struct whisper_vad_context *ctx;
    float pending[WINDOW];
    int npending;
    float threshold, last_prob;
};

/* whisper.cpp logs every call at INFO; keep its warnings and errors only. */
static void *silero_create(const struct vad_params *p, char *err, size_t errlen)
{
    if (p->sample_rate != 16000) {
        snprintf(err, errlen, "Silero VAD: needs 16 kHz audio, not %d Hz", p->sample_rate);
        return NULL;
    }
    if (!p->model_path || !p->model_path[0]) {
        snprintf(err, errlen, "Silero VAD: no model file (vad.silero_model; fetch it with: parley models pull silero-v6.2.0)");
        return NULL;
    }
    FILE *f = fopen(p->model_path, "rb");
    if (!f) {
        snprintf(err, errlen, "Silero VAD: cannot open %s (fetch it with: parley models pull silero-v6.2.0)",
                 p->model_path);
        return NULL;
    }
    fclose(f);
    whisper_log_quiet();
    struct whisper_vad_context_params cp = whisper_vad_default_context_params();
    cp.n_threads = 1;
    cp.use_gpu = false;
    struct silero_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ctx = whisper_vad_init_from_file_with_params(p->model_path, cp);
    if (!s->ctx) {
        snprintf(err, errlen, "Silero VAD: %s is not a Silero VAD model in ggml format", p->model_path);
        free(s);
        return NULL;
    }
    /* The LSTM's state buffers come uninitialised from the allocator: the
     * same audio then scored differently from run to run. */
    whisper_vad_reset_state(s->ctx);
    int a = p->aggressiveness < 0 ? 0 : p->aggressiveness > 3 ? 3 : p->aggressiveness;
    s->threshold = thresholds[a];
    return s;
}

static int silero_classify(void *state, const int16_t *frame, size_t n)
{
    struct silero_state *s = state;
    for (size_t i = 0; i < n; i++) {
        s->pending[s->npending++] = (float)frame[i] / 32768.0f;
        if (s->npending < WINDOW)
            continue;
        s->npending = 0;
        if (!whisper_vad_detect_speech_no_reset(s->ctx, s->pending, WINDOW))
            return -1;
        if (whisper_vad_n_probs(s->ctx) > 0)
            s->last_prob = whisper_vad_probs(s->ctx)[0];
    }
    return s->last_prob >= s->threshold;
}

static int silero_set_aggressiveness(void *state, int aggressiveness)
{
    struct silero_state *s = state;
    if (aggressiveness < 0 || aggressiveness > 3)
        return -1;
    s->threshold = thresholds[aggressiveness];
    return 0;
}

static void silero_reset(void *state)
{
    struct silero_state *s = state;
    whisper_vad_reset_state(s->ctx);
    s->npending = 0;
    s->last_prob = 0;
}

static void silero_destroy(void *state)
{
    struct silero_state *s = state;
    if (!s)
        return;
    whisper_vad_free(s->ctx);
    free(s);
}

const struct vad_engine vad_engine_silero = {
    .name = "silero",
    .create = silero_create,
    .classify = silero_classify,
    .set_aggressiveness = silero_set_aggressiveness,
    .reset = silero_reset,
    .destroy = silero_destroy,
};
