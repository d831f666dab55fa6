/* Protocol v1 (docs/protocol.md): parsing and validating client messages,
 * and building server messages. No I/O; the session decides what to do. */
#ifndef PARLEY_PROTOCOL_H
#define PARLEY_PROTOCOL_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "llm/llm_check.h"

#define PROTO_MAX_FRAME (64 * 1024)
/* A typed turn, in characters (the HTTP API's limit too). */
#define PROTO_MAX_TEXT_CHARS 8000

enum proto_client_type { MSG_START, MSG_TEXT, MSG_STOP, MSG_CANCEL, MSG_PLAYED };
enum proto_format { FMT_S16LE, FMT_F32LE };

struct proto_client_msg {
    enum proto_client_type type;
    /* start */
    int sample_rate;
    enum proto_format format;
    char session_id[64];
    char tts[128];
    char llm_model[128];
    char conversation_id[64]; /* resume this conversation */
    char token[128];          /* a user's token, for browsers (they cannot set headers) */
    int half_duplex; /* -1: not given */
    /* text */
    char *text; /* malloc'd; free with proto_client_msg_clear */
    /* played */
    uint64_t turn;
    int64_t ms;
};

/* Error codes of the protocol. */
#define ERR_ASR_TIMEOUT "ASR_TIMEOUT"
#define ERR_ASR_FAIL "ASR_FAIL"
#define ERR_LLM_TIMEOUT "LLM_TIMEOUT"
#define ERR_LLM_FAIL "LLM_FAIL"
#define ERR_TTS_FAIL "TTS_FAIL"
#define ERR_PROTOCOL "PROTOCOL_VIOLATION"
#define ERR_MAX_DURATION "MAX_DURATION_EXCEEDED"
#define ERR_INTERNAL "INTERNAL"
#define ERR_NOT_FOUND "NOT_FOUND"
#define ERR_TOOL_FAIL "TOOL_FAIL"
#define ERR_STORE_FAIL "STORE_FAIL"
#define ERR_BUSY "BUSY"
#define ERR_UNAUTHORIZED "UNAUTHORIZED"
#define ERR_RATE_LIMITED "RATE_LIMITED"

/* Parses one text frame. Returns 0, or -1 with a client-facing reason in err;
 * *fatal says whether the connection must close (not JSON, no or unknown type). */
/* POST /v1/chat's body: {"text": "...", "conversation_id": "..."}. 0 with
 * out filled (out->text malloc'd), or -1 with the problem for a 400. */
struct proto_chat {
    char *text;
    char conversation_id[64];
};
int proto_parse_chat(const char *body, size_t len, struct proto_chat *out, char *problem, size_t plen);
/* Labels (session_id, conversation_id): letters, digits, '.', '_', ':', '-'. */
int proto_label_valid(const char *s);
int proto_parse(const char *data, size_t len, struct proto_client_msg *out, int *fatal, char *err, size_t errlen);
void proto_client_msg_clear(struct proto_client_msg *m);

/* Builders return malloc'd JSON text. */
/* engines: the TTS engines the server has loaded, offered to the client. */
/* llm: the latest LLM check (what the page shows before the user speaks). */
/* What a session's ready message tells the client. */
struct proto_ready_info {
    const char *session_id, *conversation_id;
    int out_rate;
    const char *const *tts_engines;
    int ntts_engines;
    const struct llm_check *llm;
    const char *llm_model;
    const char *asr_engine, *asr_partials; /* who gives finals, and partials */
};
char *proto_ready(const struct proto_ready_info *r);
/* {"checked":true,"ok":false,"model":…,"problem":…,"fix":…}: in ready, in
 * llm_status, and in /health. */
cJSON *proto_llm_object(const struct llm_check *c, const char *model);
/* Sent when the LLM check changes (the server came back, or went away). */
char *proto_llm_status(const struct llm_check *c, const char *model);
char *proto_state(const char *state);
char *proto_simple(const char *type); /* speech_started, speech_stopped */
char *proto_transcript(int final, uint64_t turn, const char *text);
/* The model is reasoning before it answers (a thinking model). */
char *proto_thinking(uint64_t turn);
char *proto_assistant_text(uint64_t turn, const char *status, const char *text);
char *proto_tts_start(uint64_t turn, int phrase, const char *text, int rate);
char *proto_tts_phrase_done(uint64_t turn, int phrase);
char *proto_interrupted(uint64_t turn);
char *proto_error(const char *code, const char *message, int recoverable);
/* BUSY: the server cannot take another session now; try after retry_after_ms. */
char *proto_busy(const char *message, int retry_after_ms);
char *proto_info(const char *message);
/* metrics_json is an object's text, embedded as is. */
char *proto_done(uint64_t turn, const char *metrics_json);
char *proto_tool_call(uint64_t turn, const char *id, const char *name, const char *arguments_json);
char *proto_tool_result(uint64_t turn, const char *id, const char *name, const char *result, int is_error);

#endif
