/* Session internals shared by session.c (the pipeline) and barge_in.c (the
 * interruption policy and mechanics). Not for other modules. */
#ifndef PARLEY_SESSION_INTERNAL_H
#define PARLEY_SESSION_INTERNAL_H
#include <stdatomic.h>

#include "core/audio.h"
#include "llm/llm.h"
#include "phrase/phrase.h"
#include "server/protocol.h"
#include "session/history.h"
#include "session/session.h"
#include "vad/vad.h"

enum assistant_state { ST_LISTENING, ST_THINKING, ST_SPEAKING };

/* The turn now allowed to produce audio, shared with TTS jobs so they can
 * stop as soon as a barge-in makes their work stale. */
struct turn_gate {
    atomic_uint_fast64_t current;
    atomic_int refs;
};

struct turn_marks { /* monotonic µs; 0 = not reached */
    int64_t speech_start, speech_end, endpoint, final, first_partial;
    int64_t llm_request, first_token, first_phrase, first_audio, done;
    int64_t asr_audio_ms, asr_cpu_us;
    int spoken;
};

struct phrase_slot {
    char *text;
    int synthesized, failed, announced; /* announced: tts_start sent */
    struct pcm_buf pcm;    /* audio received and not yet queued */
    size_t samples_total;  /* audio received so far, in samples */
    size_t sent;           /* samples queued to the connection */
};

/* The assistant's answer to one turn. turn == 0: none in flight. */
struct reply {
    uint64_t turn;
    struct turn_marks marks;
    llm_request *llm;
    struct llm_ctx *llm_ctx; /* what the LLM callbacks see; freed with the reply */
    int llm_done, paused, finished;
    char *text;
    size_t text_len;
    struct phrase_slot *phrases;
    int nphrases, cap_phrases;
    int playing; /* the phrase whose audio is being paced out */
    int64_t gap_deadline;
    /* Audio is paced: at most playout_lead_ms ahead of real-time playback
     * is queued, so a barge-in has little to purge and "sent" ≈ "heard". */
    int64_t playout_start, pump_deadline;
    size_t sent_samples, written_samples;
};

/* The utterance being captured. turn == 0: none. */
struct utterance {
    uint64_t turn;
    struct turn_marks marks;
    size_t samples;
    int quiet_ms;      /* unvoiced run at the end so far */
    int64_t final_deadline; /* once ended: no final by then → ASR_TIMEOUT */
    int speculated;    /* the ASR final was started early (asr.speculative_final_ms) */
    int barge_pending; /* started over the assistant; waits for min_words */
};

/* Utterances that have ended and wait for their final transcript (finals
 * come back in order; more than a few in flight means the ASR is behind). */
#define MAX_FINISHING 4

/* What was heard of the last interrupted reply, kept for a late "played". */
struct heard_record {
    uint64_t turn;
    int n;
    char **texts;
    size_t *samples;
};

struct session {
    uint64_t id;
    char sid[64];
    const struct session_env *env;
    const struct parley_config *cfg;
    struct session_io io;
    void *io_ud;

    int started, closing;
    int in_rate;
    enum proto_format in_format;
    resampler *rs;
    struct pcm_buf scratch;
    vad *vad;
    asr_stream *asr;
    struct turn_gate *gate;
    history *hist;
    phrase_splitter *splitter;
    int tts_order[TTS_MAX_ENGINES], tts_n;
    char llm_model[128];
    int half_duplex;

    uint64_t last_turn;
    enum assistant_state state;
    struct utterance utt;
    struct utterance finishing[MAX_FINISHING];
    struct reply reply;
    struct heard_record heard;
    int64_t speaking_until;
    int partial_skip_noted;
};

/* session.c */
void session_send_json(session *s, char *json, enum out_class cls, uint64_t turn);
void session_set_state(session *s, enum assistant_state st);
void session_end_reply(session *s);
/* The one-line JSON latency log (STREAM_LOG_LATENCY), for every reply. */
void session_log_latency(session *s, const struct reply *r, int interrupted);
size_t heard_text(char *const *texts, const size_t *samples, int n, size_t budget, char *out, size_t outlen);

/* barge_in.c */
/* A confirmed speech start while a reply is in flight. */
void barge_in_on_speech_start(session *s);
/* A partial of the capturing utterance (min_words rule). */
void barge_in_on_partial(session *s, const char *text);
/* 1 when the utterance should be dropped rather than answered: it began over
 * the assistant and never met min_words. */
int barge_in_is_false_start(session *s, const struct utterance *u, const char *final_text);
/* Stops the reply in flight now: the bookkeeping a barge-in or cancel needs. */
void barge_in_interrupt(session *s);
/* The client's report of how much of a turn it played. */
void barge_in_on_played(session *s, uint64_t turn, int64_t ms);
/* Whether microphone audio should reach the VAD at all now (half duplex). */
int barge_in_mic_open(const session *s);

#endif
