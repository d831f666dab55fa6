/* The bounded queues. The outgoing queue: order, the partial-skipping soft
 * bound, the hard bound, and purging one turn's audio without touching
 * anything else. The worker pool: jobs queued first run first. */
#include "check.h"
#include "core/workers.h"
#include "protocol/outq.h"

static char ran[16];
static size_t nran;
static void record(void *arg) { ran[nran++] = *(const char *)arg; }

/* Synthesis queued behind recognition runs before it, in its own order;
 * ordinary jobs keep theirs; the bound counts both. */
static void test_workers_first(void)
{
    struct workers_params p = workers_default_params();
    p.threads = 0; /* jobs run when the test says */
    p.max_queued = 6;
    workers *w = workers_new(&p);
    static const char a = 'a', b = 'b', c = 'c', x = 'X', y = 'Y', z = 'Z';
    CHECK(workers_submit(w, record, (void *)&a) == 0);
    CHECK(workers_submit(w, record, (void *)&b) == 0);
    CHECK(workers_submit_first(w, record, (void *)&x) == 0);
    CHECK(workers_submit_first(w, record, (void *)&y) == 0);
    CHECK(workers_submit(w, record, (void *)&c) == 0);
    CHECK(workers_submit_first(w, record, (void *)&z) == 0);
    CHECK(workers_submit_first(w, record, (void *)&z) == -1); /* full */
    CHECK(workers_get_load(w).queued == 6);
    CHECK(workers_run_pending(w) == 6);
    ran[nran] = 0;
    CHECK_STR(ran, "XYZabc");
    /* Once the first ones have run, a new one goes to the front again. */
    nran = 0;
    CHECK(workers_submit(w, record, (void *)&a) == 0);
    CHECK(workers_submit_first(w, record, (void *)&x) == 0);
    CHECK(workers_submit(w, record, (void *)&b) == 0);
    CHECK(workers_run_pending(w) == 3);
    ran[nran] = 0;
    CHECK_STR(ran, "Xab");
    workers_free(w);
}

int main(void)
{
    test_workers_first();
    outq *q = outq_new(1000, 16);
    char blob[300] = {0};
    CHECK(outq_push(q, 0, OUT_CONTROL, 0, -1, "a", 1, 0) == OUTQ_OK);
    CHECK(outq_push(q, 1, OUT_TURN_AUDIO, 1, 0, blob, 300, 150) == OUTQ_OK);
    CHECK(outq_push(q, 0, OUT_TURN_AUDIO, 2, 0, "b", 1, 0) == OUTQ_OK);
    CHECK(outq_push(q, 1, OUT_TURN_AUDIO, 1, 1, blob, 100, 50) == OUTQ_OK);
    CHECK(outq_bytes(q) == 402);
    /* Past half the bound, partials are skipped but control still goes. */
    CHECK(outq_push(q, 0, OUT_PARTIAL, 0, -1, blob, 200, 0) == OUTQ_SKIPPED);
    CHECK(outq_push(q, 0, OUT_CONTROL, 0, -1, blob, 200, 0) == OUTQ_OK);
    CHECK(outq_push(q, 0, OUT_CONTROL, 0, -1, blob, 300, 0) == OUTQ_OK);
    CHECK(outq_push(q, 1, OUT_TURN_AUDIO, 3, 0, blob, 300, 0) == OUTQ_FULL);

    CHECK(outq_purge_turn(q, 1) == 2);
    CHECK(outq_bytes(q) == 502);
    struct out_msg *m = outq_peek(q);
    CHECK(m && m->len == 1 && m->data[0] == 'a');
    outq_pop(q);
    m = outq_peek(q);
    CHECK(m && m->turn == 2);
    outq_pop(q);
    CHECK(outq_peek(q)->len == 200);
    outq_pop(q);
    CHECK(outq_peek(q)->len == 300);
    outq_pop(q);
    CHECK(outq_peek(q) == NULL && outq_bytes(q) == 0);
    /* The tail is right after a purge that removed the last element. */
    CHECK(outq_push(q, 1, OUT_TURN_AUDIO, 5, 0, blob, 10, 5) == OUTQ_OK);
    CHECK(outq_purge_turn(q, 5) == 1);
    CHECK(outq_push(q, 0, OUT_CONTROL, 0, -1, "z", 1, 0) == OUTQ_OK);
    CHECK(outq_peek(q) && outq_peek(q)->data[0] == 'z');
    outq_free(q);
    return check_summary();
}
