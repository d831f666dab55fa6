/* WebRTC's echo canceller (the "AEC2" of libwebrtc-audio-processing 0.3):
 * an adaptive filter with its own delay-agnostic alignment (about 0 to
 * 150 ms) and a nonlinear suppressor for the residue. The library exports
 * the C symbols but installs no header, so the prototypes are declared here,
 * as they are in echo_cancellation.h of that release. */
#include <stdio.h>

#include "aec/aec_engine.h"

typedef struct {
    int16_t nlpMode;     /* 0 conservative, 1 moderate, 2 aggressive */
    int16_t skewMode;    /* clock drift compensation: off */
    int16_t metricsMode; /* off */
    int delay_logging;   /* off */
} AecConfig;
struct AecCore;
void *WebRtcAec_Create(void);
void WebRtcAec_Free(void *aec);
int32_t WebRtcAec_Init(void *aec, int32_t sample_rate, int32_t sound_card_rate);
int WebRtcAec_set_config(void *aec, AecConfig config);
struct AecCore *WebRtcAec_aec_core(void *aec);
void WebRtcAec_enable_delay_agnostic(struct AecCore *core, int enable);
void WebRtcAec_enable_extended_filter(struct AecCore *core, int enable);
int32_t WebRtcAec_BufferFarend(void *aec, const float *farend, size_t n);
int32_t WebRtcAec_Process(void *aec, const float *const *nearend, size_t num_bands, float *const *out, size_t n,
                          int16_t ms_in_sound_card_buf, int32_t skew);

static void *webrtc_create(int sample_rate, int suppression, char *err, size_t errlen)
{
    if (sample_rate != 8000 && sample_rate != 16000) {
        snprintf(err, errlen, "WebRTC AEC: unsupported sample rate %d (8000 or 16000)", sample_rate);
        return NULL;
    }
    void *inst = WebRtcAec_Create();
    if (!inst || WebRtcAec_Init(inst, sample_rate, sample_rate) != 0) {
        snprintf(err, errlen, "WebRTC AEC: could not initialise");
        if (inst)
            WebRtcAec_Free(inst);
        return NULL;
    }
    /* Delay-agnostic: the filter finds the echo itself within its reach;
     * the extended filter gives it a longer tail (rooms, speakers). */
    WebRtcAec_enable_delay_agnostic(WebRtcAec_aec_core(inst), 1);
    WebRtcAec_enable_extended_filter(WebRtcAec_aec_core(inst), 1);
    AecConfig c = {.nlpMode = (int16_t)suppression};
    if (WebRtcAec_set_config(inst, c) != 0) {
        snprintf(err, errlen, "WebRTC AEC: suppression level %d rejected", suppression);
        WebRtcAec_Free(inst);
        return NULL;
    }
    return inst;
}

static int webrtc_process(void *state, const int16_t *mic, const int16_t *ref, int16_t *out, size_t n)
{
    float far[160], near[160], clean[160];
    if (n > 160)
        return -1;
    for (size_t i = 0; i < n; i++) {
        far[i] = ref[i];
        near[i] = mic[i];
    }
    const float *nearp = near;
    float *cleanp = clean;
    if (WebRtcAec_BufferFarend(state, far, n) != 0 || WebRtcAec_Process(state, &nearp, 1, &cleanp, n, 0, 0) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        float v = clean[i];
        out[i] = (int16_t)(v > 32767.f ? 32767 : v < -32768.f ? -32768 : v);
    }
    return 0;
}

static void webrtc_destroy(void *state) { WebRtcAec_Free(state); }

const struct aec_engine aec_engine_webrtc = {"webrtc", webrtc_create, webrtc_process, webrtc_destroy};
