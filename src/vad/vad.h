/* Voice activity detection: a per-frame speech classifier (engine) under an
 * endpointer that confirms speech start, keeps a pre-roll, and declares the
 * end of an utterance after a run of silence. */
#ifndef PARLEY_VAD_H
#define PARLEY_VAD_H
#include <stddef.h>
#include <stdint.h>

struct vad_params;

/* A frame classifier. A new engine is one file that fills this in. */
struct vad_engine {
    const char *name;
    void *(*create)(const struct vad_params *p, char *err, size_t errlen);
    /* 1 voiced, 0 unvoiced, -1 error. */
    int (*classify)(void *state, const int16_t *frame, size_t n);
    int (*set_aggressiveness)(void *state, int aggressiveness);
    /* Forgets what it heard (an LSTM's state); NULL: nothing to forget. */
    void (*reset)(void *state);
    void (*destroy)(void *state);
};
extern const struct vad_engine vad_engine_webrtc;
#ifdef PARLEY_HAVE_WHISPER
extern const struct vad_engine vad_engine_silero;
#endif
/* The engine of that name (webrtc, silero), or NULL with a reason in err
 * (unknown, or not built in). */
const struct vad_engine *vad_engine_find(const char *name, char *err, size_t errlen);

struct vad_params {
    const struct vad_engine *engine;
    int sample_rate;    /* 8000/16000/32000/48000 for WebRTC */
    int frame_ms;       /* 10, 20 or 30 */
    int aggressiveness; /* 0..3 */
    int min_speech_ms;  /* voiced audio needed to confirm a start */
    int silence_ms;     /* trailing silence that ends an utterance */
    int preroll_ms;     /* audio handed over from before the confirmed start */
    const char *model_path; /* engines with a model file (Silero) */
};
struct vad_params vad_default_params(void);

enum vad_event_kind {
    VAD_EVENT_START, /* speech confirmed: audio = pre-roll up to and including this frame */
    VAD_EVENT_AUDIO, /* a frame inside an utterance */
    VAD_EVENT_END,   /* endpoint: silence_ms of silence after the last voiced frame */
};

struct vad_event {
    enum vad_event_kind kind;
    const int16_t *audio;
    size_t n;
    int voiced;          /* this frame's classification */
    uint64_t frame_index; /* frames since vad_new; times are index × frame_ms */
};

typedef void (*vad_event_fn)(void *ud, const struct vad_event *ev);
typedef struct vad vad;

vad *vad_new(const struct vad_params *params, char *err, size_t errlen);
void vad_free(vad *v);
/* Feeds any number of samples; events are delivered synchronously. Returns -1
 * if the engine failed. */
int vad_process(vad *v, const int16_t *pcm, size_t n, vad_event_fn fn, void *ud);
/* The same, deciding on one signal and handing over another, sample for
 * sample: echo cancellation gives the decisions a strongly suppressed signal
 * and the recogniser one that keeps the user's words whole. */
int vad_process_pair(vad *v, const int16_t *decide, const int16_t *hear, size_t n, vad_event_fn fn, void *ud);
/* How a speech start is confirmed. Barge-in uses a stricter one while the
 * assistant talks: a higher aggressiveness, a longer run, a level floor
 * (frames quieter than min_level_dbfs do not count: the assistant's own voice
 * leaking back from a speaker is quieter than the user), and shorter gaps (a
 * run of clicks does not add up to speech). */
struct vad_confirmation {
    int aggressiveness;
    int min_speech_ms;
    double min_level_dbfs; /* -200: no floor */
    int max_gap_ms;        /* unvoiced run a candidate start survives */
};
/* Applies from the next frame. */
void vad_set_confirmation(vad *v, const struct vad_confirmation *c);
/* Ends the current utterance now (push-to-talk release, max duration): the
 * endpointer returns to silence without emitting VAD_EVENT_END. */
void vad_reset_utterance(vad *v);
int vad_in_speech(const vad *v);
int vad_frame_ms(const vad *v);

/* A second opinion on one stretch of audio: is it speech at all? Barge-in
 * asks Silero about an onset the WebRTC VAD confirmed, since a cough or a
 * clatter is voiced enough for WebRTC but not speech to Silero. */
typedef struct vad_opinion vad_opinion;
vad_opinion *vad_opinion_new(const struct vad_engine *engine, const char *model_path, int aggressiveness, char *err,
                             size_t errlen);
void vad_opinion_free(vad_opinion *o);
/* Starts a new stretch. */
void vad_opinion_reset(vad_opinion *o);
/* Feeds 16 kHz audio; 1 once any part of the stretch was speech, 0 not
 * (yet), -1 if the engine failed. */
int vad_opinion_feed(vad_opinion *o, const int16_t *pcm, size_t n);

#endif
