/* Protocol v1 (docs/protocol.md): parsing and validating client messages,
 * and building server messages. No I/O; the session decides what to do. */
#ifndef PARLEY_PROTOCOL_H
#define PARLEY_PROTOCOL_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/events.h"

#define PROTO_MAX_FRAME (64 * 1024)
/* A typed turn, in characters (the HTTP API's limit too). */
#define PROTO_MAX_TEXT_CHARS 8000

enum proto_client_type { MSG_START, MSG_TEXT, MSG_STOP, MSG_CANCEL, MSG_PLAYED };
/* FMT_OPUS: each binary frame is one Opus packet (docs/protocol.md). */
enum proto_format { FMT_S16LE, FMT_F32LE, FMT_OPUS };

struct proto_client_msg {
    enum proto_client_type type;
    /* start */
    int sample_rate;
    enum proto_format format;
    enum proto_format output_format; /* FMT_S16LE or FMT_OPUS */
    char session_id[64];
    char tts[128];
    char llm_model[128];
    char conversation_id[64]; /* resume this conversation */
    char token[128];          /* a user's token, for browsers (they cannot set headers) */
    int half_duplex; /* -1: not given */
    int echo_cancellation; /* -1: not given */
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

/* POST /v1/chat's body: {"text": "...", "conversation_id": "..."}. 0 with
 * out filled (out->text malloc'd), or -1 with the problem for a 400. */
struct proto_chat {
    char *text;
    char conversation_id[64];
};
int proto_parse_chat(const char *body, size_t len, struct proto_chat *out, char *problem, size_t plen);
/* Labels (session_id, conversation_id): letters, digits, '.', '_', ':', '-'. */
int proto_label_valid(const char *s);
/* Parses one text frame. Returns 0, or -1 with a client-facing reason in err;
 * *fatal says whether the connection must close (not JSON, no or unknown type). */
int proto_parse(const char *data, size_t len, struct proto_client_msg *out, int *fatal, char *err, size_t errlen);
void proto_client_msg_clear(struct proto_client_msg *m);

#endif
