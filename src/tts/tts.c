/* The TTS chain: loads the configured engines once, and speaks a phrase with
 * the first engine that succeeds within its time limit, resampling to the
 * session's output rate. */
#include "tts/tts.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

static const struct tts_engine *const known_engines[] = {&tts_engine_flite, &tts_engine_espeak, &tts_engine_openai};

struct instance {
    void *state;
    pthread_mutex_t lock; /* engines are not reentrant */
};

struct loaded_engine {
    const struct tts_engine *engine;
    struct instance inst[TTS_MAX_INSTANCES];
    int ninst;
    atomic_uint next; /* where the next phrase starts looking for a free one */
};

struct tts {
    struct tts_params p;
    struct loaded_engine engines[TTS_MAX_ENGINES];
    int count;
};

struct tts_params tts_default_params(void)
{
    return (struct tts_params){
        .chain = "flite,espeak",
        .timeout_s = 10,
        .out_rate = 16000,
        .flite_voice = "slt",
        .espeak_voice = "en-us",
        .openai_model = "tts-1",
        .openai_voice = "alloy",
        .openai_rate = 24000,
        .instances = 1};
}

/* Calls fn for each comma-separated name; stops when fn returns nonzero. */
static int each_name(const char *names, int (*fn)(void *ud, const char *name), void *ud)
{
    char name[32];
    for (const char *p = names; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len >= sizeof name)
            len = sizeof name - 1;
        memcpy(name, p, len);
        name[len] = 0;
        if (len > 0) {
            int rc = fn(ud, name);
            if (rc)
                return rc;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

struct load_ctx {
    tts *t;
    char *err;
    size_t errlen;
};

static int load_one(void *ud, const char *name)
{
    struct load_ctx *c = ud;
    const struct tts_engine *e = NULL;
    for (size_t i = 0; i < sizeof known_engines / sizeof *known_engines; i++)
        if (!strcmp(known_engines[i]->name, name))
            e = known_engines[i];
    if (!e) {
        snprintf(c->err, c->errlen, "tts.chain: unknown engine '%s' (known: flite, espeak)", name);
        return -1;
    }
    for (int i = 0; i < c->t->count; i++)
        if (c->t->engines[i].engine == e)
            return 0; /* listed twice: load once */
    if (c->t->count == TTS_MAX_ENGINES) {
        snprintf(c->err, c->errlen, "tts.chain: too many engines");
        return -1;
    }
    int want = e->parallel ? c->t->p.instances : 1;
    want = want < 1 ? 1 : want > TTS_MAX_INSTANCES ? TTS_MAX_INSTANCES : want;
    struct loaded_engine *le = &c->t->engines[c->t->count];
    le->engine = e;
    for (le->ninst = 0; le->ninst < want; le->ninst++) {
        struct instance *in = &le->inst[le->ninst];
        if (!(in->state = e->create(&c->t->p, c->err, c->errlen)))
            break;
        pthread_mutex_init(&in->lock, NULL);
    }
    if (le->ninst == 0)
        return -1;
    c->t->count++; /* fewer instances than asked still speak */
    return 0;
}

tts *tts_new(const struct tts_params *p, char *err, size_t errlen)
{
    tts *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->p = p ? *p : tts_default_params();
    struct load_ctx c = {t, err, errlen};
    if (each_name(t->p.chain, load_one, &c) || t->count == 0) {
        if (t->count == 0 && !err[0])
            snprintf(err, errlen, "tts.chain: no engine named");
        tts_free(t);
        return NULL;
    }
    return t;
}

void tts_free(tts *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->count; i++)
        for (int k = 0; k < t->engines[i].ninst; k++) {
            t->engines[i].engine->destroy(t->engines[i].inst[k].state);
            pthread_mutex_destroy(&t->engines[i].inst[k].lock);
        }
    free(t);
}

int tts_engine_count(const tts *t) { return t->count; }
const char *tts_engine_name(const tts *t, int index) { return t->engines[index].engine->name; }

struct parse_ctx {
    const tts *t;
    int *order;
    int max, n;
    char *err;
    size_t errlen;
};

static int parse_one(void *ud, const char *name)
{
    struct parse_ctx *c = ud;
    for (int i = 0; i < c->t->count; i++) {
        if (strcmp(c->t->engines[i].engine->name, name))
            continue;
        if (c->n < c->max)
            c->order[c->n++] = i;
        return 0;
    }
    snprintf(c->err, c->errlen, "TTS engine '%s' is not loaded (loaded: %s)", name, c->t->p.chain);
    return -1;
}

int tts_parse_chain(const tts *t, const char *names, int *order, int max, char *err, size_t errlen)
{
    struct parse_ctx c = {t, order, max, 0, err, errlen};
    if (each_name(names, parse_one, &c))
        return -1;
    if (c.n == 0) {
        snprintf(err, errlen, "empty TTS chain");
        return -1;
    }
    return c.n;
}

struct speak_ctx {
    struct pcm_buf raw; /* collected (not streamed) at the engine's rate */
    int rate;
    int64_t deadline_us;
    int timed_out;
    int (*cancelled)(void *);
    tts_audio_fn on_audio;
    void *ud;
    int out_rate;
    resampler *rs; /* streaming: engine rate → out_rate */
    struct pcm_buf conv;
    size_t streamed;
    int was_cancelled;
};

static int speak_sink(void *ud, const int16_t *pcm, size_t n, int rate)
{
    struct speak_ctx *c = ud;
    if (c->cancelled && c->cancelled(c->ud)) {
        c->was_cancelled = 1;
        return 1;
    }
    if (clock_now_us() > c->deadline_us) {
        c->timed_out = 1;
        return 1;
    }
    if (n == 0)
        return 0; /* a heartbeat: not stopped */
    c->rate = rate;
    if (!c->on_audio)
        return pcm_append(&c->raw, pcm, n) ? 1 : 0;
    if (!c->rs && !(c->rs = resampler_new(rate, c->out_rate)))
        return 1;
    c->conv.len = 0;
    if (resampler_process(c->rs, pcm, n, &c->conv))
        return 1;
    if (c->conv.len) {
        c->on_audio(c->ud, c->conv.samples, c->conv.len);
        c->streamed += c->conv.len;
    }
    return 0;
}

/* A free instance if there is one, else waits for one; returned locked. */
static struct instance *take_instance(struct loaded_engine *le)
{
    unsigned start = atomic_fetch_add(&le->next, 1);
    for (int k = 0; k < le->ninst; k++) {
        struct instance *in = &le->inst[(start + (unsigned)k) % (unsigned)le->ninst];
        if (pthread_mutex_trylock(&in->lock) == 0)
            return in;
    }
    struct instance *in = &le->inst[start % (unsigned)le->ninst];
    pthread_mutex_lock(&in->lock);
    return in;
}

int tts_speak(tts *t, const int *order, int n, const char *text, int (*cancelled)(void *ud), tts_audio_fn on_audio,
              void *ud, struct tts_result *r)
{
    memset(r, 0, sizeof *r);
    r->engine = -1;
    for (int k = 0; k < n; k++) {
        struct loaded_engine *le = &t->engines[order[k]];
        struct speak_ctx c = {.cancelled = cancelled, .on_audio = on_audio, .ud = ud, .out_rate = t->p.out_rate};
        char err[256] = "";
        struct instance *in = take_instance(le);
        if (cancelled && cancelled(ud)) {
            pthread_mutex_unlock(&in->lock);
            return 1;
        }
        /* The limit starts once the engine is ours, not while queued behind
         * another session's phrase. */
        c.deadline_us = clock_now_us() + (int64_t)(t->p.timeout_s * 1e6);
        int rc = le->engine->synthesize(in->state, text, speak_sink, &c, err, sizeof err);
        pthread_mutex_unlock(&in->lock);
        resampler_free(c.rs);
        pcm_free(&c.conv);
        if (c.was_cancelled) {
            pcm_free(&c.raw);
            return 1;
        }
        int ok = rc == 0 && !c.timed_out;
        if (!ok) {
            if (c.timed_out)
                snprintf(err, sizeof err, "timed out after %gs", t->p.timeout_s);
            size_t used = strlen(r->failures);
            snprintf(r->failures + used, sizeof r->failures - used, "%s%s: %s", used ? "; " : "", le->engine->name, err);
        }
        if (c.streamed > 0) {
            r->engine = order[k];
            return 0; /* part of it was heard: no second engine */
        }
        if (ok && c.raw.len > 0) {
            int resampled = pcm_resample(c.raw.samples, c.raw.len, c.rate, t->p.out_rate, &r->pcm);
            pcm_free(&c.raw);
            if (resampled == 0) {
                r->engine = order[k];
                return 0;
            }
            snprintf(err, sizeof err, "resampling failed");
        } else if (ok) {
            snprintf(err, sizeof err, "produced no audio");
        }
        pcm_free(&c.raw);
        if (ok) {
            size_t used = strlen(r->failures);
            snprintf(r->failures + used, sizeof r->failures - used, "%s%s: %s", used ? "; " : "", le->engine->name, err);
        }
    }
    return -1;
}

void tts_result_free(struct tts_result *r) { pcm_free(&r->pcm); }
