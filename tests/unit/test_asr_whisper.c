/* The Whisper engine with whisper.cpp's structure-valid test model (its text
 * is meaningless, so accuracy is not tested here): a missing or corrupt model
 * is a clear error; sessions share one model across the worker pool; a
 * dropped utterance cancels its running decode; the hybrid's utterances
 * never wait for a partials decoder. Data: ../shared/data. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "asr/asr.h"
#include "check.h"
#include "core/audio.h"
#include "core/clock.h"
#include "core/workers.h"

#define MODEL PARLEY_SHARED_DATA "/whisper-for-tests-tiny.en.bin"

struct seen {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int finals, errors;
    int64_t final_at;
};

static void on_partial(void *ud, uint64_t utt, const char *text) { (void)ud, (void)utt, (void)text; }

static void on_final(void *ud, uint64_t utt, const char *text, int64_t audio_ms, int64_t cpu_us)
{
    (void)utt, (void)text, (void)audio_ms, (void)cpu_us;
    struct seen *s = ud;
    pthread_mutex_lock(&s->lock);
    s->finals++;
    s->final_at = clock_now_us();
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void on_error(void *ud, uint64_t utt, const char *message)
{
    (void)utt;
    struct seen *s = ud;
    fprintf(stderr, "asr error: %s\n", message);
    pthread_mutex_lock(&s->lock);
    s->errors++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* Waits until `finals` finals arrived or 60 s passed. */
static int wait_finals(struct seen *s, int finals)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 60;
    pthread_mutex_lock(&s->lock);
    while (s->finals < finals && s->errors == 0)
        if (pthread_cond_timedwait(&s->cond, &s->lock, &until))
            break;
    int got = s->finals;
    pthread_mutex_unlock(&s->lock);
    return got;
}

static struct asr_params params(const char *model)
{
    struct asr_params p = asr_default_params();
    p.engine = "whisper";
    p.whisper_model = model;
    p.whisper_threads = 1;
    p.max_decoders = 2;
    return p;
}

/* The hybrid (Whisper's finals, pocketsphinx's partials) with one
 * pocketsphinx decoder, held by an utterance that goes on: a second
 * utterance does not wait for it. It goes without partials and still gets
 * its final from Whisper. One worker thread runs the jobs in the order
 * given, so the first utterance holds the decoder when the second begins. */
static void test_hybrid_without_partial_decoder(const struct pcm_buf *jfk)
{
    char err[512] = "";
    struct asr_params p = params(MODEL);
    p.partials = "pocketsphinx";
    p.max_decoders = 1;
    asr_model *m = asr_model_new(&p, err, sizeof err);
    CHECK(m != NULL);
    if (!m) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK_STR(asr_model_choice(m)->partials, "pocketsphinx");
    struct workers_params wp = workers_default_params();
    wp.threads = 1;
    workers *pool = workers_new(&wp);
    struct seen s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
    struct asr_callbacks cb = {.partial = on_partial, .final = on_final, .error = on_error};
    asr_stream *holder = asr_stream_new(m, pool, &cb, &s, 1);
    asr_stream *second = asr_stream_new(m, pool, &cb, &s, 1);
    asr_stream_begin(holder, 1);
    asr_stream_push(holder, jfk->samples, 8000); /* under a second queued: not behind, so it keeps its partials */
    asr_stream_begin(second, 1);
    asr_stream_push(second, jfk->samples, 48000);
    asr_stream_end(second);
    CHECK(wait_finals(&s, 1) == 1 && s.errors == 0); /* while the holder still holds the decoder */
    CHECK(asr_stream_partial_decodes(second) == 0);
    CHECK(asr_stream_partial_decodes(holder) > 0);
    asr_stream_end(holder);
    CHECK(wait_finals(&s, 2) == 2 && s.errors == 0);
    asr_stream_free(holder);
    asr_stream_free(second);
    workers_free(pool);
    asr_model_free(m);
}

int main(void)
{
    char err[512] = "";
    struct asr_params p = params("base.en");
    p.models_dir = "/nonexistent/models";
    CHECK(asr_model_new(&p, err, sizeof err) == NULL && strstr(err, "parley models pull base.en"));
    p = params(PARLEY_SHARED_DATA "/jfk.wav");
    CHECK(asr_model_new(&p, err, sizeof err) == NULL && strstr(err, "not a Whisper model"));

    p = params(MODEL);
    asr_model *m = asr_model_new(&p, err, sizeof err);
    CHECK(m != NULL);
    if (!m) {
        fprintf(stderr, "%s\n", err);
        return check_summary();
    }
    CHECK_STR(asr_model_engine_name(m), "whisper");
    struct pcm_buf jfk;
    CHECK(wav_read(PARLEY_SHARED_DATA "/jfk.wav", &jfk, err, sizeof err) == 0);

    /* Three sessions at once on two workers: one model, every final arrives. */
    struct workers_params wp = workers_default_params();
    wp.threads = 2;
    workers *pool = workers_new(&wp);
    struct seen s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
    struct asr_callbacks cb = {.partial = on_partial, .final = on_final, .error = on_error};
    asr_stream *streams[3];
    int64_t t0 = clock_now_us();
    for (int i = 0; i < 3; i++) {
        streams[i] = asr_stream_new(m, pool, &cb, &s, 300);
        asr_stream_begin(streams[i], 1);
        for (size_t off = 0; off < jfk.len; off += 3200)
            asr_stream_push(streams[i], jfk.samples + off, jfk.len - off < 3200 ? jfk.len - off : 3200);
        asr_stream_end(streams[i]);
    }
    CHECK(wait_finals(&s, 3) == 3 && s.errors == 0);
    int64_t three_ms = (clock_now_us() - t0) / 1000;
    for (int i = 0; i < 3; i++)
        asr_stream_free(streams[i]);

    /* Partial scheduling: 6 s streamed in real time with a 300 ms interval.
     * A decode takes longer than the interval, so rounds are skipped rather
     * than queued: fewer than 6000/300 decodes, and still several. */
    s.finals = 0;
    asr_stream *live = asr_stream_new(m, pool, &cb, &s, 300);
    asr_stream_begin(live, 1);
    int64_t start = clock_now_us();
    for (size_t off = 0; off < 6 * 16000; off += 320) {
        asr_stream_push(live, jfk.samples + off, 320);
        int64_t due = start + (int64_t)(off + 320) * 1000000 / 16000, wait = due - clock_now_us();
        if (wait > 0) {
            struct timespec ts = {0, (long)wait * 1000};
            nanosleep(&ts, NULL); /* pacing a live microphone, not waiting on an event */
        }
    }
    asr_stream_end(live);
    CHECK(wait_finals(&s, 1) == 1);
    int partials = asr_stream_partial_decodes(live);
    CHECK(partials >= 3 && partials < 20);
    fprintf(stderr, "whisper partial decodes over 6 s at a 300 ms interval: %d\n", partials);
    asr_stream_free(live);

    /* Speech resumes over a speculative final: the stale decode is stopped
     * and the utterance still gets its final. */
    s.finals = 0;
    asr_stream *spec = asr_stream_new(m, pool, &cb, &s, 1);
    asr_stream_begin(spec, 1);
    asr_stream_push(spec, jfk.samples, jfk.len);
    /* The first partial decode shows the stream has taken the utterance. */
    for (int i = 0; i < 1000 && asr_stream_partial_decodes(spec) == 0; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    asr_stream_speculate(spec);
    asr_stream_resume(spec);
    asr_stream_push(spec, jfk.samples, 16000);
    asr_stream_end(spec);
    CHECK(wait_finals(&s, 1) == 1 && s.errors == 0);
    CHECK(asr_stream_cancelled_decodes(spec) == 1);
    asr_stream_free(spec);

    /* One final decode of 22 s, timed; then the same, dropped as soon as it
     * is asked for: the decode must stop early and report nothing. */
    struct pcm_buf twice = {0};
    pcm_append(&twice, jfk.samples, jfk.len);
    pcm_append(&twice, jfk.samples, jfk.len);
    s.finals = 0;
    asr_stream *one = asr_stream_new(m, pool, &cb, &s, 1000000);
    asr_stream_begin(one, 1);
    asr_stream_push(one, twice.samples, twice.len);
    t0 = clock_now_us();
    asr_stream_end(one);
    CHECK(wait_finals(&s, 1) == 1);
    int64_t full_ms = (s.final_at - t0) / 1000;
    s.finals = 0;
    asr_stream_begin(one, 2);
    asr_stream_push(one, twice.samples, twice.len);
    asr_stream_end(one);
    t0 = clock_now_us();
    asr_stream_abort(one);
    asr_stream_free(one);
    workers_free(pool); /* returns once the running decode has returned */
    int64_t cancel_ms = (clock_now_us() - t0) / 1000;
    CHECK(s.finals == 0 && s.errors == 0);
    CHECK(cancel_ms < full_ms / 2);
    fprintf(stderr, "whisper (test model, 1 thread): 3 x 11 s on 2 workers %lld ms; 22 s final %lld ms; cancelled in %lld ms\n",
            (long long)three_ms, (long long)full_ms, (long long)cancel_ms);
    pcm_free(&twice);
    asr_model_free(m);
    test_hybrid_without_partial_decoder(&jfk);
    pcm_free(&jfk);
    return check_summary();
}
