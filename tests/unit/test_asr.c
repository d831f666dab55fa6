/* ASR: partial-transcript diffing, and the real pocketsphinx engine fed
 * incrementally through an asr_stream on the worker pool (speech made with
 * flite through the TTS module). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
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

    /* asr.engine auto in every case: no whisper.cpp, no model, a model. */
    char models[] = "/tmp/parley-asr-choose-XXXXXX";
    CHECK(mkdtemp(models) != NULL);
    struct asr_params cp = asr_default_params();
    cp.models_dir = models;
    struct asr_choice ch;
    asr_choose_as_built(&cp, 0, &ch);
    CHECK_STR(ch.engine, "pocketsphinx");
    CHECK(strstr(ch.why, "no whisper.cpp") != NULL);
    asr_choose_as_built(&cp, 1, &ch);
    CHECK_STR(ch.engine, "pocketsphinx");
    CHECK(strstr(ch.why, "parley models pull tiny.en") != NULL);
    char model[600];
    snprintf(model, sizeof model, "%s/ggml-tiny.en.bin", models);
    FILE *mf = fopen(model, "wb");
    CHECK(mf && fclose(mf) == 0);
    asr_choose_as_built(&cp, 1, &ch);
    CHECK_STR(ch.engine, "whisper");
    CHECK_STR(ch.partials, "pocketsphinx");
    asr_choose_as_built(&cp, 0, &ch); /* a model, but no whisper.cpp to run it */
    CHECK_STR(ch.engine, "pocketsphinx");
    cp.partials = "off";
    asr_choose_as_built(&cp, 1, &ch);
    CHECK_STR(ch.partials, "off");
    cp.engine = "pocketsphinx"; /* named: used whatever is on disk */
    cp.partials = "whisper";
    asr_choose_as_built(&cp, 1, &ch);
    CHECK_STR(ch.engine, "pocketsphinx");
    CHECK_STR(ch.partials, "pocketsphinx");
    CHECK(ch.why[0] == 0);
    unlink(model);
    rmdir(models);

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
    struct asr_callbacks cb = {.partial = on_partial, .final = on_final, .error = on_error};
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

    /* More utterances than decoders: the later ones wait their turn, in the
     * order they began, and decode their queued audio once a decoder frees;
     * none fails for want of a decoder. */
    struct asr_params one = ap;
    one.max_decoders = 1;
    asr_model *m1 = asr_model_new(&one, err, sizeof err);
    CHECK(m1 != NULL);
    workers *pool2 = workers_new(&wp);
    struct results ra = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct results rb = ra, rc = ra, rd = ra;
    asr_stream *a = asr_stream_new(m1, pool2, &cb, &ra, 50), *b = asr_stream_new(m1, pool2, &cb, &rb, 50);
    asr_stream *c = asr_stream_new(m1, pool2, &cb, &rc, 50), *d = asr_stream_new(m1, pool2, &cb, &rd, 50);
    CHECK(asr_stream_begin(a, 1) == 0);
    for (int i = 0; i < 2000 && asr_stream_progress(a) < 1; i++)
        usleep(1000); /* bounded: until a holds the decoder (its begin ran) */
    CHECK(asr_stream_progress(a) >= 1);
    CHECK(asr_stream_push(a, speech.pcm.samples, speech.pcm.len / 2) == 0);
    CHECK(asr_stream_begin(b, 2) == 0);
    CHECK(asr_stream_push(b, speech.pcm.samples, speech.pcm.len) == 0);
    CHECK(asr_stream_end(b) == 0);
    CHECK(asr_stream_begin(c, 3) == 0); /* waits, then is dropped before its turn */
    CHECK(asr_stream_push(c, speech.pcm.samples, speech.pcm.len) == 0);
    CHECK(asr_stream_begin(d, 4) == 0); /* waits, and its session goes away */
    CHECK(asr_stream_push(d, speech.pcm.samples, speech.pcm.len) == 0);
    for (int i = 0; i < 2000 && asr_model_waiting(m1) < 3; i++)
        usleep(1000); /* bounded: until b, c and d have parked */
    CHECK(asr_model_waiting(m1) == 3);
    CHECK(asr_stream_waiting(b) && asr_stream_waiting(c));
    CHECK(asr_stream_abort(c) == 0);
    asr_stream_free(d);
    CHECK(asr_model_waiting(m1) == 2);
    CHECK(rb.finals == 0 && rb.errors == 0); /* b waits rather than fails */
    CHECK(asr_stream_push(a, speech.pcm.samples + speech.pcm.len / 2, speech.pcm.len - speech.pcm.len / 2) == 0);
    CHECK(asr_stream_end(a) == 0);
    CHECK(wait_finals(&ra, 1) && wait_finals(&rb, 1));
    CHECK(strstr(ra.final, "weather") != NULL);
    CHECK_STR(rb.final, text); /* caught up on its audio: the same words as a decode alone */
    CHECK(ra.errors == 0 && rb.errors == 0 && rc.errors == 0 && rc.finals == 0 && rd.finals == 0);
    /* b's decoder goes to c after b's final is out: c, aborted, gives it back. */
    for (int i = 0; i < 2000 && asr_model_waiting(m1) > 0; i++)
        usleep(1000);
    CHECK(asr_model_waiting(m1) == 0);
    /* The decoder is free again for whoever comes next. */
    CHECK(asr_stream_begin(c, 5) == 0);
    CHECK(asr_stream_push(c, speech.pcm.samples, speech.pcm.len) == 0);
    CHECK(asr_stream_end(c) == 0);
    CHECK(wait_finals(&rc, 1) && rc.final_utt == 5);
    asr_stream_free(a);
    asr_stream_free(b);
    asr_stream_free(c);
    workers_free(pool2);
    asr_model_free(m1);

    /* Adaptation belongs to the speaker (live CMN used to carry the last
     * speaker's means over): on a decoder another voice just used, a new
     * speaker's clip decodes exactly as on a fresh decoder, and a speaker's
     * own adaptation carries to their next utterance. */
    struct asr_params solo = ap;
    solo.max_decoders = 1;
    solo.pocketsphinx_options = getenv("PS_EXP") ? getenv("PS_EXP") : "";
    asr_model *m2 = asr_model_new(&solo, err, sizeof err);
    CHECK(m2 != NULL);
    struct tts_params kp = tp;
    kp.flite_voice = "kal";
    tts *kal = tts_new(&kp, err, sizeof err);
    CHECK(kal != NULL);
    struct tts_result other;
    CHECK(tts_speak(kal, order, 1,
                    "And so my fellow Americans, ask not what your country can do for you, ask what you can do "
                    "for your country.",
                    NULL, NULL, NULL, &other) == 0);
    char fresh[512], after_others[512], scratch[512];
    struct asr_adaptation ann = {.len = 0}, bob = {.len = 0}, cat = {.len = 0};
    CHECK(asr_transcribe_adapted(m2, &ann, other.pcm.samples, other.pcm.len, fresh, sizeof fresh, err, sizeof err) == 0);
    CHECK(ann.len > 0); /* ann's voice taught the decoder something, kept as hers */
    CHECK(asr_transcribe_adapted(m2, &bob, speech.pcm.samples, speech.pcm.len, scratch, sizeof scratch, err,
                                 sizeof err) == 0);
    CHECK(asr_transcribe_adapted(m2, &bob, speech.pcm.samples, speech.pcm.len, scratch, sizeof scratch, err,
                                 sizeof err) == 0);
    CHECK_STR(scratch, text);
    CHECK(asr_transcribe_adapted(m2, &cat, other.pcm.samples, other.pcm.len, after_others, sizeof after_others, err,
                                 sizeof err) == 0);
    CHECK_STR(after_others, fresh); /* bob's two utterances did not reach cat */
    CHECK(cat.len == ann.len); /* cat's own means, measured from her voice */
    tts_result_free(&other);
    tts_free(kal);
    asr_model_free(m2);

    /* A missing model is a clear start-up error. */
    ap.model_dir = "/nonexistent";
    CHECK(asr_model_new(&ap, err, sizeof err) == NULL);
    CHECK(strstr(err, "pocketsphinx-en-us") != NULL);

    tts_result_free(&speech);
    tts_free(t);
    asr_model_free(m);
    return check_summary();
}
