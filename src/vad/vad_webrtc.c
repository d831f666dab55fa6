/* WebRTC VAD engine. libwebrtc-audio-processing exports the C symbols but no
 * header, so the six prototypes are declared here. */
#include <stdio.h>
#include <stdlib.h>

#include "vad/vad.h"

typedef struct WebRtcVadInst VadInst;
VadInst *WebRtcVad_Create(void);
void WebRtcVad_Free(VadInst *handle);
int WebRtcVad_Init(VadInst *handle);
int WebRtcVad_set_mode(VadInst *handle, int mode);
int WebRtcVad_Process(VadInst *handle, int fs, const int16_t *audio_frame, size_t frame_length);
int WebRtcVad_ValidRateAndFrameLength(int rate, size_t frame_length);

struct webrtc_state {
    VadInst *inst;
    int rate;
};

static void *webrtc_create(const struct vad_params *p, char *err, size_t errlen)
{
    int sample_rate = p->sample_rate, aggressiveness = p->aggressiveness;
    if (WebRtcVad_ValidRateAndFrameLength(sample_rate, (size_t)sample_rate / 100) != 0) {
        snprintf(err, errlen, "WebRTC VAD: unsupported sample rate %d", sample_rate);
        return NULL;
    }
    VadInst *inst = WebRtcVad_Create();
    if (!inst || WebRtcVad_Init(inst) || WebRtcVad_set_mode(inst, aggressiveness)) {
        if (inst)
            WebRtcVad_Free(inst);
        snprintf(err, errlen, "WebRTC VAD: cannot initialise (mode %d)", aggressiveness);
        return NULL;
    }
    struct webrtc_state *s = calloc(1, sizeof *s);
    if (!s) {
        WebRtcVad_Free(inst);
        return NULL;
    }
    s->inst = inst;
    s->rate = sample_rate;
    return s;
}

static int webrtc_classify(void *state, const int16_t *frame, size_t n)
{
    struct webrtc_state *s = state;
    return WebRtcVad_Process(s->inst, s->rate, frame, n);
}

static int webrtc_set_aggressiveness(void *state, int aggressiveness)
{
    struct webrtc_state *s = state;
    return WebRtcVad_set_mode(s->inst, aggressiveness);
}

static void webrtc_destroy(void *state)
{
    struct webrtc_state *s = state;
    if (!s)
        return;
    WebRtcVad_Free(s->inst);
    free(s);
}

const struct vad_engine vad_engine_webrtc = {
    .name = "webrtc",
    .create = webrtc_create,
    .classify = webrtc_classify,
    .set_aggressiveness = webrtc_set_aggressiveness,
    .destroy = webrtc_destroy,
};
