/* Session internals shared by its parts: session.c (dispatch, state,
 * deadlines), utterance.c, reply.c, barge_in.c (the interruption policy),
 * tool_calls.c and persist.c. Not for other modules. */
#ifndef PARLEY_SESSION_INTERNAL_H
#define PARLEY_SESSION_INTERNAL_H
#include <stdatomic.h>

#include "aec/aec.h"
#include "codec/opus_io.h"
#include "core/audio.h"
#include "core/clock.h"
#include "llm/llm.h"
#include "phrase/phrase.h"
#include "protocol/protocol.h"
#include "session/endpoint.h"
#include "session/history.h"
#include "session/session.h"
#include "vad/vad.h"

enum assistant_state { ST_LISTENING, ST_THINKING, ST_SPEAKING };

/* The reply (its ticket) now allowed to produce work, shared with TTS and
 * tool jobs so they can stop as soon as a barge-in makes their work stale. */
struct turn_gate {
    atomic_uint_fast64_t current;
    atomic_int refs;
};
/* Drops a job's reference; the last one frees the gate. */
void gate_release(struct turn_gate *g);

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
    /* What its work carries (mail, jobs, the gate): new for every reply, so
     * the work of a reply dropped before it was shown (a speculative start)
     * is stale for a later reply to the same turn. */
    uint64_t ticket;
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

    /* What the turn answers, for the conversation store. */
    char *user_text;
    int64_t user_ms;   /* wall clock */
    /* Before the LLM request: recalled memories (waiting_recall: not yet). */
    int waiting_recall;
    char *memory_block;
    /* Tool rounds (tool_calls.c): this round's calls, and the assistant
     * tool_calls and tool results so far, resent with each continuation. */
    cJSON *round_calls;  /* [{"id","name","arguments","done"}] */
    cJSON *tool_msgs;    /* [{"role","content","tool_calls"|"tool_call_id","tool_name"}] */
    cJSON *tool_log;     /* [{"name","arguments","result","is_error"}]: stored with the turn */
    size_t round_start;  /* where this round's text begins in text */
    int tool_rounds, tools_running;
    int64_t tool_deadline;
    /* A speculative start: the request went out on the speculative final,
     * inside the silence window. Nothing of it reaches the client, the
     * history or the store until the endpoint confirms the words
     * (reply_show); speech resuming drops it unseen (reply_discard). */
    int held;
    int tools_waiting; /* held when the model asked for tools: they run once shown */
};

/* The utterance being captured. turn == 0: none. */
struct utterance {
    uint64_t turn;
    struct turn_marks marks;
    size_t samples;
    int quiet_ms;      /* unvoiced run at the end so far */
    int64_t final_deadline; /* once ended: no final by then → ASR_TIMEOUT */
    unsigned asr_progress;  /* the recogniser's progress when the deadline was set */
    int speculated;    /* the ASR final was started early (asr.speculative_final_ms) */
    int barge_pending; /* started over the assistant; waits for speech (Silero) or min_words */
    char words[256];   /* the latest words heard (a partial, the speculative final): they set the window */
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
    struct session_user user;
    char reply_key[20]; /* random: marks this session's stored replies (store_set_reply_text) */
    int64_t start_deadline; /* a client that never sends 'start' is closed then */
    int in_rate;
    enum proto_format in_format;
    resampler *rs;
    struct pcm_buf scratch;
    opus_reader *opus_in;   /* format "opus": the microphone's packets */
    struct pcm_buf decoded; /* one packet's PCM */
    opus_writer *opus_out;  /* output_format "opus"; NULL: pcm_s16le */
    int out_rate;           /* the reply audio's rate, as the client gets it */
    aec *aec;             /* NULL: echo cancellation off */
    struct pcm_buf clean; /* scratch after echo cancellation, for the VAD's decisions */
    struct pcm_buf words; /* the same span for the recogniser (aec_process) */
    vad *vad;
    vad_opinion *opinion; /* env.barge_confirm's, made at the first barge-in onset */
    asr_stream *asr;
    struct turn_gate *gate;
    history *hist;
    phrase_splitter *splitter;
    int tts_order[TTS_MAX_ENGINES], tts_n;
    char llm_model[128];
    char *instructions; /* session_set_instructions; NULL: llm.system_prompt */
    char *client_tools; /* session_set_client_tools: the LLM's definitions */
    int half_duplex;

    uint64_t last_turn;
    uint64_t last_ticket; /* of replies */
    enum assistant_state state;
    struct utterance utt;
    struct utterance finishing[MAX_FINISHING];
    struct reply reply;
    struct heard_record heard;
    int64_t speaking_until;
    int partial_skip_noted;
    char conversation_id[64];
    int resuming; /* a stored conversation is loading; 'ready' waits for it */
    char *text_before_ready; /* a typed turn sent while resuming: answered after the history */
    uint64_t replied_turn;   /* the newest turn a reply was started for */
    int headless, text_only; /* an HTTP client: see session_set_headless */
};

/* session.c */
/* Now, on the session's clock (session_env.clock_us). */
static inline int64_t session_now(const session *s)
{
    return s->env->clock_us ? s->env->clock_us(s->env->clock_ud) : clock_now_us();
}
/* The session's way to the LLM (session_env.llm). */
static inline const struct llm_driver *session_llm(const session *s)
{
    return s->env->llm ? s->env->llm : &llm_driver_http;
}
/* Says ev to the client (cls and turn: how the transport queues it). */
void session_emit(session *s, const struct proto_event *ev, enum out_class cls, uint64_t turn);
/* An info message; a bare event of kind (speech_started, thinking, …). */
void session_emit_info(session *s, const char *message);
void session_emit_kind(session *s, enum proto_event_kind kind, uint64_t turn);
void session_set_state(session *s, enum assistant_state st);
void session_end_reply(session *s);
/* The one-line JSON latency log (STREAM_LOG_LATENCY), for every reply. */
void session_log_latency(session *s, const struct reply *r, int interrupted);
size_t heard_text(char *const *texts, const size_t *samples, int n, size_t budget, char *out, size_t outlen);

void session_send_ready(session *s);
/* (Re)arms the session timer for the earliest deadline pending. */
void session_arm_timer(session *s);
/* The latency marks relative to the end of speech; as a JSON object's text
 * for the store and the latency log. */
void session_metrics(const struct turn_marks *m, struct proto_metrics *out);
void session_metrics_json(const struct turn_marks *m, char *out, size_t outlen);
void session_new_conversation_id(char *out, size_t outlen);
/* Starts (or continues, after tool results) the LLM request of the reply. */
void session_request_llm(session *s);
void session_send_error(session *s, const char *code, const char *message, int recoverable);
/* Speaks what the splitter holds (the model stopped to call a tool). */
void session_flush_phrases(session *s);
/* The reply ends: flush and send assistant_text end, then finish. */
void session_reply_llm_finished(session *s);

/* session.c */
/* Posts mail for this session (from workers and LLM threads). */
void session_post(session *s, enum session_mail_kind kind, uint64_t turn, const char *text, size_t len);

/* reply.c: LLM → phrases → synthesis → paced audio */
void reply_start(session *s, uint64_t turn, const char *user_text, const struct turn_marks *marks);
/* A speculative start: the reply is asked for, and held (struct reply.held). */
void reply_start_held(session *s, uint64_t turn, const char *user_text, const struct turn_marks *marks);
/* The endpoint confirmed the held reply's words: show what it has so far,
 * with the final's marks, and go on as any reply. */
void reply_show(session *s, const struct turn_marks *final);
/* Drops a held reply unseen (the user spoke on). */
void reply_discard(session *s);
void reply_free(session *s);
/* Queues the reply's audio up to the playout lead. */
void reply_pump_audio(session *s);
/* Ends the reply once everything is written (done, history, store). */
void reply_maybe_finish(session *s);
void reply_update_pause(session *s);
void reply_on_llm_token(session *s, struct session_mail *m);
void reply_on_llm_done(session *s, struct session_mail *m);
void reply_on_tool_call(session *s, struct session_mail *m);
void reply_on_recall(session *s, struct session_mail *m);
void reply_on_tts(session *s, struct session_mail *m);

/* utterance.c: VAD → ASR → a turn */
void utterance_end(session *s);
void utterance_on_vad_event(void *ud, const struct vad_event *ev);
void utterance_on_final(session *s, struct session_mail *m);
void utterance_on_asr_partial(void *ud, uint64_t utt, const char *text);
void utterance_on_asr_final(void *ud, uint64_t utt, const char *text, int64_t audio_ms, int64_t cpu_us);
void utterance_on_asr_error(void *ud, uint64_t utt, const char *message);
void utterance_on_asr_speculative(void *ud, uint64_t utt, const char *text);
void utterance_on_speculative(session *s, struct session_mail *m);

/* tool_calls.c */
/* An LLM round ended with tool calls: run them. Returns 0 if it did (the
 * reply goes on when the results are in), -1 if the turn must end now. */
int tool_calls_start(session *s);
/* The tools offered to the LLM: parley's (when enabled) and the client's. */
char *tool_calls_definitions(const session *s);
void tool_calls_on_result(session *s, struct session_mail *m);
/* The tool deadline passed: answer the missing calls with an error. */
void tool_calls_on_timer(session *s);
/* The context of this turn's tool rounds, appended to msgs; returns count. */
int tool_calls_context(const struct reply *r, struct llm_message *msgs, int max);

/* persist.c: the conversation store */
/* Resume a stored conversation; 'ready' goes out when it is loaded. */
void persist_resume(session *s, const char *conversation_id);
void persist_on_history(session *s, struct session_mail *m);
/* Look up the memories for this reply; MAIL_RECALL comes back. Returns -1
 * when recall is off (the LLM request can start at once). */
int persist_recall(session *s);
/* Writes the turn (user, tools, assistant as heard) once it has ended. */
void persist_commit_turn(session *s, const struct reply *r, const char *assistant_text, int interrupted);
/* A late "played" made the stored text of an interrupted reply more exact. */
void persist_update_reply(session *s, uint64_t turn, const char *text);

/* barge_in.c */
/* An utterance began (a confirmed speech start) while a reply is in flight:
 * audio is its onset, candidate_n samples of it past the pre-roll. */
void barge_in_on_speech_start(session *s, const int16_t *audio, size_t n, size_t candidate_n);
/* More of that utterance. */
void barge_in_on_audio(session *s, const int16_t *audio, size_t n);
/* A partial of the capturing utterance (min_words rule). */
void barge_in_on_partial(session *s, const char *text);
/* Nonzero when the utterance should be dropped rather than answered: it
 * began over the assistant and never met min_words (1), or never sounded
 * like speech to the second opinion (2). */
int barge_in_is_false_start(session *s, const struct utterance *u, const char *final_text);
/* Stops the reply in flight now: the bookkeeping a barge-in or cancel needs. */
void barge_in_interrupt(session *s);
/* The client's report of how much of a turn it played. */
void barge_in_on_played(session *s, uint64_t turn, int64_t ms);
/* The session closes with a reply in flight: store it as interrupted. */
void barge_in_on_close(session *s);
/* Whether microphone audio should reach the VAD at all now (half duplex). */
int barge_in_mic_open(const session *s);

#endif
