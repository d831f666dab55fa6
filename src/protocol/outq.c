/* outq: a singly linked FIFO with a byte count. Purging walks the list, which
 * is short because the TTS stage keeps at most a few phrases in flight. */
#include "protocol/outq.h"

#include <stdlib.h>
#include <string.h>

struct outq {
    struct out_msg *head, *tail;
    size_t bytes, limit, headroom;
};

outq *outq_new(size_t limit, size_t headroom)
{
    outq *q = calloc(1, sizeof *q);
    if (q) {
        q->limit = limit;
        q->headroom = headroom;
    }
    return q;
}

void outq_free(outq *q)
{
    if (!q)
        return;
    while (q->head)
        outq_pop(q);
    free(q);
}

enum outq_result outq_push(outq *q, int binary, enum out_class cls, uint64_t turn, int phrase, const void *data,
                           size_t len, size_t samples)
{
    if (cls == OUT_PARTIAL && q->bytes + len > q->limit / 2)
        return OUTQ_SKIPPED;
    if (q->bytes + len > q->limit)
        return OUTQ_FULL;
    struct out_msg *m = malloc(sizeof *m + q->headroom + len);
    if (!m)
        return OUTQ_FULL;
    m->next = NULL;
    m->binary = binary;
    m->cls = cls;
    m->turn = turn;
    m->phrase = phrase;
    m->samples = samples;
    m->len = len;
    m->data = (unsigned char *)(m + 1) + q->headroom;
    memcpy(m->data, data, len);
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    q->bytes += len;
    return OUTQ_OK;
}

struct out_msg *outq_peek(outq *q) { return q->head; }

void outq_pop(outq *q)
{
    struct out_msg *m = q->head;
    if (!m)
        return;
    q->head = m->next;
    if (!q->head)
        q->tail = NULL;
    q->bytes -= m->len;
    free(m);
}

int outq_purge_turn(outq *q, uint64_t turn)
{
    int n = 0;
    struct out_msg **pp = &q->head, *prev = NULL;
    while (*pp) {
        struct out_msg *m = *pp;
        if (m->cls == OUT_TURN_AUDIO && m->turn == turn) {
            *pp = m->next;
            q->bytes -= m->len;
            free(m);
            n++;
            continue;
        }
        prev = m;
        pp = &m->next;
    }
    q->tail = prev;
    return n;
}

size_t outq_bytes(const outq *q) { return q->bytes; }
