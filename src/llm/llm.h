/* Streaming chat completions. One request runs on its own thread (libcurl),
 * delivers tokens by callback, can be paused (backpressure from TTS) and
 * cancelled (barge-in). Wire formats sit behind a small vtable. */
#ifndef PARLEY_LLM_H
#define PARLEY_LLM_H
#include <stddef.h>

struct llm_message {
    const char *role; /* system | user | assistant | tool */
    const char *content;
    /* assistant: the tool calls it made, as a JSON array text of
     * {"id","name","arguments":{…}}; the wire writes its own shape. */
    const char *tool_calls;
    /* tool: which call this answers */
    const char *tool_call_id, *tool_name;
};

/* Keeps HTTP connections to the LLM server open from one request to the next
 * (libcurl's connection and DNS caches, shared between request threads): a
 * reply then skips the TCP (and TLS) handshake. One per process; requests
 * hold a reference, so it outlives the last of them. */
typedef struct llm_connections llm_connections;
llm_connections *llm_connections_new(void);
void llm_connections_free(llm_connections *c);

struct llm_params {
    const char *provider; /* ollama | openai */
    const char *url;      /* base URL, as users write it for the provider */
    const char *model;
    const char *api_key;  /* may be empty */
    int first_token_timeout_ms;
    int timeout_s;        /* the whole reply */
    int max_reply_chars;
    /* Tools the model may call: a JSON array text of
     * {"type":"function","function":{"name","description","parameters"}},
     * the shape both providers take; NULL for none. */
    const char *tools;
    llm_connections *connections; /* NULL: a new connection per request */
    /* Ollama's "think": -1 leaves it to the model, 0 asks it not to (voice
     * wants the first word soon), 1 asks it to. */
    int think;
};
struct llm_params llm_default_params(void);
/* The defaults with the configuration's llm.* on top: one place for both
 * the server (checks) and sessions (replies). */
struct parley_config;
struct llm_params llm_params_from_config(const struct parley_config *cfg);

/* Where a wire's line parser delivers what it finds. */
struct llm_sink {
    void (*text)(void *ud, const char *text, size_t len);
    /* Reasoning a thinking model streams before its answer (Ollama
     * message.thinking, OpenAI-style reasoning_content): progress, never
     * part of the reply. */
    void (*thinking)(void *ud, const char *text, size_t len);
    /* A piece of a tool call. OpenAI streams calls as deltas by index (id and
     * name first, then argument fragments); Ollama sends whole calls, given
     * with index -1. */
    void (*tool)(void *ud, int index, const char *id, const char *name, const char *args, size_t args_len);
    void *ud;
};

/* A provider's wire format. A new provider is one file that fills this in. */
struct llm_wire {
    const char *name;
    const char *path; /* appended to the base URL */
    /* Returns a malloc'd JSON request body. */
    char *(*build_body)(const struct llm_params *p, const struct llm_message *msgs, int n);
    /* Parses one line of the response stream into the sink. Returns 1 at the
     * end-of-reply marker, 0 to go on, -1 on an error object (message in err). */
    int (*parse_line)(const char *line, size_t len, const struct llm_sink *sink, char *err, size_t errlen);
};
/* The chat body: model, stream=true, messages and tools. The providers
 * differ only in how tool calls and results are written (openai_shape). */
char *llm_json_chat_body(const struct llm_params *p, const struct llm_message *msgs, int n, int openai_shape);
extern const struct llm_wire llm_wire_ollama;
extern const struct llm_wire llm_wire_openai;
const struct llm_wire *llm_wire_find(const char *provider);

enum llm_status {
    LLM_OK,
    LLM_ERR_TIMEOUT,   /* no first token in time, or the reply took too long */
    LLM_ERR_FAIL,      /* unreachable, HTTP error, malformed or dropped stream */
    LLM_CANCELLED,
};

/* Called on the request's thread, never after llm_request_free returns. */
struct llm_callbacks {
    void (*token)(void *ud, const char *text, size_t len);
    /* The model started reasoning (once per request). May be NULL. */
    void (*thinking)(void *ud);
    /* Each tool call the reply asked for, whole, before done(LLM_OK).
     * arguments is a JSON object's text. May be NULL: calls are ignored. */
    void (*tool_call)(void *ud, const char *id, const char *name, const char *arguments);
    void (*done)(void *ud, enum llm_status status, const char *message);
};

typedef struct llm_request llm_request;
/* Starts the request on a new thread. msgs are copied. */
llm_request *llm_request_start(const struct llm_params *p, const struct llm_message *msgs, int n,
                               const struct llm_callbacks *cb, void *ud, char *err, size_t errlen);
/* Releases the caller's handle. A request still running is cancelled: no
 * callback fires after this returns, and the transfer is aborted soon after. */
void llm_request_free(llm_request *r);
/* Holds the stream (the thread stops reading) until resumed. */
void llm_request_pause(llm_request *r, int paused);

/* Requests as a session makes them, behind a vtable so that a test can put a
 * scripted model in the server's place. llm_driver_http: the functions above. */
struct llm_driver {
    llm_request *(*start)(const struct llm_params *p, const struct llm_message *msgs, int n,
                          const struct llm_callbacks *cb, void *ud, char *err, size_t errlen);
    void (*pause)(llm_request *r, int paused);
    void (*free)(llm_request *r);
};
extern const struct llm_driver llm_driver_http;

#define LLM_MAX_TOOL_CALLS 8         /* per reply; more is an error */
#define LLM_MAX_TOOL_ARGS (64 * 1024) /* bytes of arguments per call */

/* Process-wide set-up for libcurl; call once before any thread starts. */
int llm_global_init(void);

#endif
