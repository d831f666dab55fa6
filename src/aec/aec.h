/* Server-side echo cancellation: removes the assistant's own voice from the
 * microphone stream of a client that plays replies on a loudspeaker without
 * its own canceller. The reference is the reply audio the session handed to
 * the client, placed on the microphone's timeline as the client plays it; a
 * coarse delay estimate (energy-envelope cross-correlation) brings it within
 * reach of the cancellers (WebRTC's delay-agnostic one and speexdsp's linear
 * filter), which do the fine work. */
#ifndef PARLEY_AEC_H
#define PARLEY_AEC_H
#include <stddef.h>
#include <stdint.h>

#include "core/audio.h"

struct aec_params {
    int sample_rate;      /* of the microphone stream it cleans (8000 or 16000) */
    int reference_rate;   /* of the reply audio (resampled when it differs) */
    int max_delay_ms;     /* the longest client delay (playout + room) it looks for */
    int lead_ms;          /* reply audio handed over ahead of playback (tts.playout_lead_ms) */
    int suppression;      /* WebRTC's residual suppressor: 0 conservative, 1 moderate, 2 aggressive */
};
struct aec_params aec_default_params(void);

typedef struct aec aec;

/* Light: the canceller itself is made on the first reference audio. NULL
 * with a reason in err for parameters it cannot serve. */
aec *aec_new(const struct aec_params *p, char *err, size_t errlen);
void aec_free(aec *a);

/* Reply audio handed to the client at now_us: the client plays it after
 * whatever it was handed before, or at once when it has nothing queued. */
void aec_play(aec *a, const int16_t *pcm, size_t n, int64_t now_us);
/* The client stopped playing at now_us (an interruption purged its queue):
 * reference audio after that is dropped. */
void aec_stop_playback(aec *a, int64_t now_us);
/* Microphone audio that arrived at now_us, cleaned in whole 10 ms frames
 * (less than a frame waits for the next call), appended sample for sample
 * to two buffers: out with every trace of echo suppressed (for the VAD and
 * barge-in decisions), words (may be NULL) with the echo only subtracted,
 * so the user's voice over it stays whole (for the recogniser). Away from
 * any reference audio both get the audio as it came. Returns 0, or -1 when
 * a buffer cannot grow. */
int aec_process(aec *a, const int16_t *mic, size_t n, int64_t now_us, struct pcm_buf *out, struct pcm_buf *words);

struct aec_stats {
    int delay_ms;       /* the coarse estimate; -1 while unknown */
    int active;         /* reference audio within reach of the last frame */
    uint64_t frames_cancelled;
    uint64_t frames_muted; /* taken for echo while the delay was still settling */
};
void aec_get_stats(const aec *a, struct aec_stats *out);

#endif
