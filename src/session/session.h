/* A conversation over one connection: audio in → VAD → ASR → LLM → phrases →
 * TTS → audio out, as a turn state machine on the network thread. Slow work
 * runs elsewhere and comes back as mail; stale mail (an old turn) is dropped. */
#ifndef PARLEY_SESSION_H
#define PARLEY_SESSION_H
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "asr/asr.h"
#include "core/config.h"
#include "core/metrics.h"
#include "core/mailbox.h"
#include "core/workers.h"
#include "llm/llm_check.h"
#include "protocol/outq.h"
#include "protocol/protocol.h"
#include "memory/memory.h"
#include "store/store.h"
#include "tools/tools.h"
#include "tts/tts.h"

/* Who a session acts for: a user id of the store, and the hash of the token
 * it was let in with, so a removed user or a replaced token is noticed at
 * the next turn. With auth off: the local user, and no key. */
struct session_user {
    int64_t id;
    char name[STORE_USER_NAME_MAX + 1];
    unsigned char key[STORE_TOKEN_HASH_LEN];
};

enum session_auth { SESSION_AUTH_OK, SESSION_AUTH_DENIED, SESSION_AUTH_LIMITED };

/* What every session shares; owned by the server. */
struct session_env {
    const struct parley_config *cfg;
    asr_model *asr;
    const struct vad_engine *vad_engine; /* chosen once at start-up */
    const char *vad_model;              /* its model file, if it has one */
    /* A second opinion a barge-in onset must also pass (Silero, when its
     * model is there and the VAD is another engine); NULL: none. Its model
     * is vad_model. */
    const struct vad_engine *barge_confirm;
    tts *tts;
    workers *pool;   /* CPU work: ASR, TTS */
    workers *io;     /* waiting work: tools, memory recall, database reads */
    workers *writer; /* one thread: database writes, in the order made */
    mailbox *mail;
    store *db;                      /* NULL: nothing is persisted */
    const struct memory_params *mem; /* NULL: no long-term memory */
    tools *tools;                   /* NULL: the LLM gets no tools */
    metrics *metrics;
    llm_watch *llm_watch; /* NULL: nothing tells whether the LLM answers */
    llm_connections *llm_connections; /* kept-alive connections to the LLM (may be NULL) */
    /* Monotonic microseconds for marks and deadlines; NULL: the system's
     * (core/clock.h). Tests drive the turn state machine with their own. */
    int64_t (*clock_us)(void *ud);
    void *clock_ud;
    /* How replies reach the LLM; NULL: llm_driver_http (llm/llm.h). */
    const struct llm_driver *llm;
    /* Asked at 'start', before 'ready': 0 admits the session; -1 refuses it
     * (BUSY, with why and when to retry). NULL admits every session. */
    int (*admit)(void *ud, char *why, size_t whylen, int *retry_after_ms);
    void *admit_ud;
    /* Asked at 'start', before admission, with the session's io_ud and the
     * token 'start' carried (NULL: none). Fills *user on SESSION_AUTH_OK.
     * NULL: every session is the local user. */
    enum session_auth (*authenticate)(void *ud, void *io_ud, const char *token, struct session_user *user, char *why,
                                      size_t whylen);
    /* Asked before each turn: 1 while the user and their token stand. */
    int (*authorized)(void *ud, const struct session_user *user);
    void *auth_ud;
};

/* How a session reaches its connection. */
struct session_io {
    /* Queues a message; returns the outq verdict (OUTQ_FULL: the client is
     * not reading and will be dropped by the transport). */
    enum outq_result (*send)(void *ud, int binary, enum out_class cls, uint64_t turn, int phrase, const void *data,
                             size_t len, size_t samples);
    /* Drops the turn's queued audio messages. */
    void (*purge_turn)(void *ud, uint64_t turn);
    /* (Re)arms the session's single timer; session_on_timer fires then. */
    void (*set_timer)(void *ud, int64_t delay_us);
    /* Asks the transport to close after what is queued has been sent. */
    void (*close)(void *ud);
    /* Takes what the session says as typed events (cls and turn as for send);
     * NULL: the session encodes them as protocol v1 JSON and uses send. */
    enum outq_result (*event)(void *ud, const struct proto_event *ev, enum out_class cls, uint64_t turn);
};

typedef struct session session;

session *session_new(const struct session_env *env, const struct session_io *io, void *io_ud, uint64_t id);
void session_free(session *s);
uint64_t session_id(const session *s);
/* Started (admitted), and whether an utterance or a reply is under way. */
int session_started(const session *s);
int session_active(const session *s);
/* For HTTP clients: reply audio is not paced to real time and the reply ends
 * once everything is handed over; text_only skips speech altogether. */
void session_set_headless(session *s, int text_only);
/* For HTTP clients, authenticated by the request, before 'start'. */
void session_set_user(session *s, const struct session_user *user);
/* The system prompt for this session instead of llm.system_prompt (NULL or
 * "": the configured one). -1 when out of memory. */
int session_set_instructions(session *s, const char *text);
/* Tools the client runs itself (OpenAI Realtime's session.tools), as the
 * LLM's tool definitions ([{"type":"function","function":{…}}]); offered
 * beside parley's own. A call of one is announced (tool_call) and waits for
 * session_client_tool_result; NULL: none. -1 when out of memory. */
int session_set_client_tools(session *s, const char *definitions_json);
/* The client's output for a call of one of its tools. -1: no such call is
 * waiting (unknown id, answered already, or past its deadline). */
int session_client_tool_result(session *s, const char *call_id, const char *output);
/* A user turn given as text; spoken: it was transcribed elsewhere (an
 * uploaded clip). Returns -1 before 'start'. */
int session_submit_text(session *s, const char *text, int spoken);

/* Input from the client. Both return -1 when the connection must close. */
int session_on_text(session *s, const char *data, size_t len);
/* A client message already parsed (transports of other protocols, HTTP);
 * it may take msg->text. Returns -1 when the connection must close. */
int session_on_message(session *s, struct proto_client_msg *msg);
int session_on_audio(session *s, const void *data, size_t len);
/* Transport reports: an oversized frame was dropped; an audio frame written. */
void session_on_oversized(session *s, int binary, size_t len, size_t limit);
void session_on_written(session *s, uint64_t turn, int phrase, size_t samples);
void session_on_timer(session *s);
/* The LLM check changed: tell a client that has its 'ready'. */
void session_on_llm_status(session *s, const struct llm_check *c);
/* Server shutdown: tell the client, then close. */
void session_shutdown(session *s, const char *why);

/* Mail from workers and LLM threads. */
enum session_mail_kind {
    MAIL_ASR_PARTIAL,
    MAIL_ASR_FINAL,
    MAIL_ASR_ERROR,
    MAIL_ASR_SPECULATIVE, /* text: the final the utterance will have unless speech resumes */
    MAIL_LLM_TOKEN,
    MAIL_LLM_DONE,
    MAIL_LLM_THINKING, /* the model began reasoning: the client may say so */
    MAIL_TTS_AUDIO, /* a chunk of a phrase's audio, streamed */
    MAIL_TTS_DONE,
    MAIL_LLM_TOOL_CALL, /* json: {"id","name","arguments"} */
    MAIL_TOOL_RESULT,   /* json: {"id","name","turn","result","is_error","changes_data"} */
    MAIL_RECALL,        /* text: the memory block for the context, or NULL */
    MAIL_HISTORY,       /* json: a resumed conversation's messages; status 0: none */
    MAIL_HTTP_DONE,     /* an HTTP request's job: json = answer, status = HTTP status */
    MAIL_STORE_FAILED,  /* a turn could not be stored: text says why */
};

struct session_mail {
    struct mail node;
    uint64_t session_id;
    enum session_mail_kind kind;
    uint64_t turn; /* the utterance's turn; for a reply's work (LLM, TTS, tools, recall): its ticket */
    int phrase;
    int status;
    char *text;
    int64_t audio_ms, cpu_us;
    struct tts_result tts;
    cJSON *json;
};
void session_on_mail(session *s, struct session_mail *m);
/* A message for a session, with a copy of text (len bytes) if given. */
struct session_mail *session_mail_new(uint64_t session_id, enum session_mail_kind kind, uint64_t turn,
                                      const char *text, size_t len);
void session_mail_free(struct mail *m);

#endif
