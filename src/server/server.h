/* The network thread: libwebsockets serves the browser client over HTTP and
 * sessions over WebSocket at /ws, and drains the mailbox that workers and
 * LLM threads post to. */
#ifndef PARLEY_SERVER_H
#define PARLEY_SERVER_H
#include <stddef.h>
#include <stdio.h>

#include "asr/asr.h"
#include "core/config.h"
#include "llm/llm.h"
#include "tts/tts.h"

typedef struct server server;

/* Loads the engines (ASR model, TTS chain) and binds the listening socket.
 * Returns NULL with a message in err. */
server *server_new(const struct parley_config *cfg, char *err, size_t errlen);
/* Serves until server_request_stop; then tells every session and closes them. */
int server_run(server *srv);
/* Async-signal-safe. */
void server_request_stop(server *srv);
void server_free(server *srv);

/* `parley doctor`: checks everything a spoken turn needs, as serve would use
 * it, one line each to out. Returns 0 when all of it is there. */
int server_doctor(const struct parley_config *cfg, const char *config_path, FILE *out);

/* The engines' parameters as the configuration gives them (also for the CLI). */
struct asr_params server_asr_params(const struct parley_config *cfg);
struct llm_params server_llm_params(const struct parley_config *cfg);
struct tts_params server_tts_params(const struct parley_config *cfg);

#endif
