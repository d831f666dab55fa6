/* ASR: partial-transcript diffing, and the real pocketsphinx engine fed
 * incrementally through an asr_stream on the worker pool (speech made with
 * flite through the TTS module). */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "asr/asr.h"
#include "check.h"
#include "tts/tts.h"

struct results {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int partials, finals, errors;
    char last_partial[512], final[512];
    uint64_t final_utt;
};

static void on_partial(void *ud, uint64_t utt, const char *text)
{
    struct results *r = ud;
    (void)utt;
    pthread_mutex_lock(&r->lock);
    r->partials++;
    snprintf(r->last_partial, sizeof r->last_partial, "%s", text);
    pthread_mutex_unlock(&r->lock);
}

static void on_final(void *ud, uint64_t utt, const char *text, int64_t audio_ms, int64_t cpu_us)
{
    struct results *r = ud;
    (void)audio_ms, (void)cpu_us;
    pthread_mutex_lock(&r->lock);
    r->finals++;
    r->final_utt = utt;
    snprintf(r->final, sizeof r->final, "%s", text);
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static void on_error(void *ud, uint64_t utt, const char *msg)
{
    struct results *r = ud;
    (void)utt, (void)msg;
    pthread_mutex_lock(&r->lock);
    r->errors++;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static int wait_finals(struct results *r, int n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 20;
    pthread_mutex_lock(&r->lock);
    int rc = 0;
    while (r->finals < n && rc == 0)
        rc = pthread_cond_timedwait(&r->cond, &r->lock, &ts);
    pthread_mutex_unlock(&r->lock);
    return r->finals >= n;
}

int main(void)
{
    CHECK(!asr_transcript_changed("what is", "What  is"));
    CHECK(asr_transcript_changed("what is", "what is the"));
    CHECK(asr_transcript_changed("what is the", "what is"));
    CHECK(asr_transcript_changed("", "hi"));
    CHECK(!asr_transcript_changed("", "  "));
    CHECK(asr_transcript_changed("weather", "whether"));
    CHECK(asr_count_words("  a b  c ") == 3);
    CHECK(asr_count_words("") == 0);

    char err[256] = "";
    struct tts_params tp = tts_default_params();
    tp.chain = "flite";
    tts *t = tts_new(&tp, err, sizeof err);
    CHECK(t != NULL);
    int order[1] = {0};
    struct tts_result speech;
    CHECK(tts_speak(t, order, 1, "What is the weather like today?", NULL, NULL, NULL, &speech) == 0);

    struct asr_params ap = asr_default_params();
    ap.model_dir = PARLEY_PS_MODELDIR;
    ap.max_decoders = 2;
    asr_model *m = asr_model_new(&ap, err, sizeof err);
    CHECK(m != NULL);
    char text[512];
    CHECK(asr_transcribe(m, speech.pcm.samples, speech.pcm.len, text, sizeof text, err, sizeof err) == 0);
    CHECK(strstr(text, "weather") != NULL);

    /* Streaming: 20 ms pushes, partials only when the text changes, a final. */
    struct workers_params wp = workers_default_params();
    workers *pool = workers_new(&wp);
    struct results r = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct asr_callbacks cb = {on_partial, on_final, on_error};
    asr_stream *s = asr_stream_new(m, pool, &cb, &r, 50);
    CHECK(asr_stream_begin(s, 7) == 0);
    for (size_t off = 0; off < speech.pcm.len; off += 320) {
        size_t n = speech.pcm.len - off < 320 ? speech.pcm.len - off : 320;
        CHECK(asr_stream_push(s, speech.pcm.samples + off, n) == 0);
        usleep(2000);
    }
    CHECK(asr_stream_end(s) == 0);
    CHECK(wait_finals(&r, 1));
    CHECK(r.final_utt == 7);
    CHECK(strstr(r.final, "weather") != NULL);
    CHECK(r.partials >= 1);
    CHECK(r.errors == 0);

    /* An aborted utterance gives no final; the next one works. */
    CHECK(asr_stream_begin(s, 8) == 0);
    CHECK(asr_stream_push(s, speech.pcm.samples, speech.pcm.len / 2) == 0);
    CHECK(asr_stream_abort(s) == 0);
    CHECK(asr_stream_begin(s, 9) == 0);
    CHECK(asr_stream_push(s, speech.pcm.samples, speech.pcm.len) == 0);
    CHECK(asr_stream_end(s) == 0);
    CHECK(wait_finals(&r, 2));
    CHECK(r.final_utt == 9);

    /* Freeing a stream with work queued is safe and silences callbacks. */
    CHECK(asr_stream_begin(s, 10) == 0);
    CHECK(asr_stream_push(s, speech.pcm.samples, speech.pcm.len) == 0);
    CHECK(asr_stream_end(s) == 0);
    asr_stream_free(s);
    workers_free(pool);
    CHECK(r.finals <= 3);

    /* A missing model is a clear start-up error. */
    ap.model_dir = "/nonexistent";
    CHECK(asr_model_new(&ap, err, sizeof err) == NULL);
    CHECK(strstr(err, "pocketsphinx-en-us") != NULL);

    tts_result_free(&speech);
    tts_free(t);
    asr_model_free(m);
    return check_summary();
}
