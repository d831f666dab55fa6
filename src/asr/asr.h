/* Streaming speech recognition. An engine (vtable) loads its model once per
 * process; an asr_stream feeds one session's utterances to it on the worker
 * pool, in order, and reports partial and final transcripts by callback. */
#ifndef PARLEY_ASR_H
#define PARLEY_ASR_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/workers.h"

struct asr_params {
    /* "auto" | "pocketsphinx" | "whisper" | "openai". auto: Whisper when
     * this build has whisper.cpp and whisper_model is on disk, otherwise
     * pocketsphinx (asr_model_choice says why). */
    const char *engine;
    /* Where partial transcripts come from when Whisper gives the finals:
     * "pocketsphinx" (incremental and cheap: the default), "whisper"
     * (re-decodes the utterance so far), "off". Other engines: "off" turns
     * their partials off. */
    const char *partials;
    const char *model_dir; /* pocketsphinx: folder holding en-us/ */
    /* pocketsphinx: search settings, as its command line takes them
     * ("-maxhmmpf 3000 -pl_window 5"); NULL or "": its own defaults. */
    const char *pocketsphinx_options;
    int max_decoders;      /* concurrent utterances across all sessions */
    /* openai: an OpenAI-compatible transcription server */
    const char *remote_url, *remote_key, *remote_model, *language;
    int timeout_ms;
    /* whisper: a known model name (base.en) looked up in models_dir, or a path */
    const char *whisper_model, *models_dir;
    int whisper_threads;
    /* whisper: 1 encodes the full 30 s window whatever the utterance's
     * length (whisper.cpp's default; benchmarks compare against it). 0: the
     * window follows the utterance, with a margin. */
    int whisper_full_window;
    /* whisper: 1 keeps every segment as whisper.cpp writes it (no dropping
     * of doubted segments, no clean-up): `parley transcribe --raw`. */
    int whisper_raw;
};
struct asr_params asr_default_params(void);

/* One utterance's decoder. A new engine is one file that fills this in. */
/* What an engine adapts to one speaker as they talk (pocketsphinx: its live
 * cepstral means), kept by their stream (their session): it helps that
 * speaker's next utterances and never reaches another's. len 0: the
 * engine's starting state, the same for every new session. */
#define ASR_ADAPTATION_MAX 512
struct asr_adaptation {
    unsigned char data[ASR_ADAPTATION_MAX];
    size_t len;
};

struct asr_engine {
    const char *name;
    /* 1: an utterance holds one of max_decoders from begin to release (an
     * incremental decoder); utterances beyond them wait their turn, in order
     * of speech start, and catch up on their audio once one frees. 0: the
     * engine bounds its own work (Whisper borrows a state per decode). */
    int holds_decoder;
    void *(*load)(const struct asr_params *p, char *err, size_t errlen);
    void (*unload)(void *model);
    /* Returns NULL with err set when no decoder can be had. cancel (may be
     * NULL) turns nonzero when the utterance is dropped: a long decode should
     * poll it and give up. */
    void *(*begin)(void *model, const atomic_int *cancel, char *err, size_t errlen);
    int (*feed)(void *utt, const int16_t *pcm, size_t n);
    /* Current best hypothesis; "" when none yet. */
    const char *(*hypothesis)(void *utt);
    /* Ends the utterance and returns the final text (valid until release),
     * or NULL when recognition failed (error() says why). */
    const char *(*finish)(void *utt);
    const char *(*error)(void *utt); /* may be NULL: engines that cannot fail */
    void (*release)(void *model, void *utt);
    /* Optional: the speaker's adaptation into a begun utterance, and out of
     * a finished one. */
    void (*adapt_in)(void *utt, const struct asr_adaptation *a);
    void (*adapt_out)(void *utt, struct asr_adaptation *a);
    /* Optional, for engines whose partials are work apart from the final
     * (the hybrid): keep 0 gives them up for the rest of the utterance and
     * frees what they hold. Returns 1 while the utterance has partials
     * (an engine may begin one without them, its partial decoders busy). */
    int (*partials)(void *model, void *utt, int keep);
};
extern const struct asr_engine asr_engine_pocketsphinx;
extern const struct asr_engine asr_engine_openai;
#ifdef PARLEY_HAVE_WHISPER
extern const struct asr_engine asr_engine_whisper;
/* Whisper's finals with pocketsphinx's partials (asr.partials pocketsphinx). */
extern const struct asr_engine asr_engine_hybrid;
#endif

typedef struct asr_model asr_model;
asr_model *asr_model_new(const struct asr_params *p, char *err, size_t errlen);
void asr_model_free(asr_model *m);
/* The engine that gives finals ("whisper", "pocketsphinx", "openai"). */
const char *asr_model_engine_name(const asr_model *m);
/* What was chosen and why: the finals' engine, where partials come from,
 * and for asr.engine auto, why (say, "no Whisper model: ..."). */
struct asr_choice {
    char engine[32], partials[32], why[1600];
};
const struct asr_choice *asr_model_choice(const asr_model *m);
/* Resolves asr.engine auto (and partials) without loading anything. */
void asr_choose(const struct asr_params *p, struct asr_choice *out);
/* The same for a build with or without whisper.cpp (tests both here). */
void asr_choose_as_built(const struct asr_params *p, int have_whisper, struct asr_choice *out);

/* Called on a worker thread. */
struct asr_callbacks {
    void (*partial)(void *ud, uint64_t utterance, const char *text);
    void (*final)(void *ud, uint64_t utterance, const char *text, int64_t audio_ms, int64_t cpu_us);
    void (*error)(void *ud, uint64_t utterance, const char *message);
    /* The speculative final is decoded (asr_stream_speculate): what the
     * final will be unless speech resumes. May be NULL. */
    void (*speculative)(void *ud, uint64_t utterance, const char *text);
};

typedef struct asr_stream asr_stream;
asr_stream *asr_stream_new(asr_model *m, workers *pool, const struct asr_callbacks *cb, void *ud,
                           int partial_interval_ms);
/* Cancels pending work; the stream is freed once its running job returns,
 * and no callback fires after this call returns. */
void asr_stream_free(asr_stream *s);
int asr_stream_begin(asr_stream *s, uint64_t utterance);
int asr_stream_push(asr_stream *s, const int16_t *pcm, size_t n);
/* Finalize: the final callback fires once the queued audio is decoded. */
int asr_stream_end(asr_stream *s);
/* Drop the current utterance without a final; a decode of it that is running
 * is cancelled. */
int asr_stream_abort(asr_stream *s);
/* Speculative final: the utterance has gone quiet, so run the final decode
 * now, while the endpointer still waits out its silence window; audio that
 * follows is kept but not decoded. If speech resumes, asr_stream_resume
 * re-decodes the utterance from its start; if not, asr_stream_end reports
 * the speculative text at once. */
int asr_stream_speculate(asr_stream *s);
/* How many partial decodes the stream has run, and how many decodes were
 * cancelled (a dropped utterance, speech resuming over a speculative final). */
int asr_stream_partial_decodes(asr_stream *s);
int asr_stream_cancelled_decodes(asr_stream *s);
int asr_stream_resume(asr_stream *s);
/* 1 while the stream's work waits (for a free decoder, or for a worker
 * thread) rather than runs: a late final is then queueing, not a fault. */
int asr_stream_waiting(asr_stream *s);
/* Commands the stream has finished so far: a stream whose count moves is
 * working through its backlog, not stuck. */
unsigned asr_stream_progress(asr_stream *s);
/* Utterances waiting for a decoder now, across all streams. */
int asr_model_waiting(asr_model *m);

/* Synchronous whole-buffer transcription (the CLI, uploads), from the
 * engine's starting state. Writes the text to out. */
int asr_transcribe(asr_model *m, const int16_t *pcm, size_t n, char *out, size_t outlen, char *err, size_t errlen);
/* The same for one speaker: starts from *adapt and leaves it updated. */
int asr_transcribe_adapted(asr_model *m, struct asr_adaptation *adapt, const int16_t *pcm, size_t n, char *out,
                           size_t outlen, char *err, size_t errlen);

/* 1 when next differs from prev once case and spacing are ignored. */
int asr_transcript_changed(const char *prev, const char *next);
int asr_count_words(const char *text);

#endif
