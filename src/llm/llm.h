/* Streaming chat completions. One request runs on its own thread (libcurl),
 * delivers tokens by callback, can be paused (backpressure from TTS) and
 * cancelled (barge-in). Wire formats sit behind a small vtable. */
#ifndef PARLEY_LLM_H
#define PARLEY_LLM_H
#include <stddef.h>

struct llm_message {
    const char *role; /* system | user | assistant */
    const char *content;
};

struct llm_params {
    const char *provider; /* ollama | openai */
    const char *url;      /* base URL, as users write it for the provider */
    const char *model;
    const char *api_key;  /* may be empty */
    int first_token_timeout_ms;
    int timeout_s;        /* the whole reply */
    int max_reply_chars;
};
struct llm_params llm_default_params(void);

/* A provider's wire format. A new provider is one file that fills this in. */
struct llm_wire {
    const char *name;
    const char *path; /* appended to the base URL */
    /* Returns a malloc'd JSON request body. */
    char *(*build_body)(const struct llm_params *p, const struct llm_message *msgs, int n);
    /* Parses one line of the response stream; calls emit for each piece of
     * content. Returns 1 at the end-of-reply marker, 0 to go on, -1 on an
     * error object (message in err). */
    int (*parse_line)(const char *line, size_t len, void (*emit)(void *ud, const char *text, size_t len),
                      void *ud, char *err, size_t errlen);
};
/* The chat body both providers accept: model, stream=true, messages. */
char *llm_json_chat_body(const struct llm_params *p, const struct llm_message *msgs, int n);
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

/* Process-wide set-up for libcurl; call once before any thread starts. */
int llm_global_init(void);

#endif
