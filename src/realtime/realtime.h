/* The OpenAI Realtime API over a parley session, one per /v1/realtime
 * WebSocket: client events (GA names; beta names where they differ) become
 * session calls, and the session's typed events and reply audio become
 * Realtime server events. It owns no socket: frames go out through send. */
#ifndef PARLEY_REALTIME_H
#define PARLEY_REALTIME_H
#include <stddef.h>
#include <stdint.h>

#include "protocol/events.h"
#include "protocol/outq.h"
#include "session/session.h"

/* The largest client event (an append of ~7 s of 24 kHz PCM in base64). */
#define REALTIME_MAX_EVENT (1024 * 1024)

/* Queues one text frame. samples > 0: it carries that much of turn/phrase's
 * reply audio (at the TTS rate), for the session's playback accounting; len
 * 0: accounting only, nothing is written (a text-only session). */
typedef enum outq_result (*realtime_send_fn)(void *ud, enum out_class cls, uint64_t turn, int phrase,
                                             const char *text, size_t len, size_t samples);

struct realtime_params {
    int tts_rate;       /* the rate of the session's reply audio */
    const char *model;  /* echoed in the session object */
    const char *voice;  /* the TTS engine that speaks (echoed as the voice) */
};
struct realtime_params realtime_default_params(void);

typedef struct realtime realtime;
realtime *realtime_new(const struct realtime_params *p, session *s, realtime_send_fn send, void *ud);
void realtime_free(realtime *r);
/* Opens the session as protocol v1's start does (authentication, admission);
 * session.created follows its ready. */
int realtime_start(realtime *r);
/* A client event (a text frame). Returns -1 when the connection must close. */
int realtime_on_client(realtime *r, const char *data, size_t len);
/* What the session says (its io.event) and its reply audio (its io.send). */
enum outq_result realtime_on_event(realtime *r, const struct proto_event *ev, enum out_class cls, uint64_t turn);
enum outq_result realtime_on_audio(realtime *r, uint64_t turn, int phrase, const int16_t *pcm, size_t n);

#endif
