/* A connection's bounded outgoing queue. Messages carry the turn they belong
 * to, so a barge-in can purge a turn's queued audio before it is written. */
#ifndef PARLEY_OUTQ_H
#define PARLEY_OUTQ_H
#include <stddef.h>
#include <stdint.h>

enum out_class {
    OUT_CONTROL,    /* always queued (until the hard bound) */
    OUT_PARTIAL,    /* skipped first when the client reads slowly */
    OUT_TURN_AUDIO, /* tts_start, audio, tts_phrase_done: purged on barge-in */
};

struct out_msg {
    struct out_msg *next;
    int binary;
    enum out_class cls;
    uint64_t turn;
    int phrase;
    size_t samples; /* audio frames: samples in this message */
    size_t len;
    unsigned char *data; /* points headroom bytes into the allocation */
};

enum outq_result { OUTQ_OK, OUTQ_SKIPPED, OUTQ_FULL };

typedef struct outq outq;
/* headroom: bytes reserved before each payload (LWS_PRE). Partials are
 * skipped past limit/2 bytes; anything is refused past limit. */
outq *outq_new(size_t limit, size_t headroom);
void outq_free(outq *q);
enum outq_result outq_push(outq *q, int binary, enum out_class cls, uint64_t turn, int phrase, const void *data,
                           size_t len, size_t samples);
struct out_msg *outq_peek(outq *q);
/* Removes and frees the head. */
void outq_pop(outq *q);
/* Drops every queued OUT_TURN_AUDIO message of the turn; returns how many. */
int outq_purge_turn(outq *q, uint64_t turn);
size_t outq_bytes(const outq *q);

#endif
