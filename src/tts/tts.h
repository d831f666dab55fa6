/* Speech synthesis: engines behind a vtable, loaded once per process, and a
 * per-phrase fallback chain with a time limit per engine. Runs on workers. */
#ifndef PARLEY_TTS_H
#define PARLEY_TTS_H
#include <stddef.h>
#include <stdint.h>

#include "core/audio.h"

struct tts_params {
    const char *chain;        /* "flite,espeak": the engines to load, in fallback order */
    double timeout_s;         /* per engine, per phrase */
    int out_rate;             /* every phrase is delivered at this rate */
    const char *flite_voice;  /* "slt" */
    const char *espeak_voice; /* "en-us" */
    /* openai: an OpenAI-compatible speech server */
    const char *openai_url, *openai_key, *openai_model, *openai_voice;
    int openai_rate; /* of the raw PCM it sends (24000 for OpenAI) */
    /* Instances of each engine that allows several (one per worker thread):
     * sessions' phrases are then synthesised at the same time. */
    int instances;
};
struct tts_params tts_default_params(void);

/* Receives audio as it is synthesised; returns nonzero to stop the engine.
 * n may be 0 (pcm NULL): a heartbeat that only asks whether to stop. */
typedef int (*tts_sink_fn)(void *ud, const int16_t *pcm, size_t n, int sample_rate);

/* An engine. A new engine is one file that fills this in. synthesize returns
 * 0 when done, 1 when the sink stopped it, -1 on failure (err set). Calls on
 * one instance are serialised by the chain, so engines need not be
 * reentrant. */
struct tts_engine {
    const char *name;
    /* 1: separate instances (create called again) may speak at once. flite's
     * voices are process-wide singletons and espeak-ng has global state, so
     * they are one instance each; a remote engine is one per worker. */
    int parallel;
    void *(*create)(const struct tts_params *p, char *err, size_t errlen);
    void (*destroy)(void *state);
    int (*synthesize)(void *state, const char *text, tts_sink_fn sink, void *ud, char *err, size_t errlen);
};
extern const struct tts_engine tts_engine_flite;
extern const struct tts_engine tts_engine_espeak;
extern const struct tts_engine tts_engine_openai;

#define TTS_MAX_ENGINES 8
#define TTS_MAX_INSTANCES 16

typedef struct tts tts;
tts *tts_new(const struct tts_params *p, char *err, size_t errlen);
void tts_free(tts *t);
int tts_engine_count(const tts *t);
const char *tts_engine_name(const tts *t, int index);
/* Parses "espeak,flite" into indices of loaded engines. Returns the count, or
 * -1 with err set for a name that is not loaded. */
int tts_parse_chain(const tts *t, const char *names, int *order, int max, char *err, size_t errlen);

struct tts_result {
    struct pcm_buf pcm;  /* at tts_params.out_rate, when not streamed */
    int engine;          /* index of the engine that spoke, -1 if none */
    char failures[512];  /* "flite: timed out; " … for the engines that did not */
};

/* Streamed audio at tts_params.out_rate, as the engine produces it. */
typedef void (*tts_audio_fn)(void *ud, const int16_t *pcm, size_t n);

/* Speaks text with the first engine of order[] that succeeds.
 * cancelled() is polled while synthesising; when it returns nonzero the call
 * gives up at once and returns 1. With on_audio, audio is streamed to it as
 * it comes (the first chunk within a few ms) and result.pcm stays empty; an
 * engine that fails after it has streamed audio is not retried, since the
 * listener has heard part of the phrase already. Returns 0 when an engine
 * spoke, -1 when every engine failed (result.failures says why). */
int tts_speak(tts *t, const int *order, int n, const char *text, int (*cancelled)(void *ud), tts_audio_fn on_audio,
              void *ud, struct tts_result *result);
void tts_result_free(struct tts_result *r);

#endif
