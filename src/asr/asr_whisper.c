/* Whisper ASR through whisper.cpp: one model per process (no state), and a
 * small pool of whisper_states borrowed for each decode, so decodes on the
 * worker pool share the model and a session holds only its audio. Whisper is
 * not streaming: partials re-decode the utterance so far (only its last
 * PARTIAL_WINDOW_S once it is longer), the final decodes it whole. A decode
 * polls the stream's cancel flag, so a dropped utterance stops at once. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <whisper.h>

#include "core/whisper_log.h"

#include "asr/asr.h"
#include "asr/whisper_file.h"
#include "asr/whisper_guard.h"
#include "models/models.h"

#define PARTIAL_WINDOW_S 12
#define MAX_UTTERANCE_S 120
#define NO_SPEECH_MAX 0.6f /* segments Whisper itself doubts are dropped */
#define MAX_STATES 16
/* The encoder's window, in its positions: 50 a second, 1500 for Whisper's
 * full 30 s. Encoding only the utterance (plus a margin of trailing quiet,
 * so the last word is not cut at the window's edge) makes a decode's cost
 * follow its length instead of always paying for 30 s. */
#define AUDIO_CTX_PER_S 50
#define AUDIO_CTX_MARGIN 64

struct wmodel {
    struct whisper_context *ctx;
    int threads;
    char language[16];
    pthread_mutex_t lock; /* guards the pool */
    pthread_cond_t freed;
    struct whisper_state *idle[MAX_STATES];
    int nidle, created, max_states;
    int full_window; /* 1: always encode 30 s (the cost before audio_ctx; benchmarks) */
    int raw;         /* 1: segments as whisper.cpp writes them */
};

struct wutt {
    struct wmodel *m;
    const atomic_int *cancel;
    float *pcm;
    size_t len, cap;
    struct whisper_stabilizer stab;
    char partial[4096], text[4096], err[300];
};

static void *whisper_load(const struct asr_params *p, char *err, size_t errlen)
{
    char path[1200];
    const char *name = p->whisper_model && p->whisper_model[0] ? p->whisper_model : "tiny.en";
    const struct model_info *known = models_find(name);
    if (known)
        models_path(p->models_dir ? p->models_dir : "models", known, path, sizeof path);
    else
        snprintf(path, sizeof path, "%s", name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (known)
            snprintf(err, errlen, "Whisper model %s is not at %s: fetch it with: parley models pull %s", name, path,
                     known->name);
        else
            snprintf(err, errlen, "Whisper model file %s cannot be opened (names: parley models list)", path);
        return NULL;
    }
    char why[300];
    int damaged = whisper_file_check(f, why, sizeof why);
    fclose(f);
    if (damaged) {
        snprintf(err, errlen, "Whisper model %s %s; the file is damaged or not a Whisper model: parley models pull %s",
                 path, why, known ? known->name : "tiny.en");
        return NULL;
    }
    whisper_log_quiet();
    struct whisper_context_params cp = whisper_context_default_params();
    cp.use_gpu = false;
    struct whisper_context *ctx = whisper_init_from_file_with_params_no_state(path, cp);
    if (!ctx) {
        snprintf(err, errlen, "%s is not a Whisper model in ggml format (or is damaged): parley models pull %s", path,
                 known ? known->name : "tiny.en");
        return NULL;
    }
    struct wmodel *m = calloc(1, sizeof *m);
    if (!m) {
        whisper_free(ctx);
        return NULL;
    }
    m->ctx = ctx;
    m->threads = p->whisper_threads > 0 ? p->whisper_threads : 2;
    snprintf(m->language, sizeof m->language, "%s", p->language && p->language[0] ? p->language : "en");
    m->full_window = p->whisper_full_window;
    m->raw = p->whisper_raw;
    m->max_states = p->max_decoders > 0 && p->max_decoders < MAX_STATES ? p->max_decoders : MAX_STATES;
    /* No more decodes at once than the cores hold: ggml's threads spin while
     * they wait for each other, so two 2-thread decodes on 2 cores slow each
     * other many times over (50 sessions with asr.partials off: p50 speech
     * end -> final 15.6 s). A decode that finds no state waits for one. */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int fit = cores > 0 ? (int)(cores / m->threads) : 1;
    if (fit < 1)
        fit = 1;
    if (m->max_states > fit)
        m->max_states = fit;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->freed, NULL);
    return m;
}

static void whisper_unload(void *model)
{
    struct wmodel *m = model;
    for (int i = 0; i < m->nidle; i++)
        whisper_free_state(m->idle[i]);
    whisper_free(m->ctx);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->freed);
    free(m);
}

/* A state for one decode; made on first need, at most max_states. */
static struct whisper_state *take_state(struct wmodel *m)
{
    pthread_mutex_lock(&m->lock);
    while (m->nidle == 0 && m->created >= m->max_states)
        pthread_cond_wait(&m->freed, &m->lock);
    struct whisper_state *st = NULL;
    if (m->nidle > 0) {
        st = m->idle[--m->nidle];
    } else {
        m->created++;
        pthread_mutex_unlock(&m->lock);
        st = whisper_init_state(m->ctx);
        pthread_mutex_lock(&m->lock);
        if (!st)
            m->created--;
    }
    pthread_mutex_unlock(&m->lock);
    return st;
}

static void give_state(struct wmodel *m, struct whisper_state *st)
{
    pthread_mutex_lock(&m->lock);
    m->idle[m->nidle++] = st;
    pthread_cond_signal(&m->freed);
    pthread_mutex_unlock(&m->lock);
}

static bool should_abort(void *ud)
{
    const atomic_int *cancel = ud;
    return cancel && atomic_load(cancel);
}

static int whisper_audio_ctx(struct whisper_context *ctx, size_t samples, int full_window)
{
    int full = whisper_model_n_audio_ctx(ctx);
    if (full_window)
        return 0; /* whisper.cpp's own: the model's full window */
    size_t want = (samples * AUDIO_CTX_PER_S + 15999) / 16000 + AUDIO_CTX_MARGIN;
    return want >= (size_t)full ? 0 : (int)want;
}

/* Decodes samples into out (cleaned). Returns 0, or -1 (cancelled/failed). */
static int decode(struct wutt *u, const float *samples, size_t n, int partial, char *out, size_t outlen)
{
    out[0] = 0;
    if (n < 1600 || whisper_guard_quiet(samples, n, 16000))
        return 0; /* under 0.1 s, or too quiet to be a voice: nothing worth decoding */
    struct whisper_state *st = take_state(u->m);
    if (!st) {
        snprintf(u->err, sizeof u->err, "Whisper: cannot allocate a decoding state");
        return -1;
    }
    struct whisper_full_params fp = whisper_full_default_params(WHISPER_SAMPLING_GREEDY);
    fp.n_threads = u->m->threads;
    fp.language = u->m->language;
    fp.no_context = true;
    fp.no_timestamps = true;
    fp.single_segment = partial;
    fp.print_progress = fp.print_realtime = fp.print_special = fp.print_timestamps = false;
    fp.suppress_blank = true;
    fp.suppress_nst = true;
    fp.audio_ctx = whisper_audio_ctx(u->m->ctx, n, u->m->full_window);
    fp.abort_callback = should_abort;
    fp.abort_callback_user_data = (void *)u->cancel;
    int rc = whisper_full_with_state(u->m->ctx, st, fp, samples, (int)n);
    if (rc == 0 && !should_abort((void *)u->cancel)) {
        size_t o = 0;
        int segs = whisper_full_n_segments_from_state(st);
        for (int i = 0; i < segs && o + 1 < outlen; i++) {
            if (!u->m->raw && whisper_full_get_segment_no_speech_prob_from_state(st, i) > NO_SPEECH_MAX)
                continue;
            o += (size_t)snprintf(out + o, outlen - o, "%s", whisper_full_get_segment_text_from_state(st, i));
        }
        if (!u->m->raw)
            whisper_guard_clean(out);
    } else {
        snprintf(u->err, sizeof u->err, should_abort((void *)u->cancel) ? "Whisper: decode cancelled"
                                                                         : "Whisper: decode failed (%d)", rc);
        rc = -1;
    }
    give_state(u->m, st);
    return rc;
}

static void *whisper_begin(void *model, const atomic_int *cancel, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    struct wutt *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->m = model;
    u->cancel = cancel;
    whisper_stabilizer_reset(&u->stab);
    return u;
}

static int whisper_feed(void *utt, const int16_t *pcm, size_t n)
{
    struct wutt *u = utt;
    if (u->len + n > (size_t)MAX_UTTERANCE_S * 16000)
        return 0; /* past the bound: not kept (the session caps utterances first) */
    if (u->len + n > u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 16000 * 4;
        while (cap < u->len + n)
            cap *= 2;
        float *p = realloc(u->pcm, cap * sizeof *p);
        if (!p)
            return -1;
        u->pcm = p;
        u->cap = cap;
    }
    for (size_t i = 0; i < n; i++)
        u->pcm[u->len + i] = (float)pcm[i] / 32768.0f;
    u->len += n;
    return 0;
}

static const char *whisper_hypothesis(void *utt)
{
    struct wutt *u = utt;
    size_t window = (size_t)PARTIAL_WINDOW_S * 16000;
    size_t from = u->len > window ? u->len - window : 0;
    char hyp[4096];
    if (decode(u, u->pcm + from, u->len - from, 1, hyp, sizeof hyp))
        return u->partial; /* keep showing the last one */
    if (from > 0) {
        /* A tail window only: the stable words before it stay as they were. */
        snprintf(u->partial, sizeof u->partial, "%s", hyp);
        return u->partial;
    }
    whisper_stabilize(&u->stab, hyp, u->partial, sizeof u->partial);
    return u->partial;
}

static const char *whisper_finish(void *utt)
{
    struct wutt *u = utt;
    if (decode(u, u->pcm, u->len, 0, u->text, sizeof u->text))
        return NULL;
    return u->text;
}

static const char *whisper_error(void *utt)
{
    struct wutt *u = utt;
    return u->err[0] ? u->err : "Whisper: recognition failed";
}

static void whisper_release(void *model, void *utt)
{
    (void)model;
    struct wutt *u = utt;
    if (!u)
        return;
    free(u->pcm);
    free(u);
}

const struct asr_engine asr_engine_whisper = {
    .name = "whisper",
    .load = whisper_load,
    .unload = whisper_unload,
    .begin = whisper_begin,
    .feed = whisper_feed,
    .hypothesis = whisper_hypothesis,
    .finish = whisper_finish,
    .error = whisper_error,
    .release = whisper_release,
};
