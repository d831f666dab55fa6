/* The engine-independent half of ASR: the process-wide model, and per-session
 * streams whose commands (begin, audio, end, abort) run in order on the
 * worker pool, one job at a time per stream. For engines whose utterances
 * hold a decoder, the model lends max_decoders of them: a stream that finds
 * none parks at its begin (its audio queues meanwhile) and the next decoder
 * released goes to the stream that parked first. */
#include "asr/asr.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/audio.h"
#include "core/clock.h"
#include "models/models.h"

/* A stream that has this much audio waiting is not keeping up; refuse more. */
#define MAX_QUEUED_SAMPLES (16000 * 60)
/* Queued audio is merged into commands of at most this many samples, so a
 * stream catching up shows progress (and can give partials) every second. */
#define MAX_MERGED_SAMPLES 16000
/* An utterance's audio is kept for re-decoding after a speculative final
 * up to this length; past it, speculation is off for that utterance. */
#define MAX_KEPT_SAMPLES (16000 * 120)
/* A stream with this much audio waiting gives up partials that cost work of
 * their own (asr_engine.partials). */
#define BEHIND_SAMPLES 16000

struct asr_model {
    const struct asr_engine *engine;
    struct asr_choice choice;
    void *state;
    pthread_mutex_t lock; /* taken before a stream's lock, never after */
    int free_decoders;
    asr_stream *wait_head, *wait_tail; /* parked streams, first parked first */
    int waiting;
    int partials_off; /* asr.partials off: no partial decodes at all */
};

struct asr_params asr_default_params(void)
{
    return (struct asr_params){.engine = "auto",
                               .partials = "pocketsphinx",
                               .model_dir = PARLEY_PS_MODELDIR,
                               .max_decoders = 4,
                               .remote_model = "whisper-1",
                               .language = "en",
                               .timeout_ms = 10000,
                               .whisper_model = "tiny.en", /* why tiny.en: docs/config.md */
                               .whisper_threads = 2};
}

void asr_choose_as_built(const struct asr_params *p, int have_whisper, struct asr_choice *out)
{
    memset(out, 0, sizeof *out);
    const char *engine = p->engine && p->engine[0] ? p->engine : "auto";
    const char *partials = p->partials && p->partials[0] ? p->partials : "pocketsphinx";
    if (!strcmp(engine, "auto") && !have_whisper) {
        engine = "pocketsphinx";
        snprintf(out->why, sizeof out->why,
                 "asr.engine auto: this build has no whisper.cpp (run scripts/setup.sh and rebuild for Whisper)");
    } else if (!strcmp(engine, "auto")) {
        const char *name = p->whisper_model && p->whisper_model[0] ? p->whisper_model : "tiny.en";
        const struct model_info *known = models_find(name);
        char path[1200];
        if (known)
            models_path(p->models_dir ? p->models_dir : "models", known, path, sizeof path);
        else
            snprintf(path, sizeof path, "%s", name);
        if (access(path, F_OK) == 0) {
            engine = "whisper";
            snprintf(out->why, sizeof out->why, "asr.engine auto: the Whisper model %.200s is at %.1200s", name, path);
        } else {
            engine = "pocketsphinx";
            snprintf(out->why, sizeof out->why,
                     "asr.engine auto: no Whisper model (%.200s is not at %.1200s): run `parley models pull %s` for Whisper",
                     name, path, known ? known->name : "tiny.en");
        }
    }
    snprintf(out->engine, sizeof out->engine, "%s", engine);
    if (!strcmp(engine, "whisper"))
        snprintf(out->partials, sizeof out->partials, "%s", partials);
    else /* other engines give their own partials, or none */
        snprintf(out->partials, sizeof out->partials, "%s", !strcmp(partials, "off") ? "off" : engine);
}

void asr_choose(const struct asr_params *p, struct asr_choice *out)
{
#ifdef PARLEY_HAVE_WHISPER
    asr_choose_as_built(p, 1, out);
#else
    asr_choose_as_built(p, 0, out);
#endif
}

static const struct asr_engine *const engines[] = {
    &asr_engine_pocketsphinx, &asr_engine_openai,
#ifdef PARLEY_HAVE_WHISPER
    &asr_engine_whisper, &asr_engine_hybrid,
#endif
};

asr_model *asr_model_new(const struct asr_params *p, char *err, size_t errlen)
{
    struct asr_choice choice;
    asr_choose(p, &choice);
    if (strcmp(choice.partials, "pocketsphinx") && strcmp(choice.partials, "whisper") &&
        strcmp(choice.partials, "off") && strcmp(choice.partials, choice.engine)) {
        snprintf(err, errlen, "asr.partials '%s' is not one of pocketsphinx, whisper, off", choice.partials);
        return NULL;
    }
    /* Whisper's finals with pocketsphinx's partials is an engine of its own. */
    const char *name = !strcmp(choice.engine, "whisper") && !strcmp(choice.partials, "pocketsphinx") ? "hybrid"
                                                                                                      : choice.engine;
    const struct asr_engine *e = NULL;
    for (size_t i = 0; i < sizeof engines / sizeof *engines; i++)
        if (!strcmp(engines[i]->name, name))
            e = engines[i];
    if (!e) {
        if (!strcmp(choice.engine, "whisper"))
            snprintf(err, errlen, "the Whisper engine needs whisper.cpp, which this build lacks (run scripts/setup.sh)");
        else
            snprintf(err, errlen, "unknown ASR engine '%s'", choice.engine);
        return NULL;
    }
    struct asr_params chosen = *p;
    chosen.partials = choice.partials;
    void *state = e->load(&chosen, err, errlen);
    if (!state)
        return NULL;
    asr_model *m = calloc(1, sizeof *m);
    if (!m) {
        e->unload(state);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->engine = e;
    m->choice = choice;
    m->partials_off = !strcmp(choice.partials, "off");
    m->state = state;
    m->free_decoders = p->max_decoders > 0 ? p->max_decoders : 1;
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

void asr_model_free(asr_model *m)
{
    if (!m)
        return;
    m->engine->unload(m->state);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

int asr_model_waiting(asr_model *m)
{
    pthread_mutex_lock(&m->lock);
    int n = m->waiting;
    pthread_mutex_unlock(&m->lock);
    return n;
}

const char *asr_model_engine_name(const asr_model *m) { return m->choice.engine; }

const struct asr_choice *asr_model_choice(const asr_model *m) { return &m->choice; }

static int64_t thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

enum cmd_kind { CMD_BEGIN, CMD_AUDIO, CMD_END, CMD_ABORT, CMD_SPECULATE, CMD_RESUME };

struct asr_cmd {
    struct asr_cmd *next;
    enum cmd_kind kind;
    uint64_t utterance;
    struct pcm_buf pcm;
};

struct asr_stream {
    asr_model *m;
    workers *pool;
    struct asr_callbacks cb;
    void *ud;
    int64_t interval_us;

    pthread_mutex_t lock; /* guards the fields below and every callback */
    struct asr_cmd *head, *tail;
    size_t queued_samples;
    uint64_t utterance; /* the latest begun, as seen by the loop */
    int job_running, closed;
    int running_cmd;      /* a command is being decoded now */
    int parked;           /* waits in the model's queue for a decoder */
    int has_decoder;      /* one of the model's decoders is lent to us */
    asr_stream *wait_next;
    atomic_int cancel; /* set by abort and free; read by running decodes */
    struct asr_adaptation adapt; /* this speaker's, carried from utterance to utterance (decode thread only) */

    /* Touched only by the one running job. */
    void *utt;
    uint64_t utt_id;
    struct pcm_buf kept; /* the utterance so far, for re-decoding */
    int kept_overflow;
    int speculated;
    int has_partials; /* this utterance still gives partials */
    char *spec_text;
    char last_partial[1024];
    int64_t last_partial_us, cpu_us, samples;
    atomic_int partial_decodes, cancelled_decodes; /* observable scheduling */
    atomic_uint progress;
};

asr_stream *asr_stream_new(asr_model *m, workers *pool, const struct asr_callbacks *cb, void *ud,
                           int partial_interval_ms)
{
    asr_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->m = m;
    s->pool = pool;
    s->cb = *cb;
    s->ud = ud;
    s->interval_us = (int64_t)partial_interval_ms * 1000;
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

static void free_cmds(struct asr_cmd *c)
{
    while (c) {
        struct asr_cmd *next = c->next;
        pcm_free(&c->pcm);
        free(c);
        c = next;
    }
}

static void release_decoder(asr_stream *s);

static void stream_destroy(asr_stream *s)
{
    if (s->utt)
        s->m->engine->release(s->m->state, s->utt);
    release_decoder(s);
    pcm_free(&s->kept);
    free(s->spec_text);
    free_cmds(s->head);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Callbacks run under the stream lock so that asr_stream_free, which takes
 * it, knows none is in flight once it returns. */
static void report_error(asr_stream *s, uint64_t utt, const char *msg)
{
    pthread_mutex_lock(&s->lock);
    if (!s->closed && s->cb.error)
        s->cb.error(s->ud, utt, msg);
    pthread_mutex_unlock(&s->lock);
}

/* Under load, partials give way first: while other work waits for a worker
 * they come at a quarter of the rate (finals are never skipped). */
static int partial_affordable(asr_stream *s, int64_t now)
{
    return workers_get_load(s->pool).queued == 0 || now - s->last_partial_us >= 4 * s->interval_us;
}

/* The stream has a second or more of audio waiting: it is catching up, and
 * its partials would come that late. */
static int behind(asr_stream *s)
{
    pthread_mutex_lock(&s->lock);
    int late = s->queued_samples >= BEHIND_SAMPLES;
    pthread_mutex_unlock(&s->lock);
    return late;
}

/* Whether the utterance just begun gives partials. An engine whose partials
 * cost work of their own (the hybrid's pocketsphinx pass beside Whisper)
 * gives them up for the utterance once its stream falls behind: their whole
 * cost goes, not only the hypotheses. */
static void settle_partials(asr_stream *s)
{
    const struct asr_engine *e = s->m->engine;
    s->has_partials = !s->m->partials_off;
    if (s->has_partials && e->partials)
        s->has_partials = e->partials(s->m->state, s->utt, !behind(s));
}

/* ---- lending decoders ---- */

static void stream_job(void *arg);

/* Under the stream lock: whether its queue ends an utterance (a final or a
 * speculative one), which a listener waits for. */
static int awaited(asr_stream *s)
{
    for (struct asr_cmd *c = s->head; c; c = c->next)
        if (c->kind == CMD_END || c->kind == CMD_SPECULATE)
            return 1;
    return 0;
}

/* The stream's job onto the pool; one that ends an utterance goes ahead of
 * streams still in mid-utterance, whose speakers wait for nothing yet. */
static int schedule(asr_stream *s, int urgent)
{
    return urgent ? workers_submit_first(s->pool, stream_job, s) : workers_submit(s->pool, stream_job, s);
}

/* Gives a released decoder to the stream that parked first, or back to the
 * model. Called with no lock held. */
static void release_decoder(asr_stream *s)
{
    if (!s->has_decoder)
        return;
    s->has_decoder = 0;
    asr_model *m = s->m;
    pthread_mutex_lock(&m->lock);
    asr_stream *w;
    while ((w = m->wait_head)) {
        m->wait_head = w->wait_next;
        if (!m->wait_head)
            m->wait_tail = NULL;
        m->waiting--;
        pthread_mutex_lock(&w->lock);
        w->wait_next = NULL;
        w->parked = 0;
        w->has_decoder = 1;
        w->job_running = 1;
        int ok = schedule(w, awaited(w)) == 0;
        if (!ok)
            w->job_running = w->has_decoder = 0; /* the pool refuses work: its next command retries */
        pthread_mutex_unlock(&w->lock);
        if (ok)
            break;
    }
    if (!w)
        m->free_decoders++;
    pthread_mutex_unlock(&m->lock);
}

/* Before an utterance's begin: 1 with a decoder in hand, 0 parked (the job
 * ends; the decoder's release restarts it), -1 closed meanwhile. */
static int take_decoder(asr_stream *s)
{
    asr_model *m = s->m;
    if (!m->engine->holds_decoder || s->has_decoder)
        return 1;
    pthread_mutex_lock(&m->lock);
    if (m->free_decoders > 0) {
        m->free_decoders--;
        s->has_decoder = 1;
        pthread_mutex_unlock(&m->lock);
        return 1;
    }
    pthread_mutex_lock(&s->lock);
    if (s->closed) {
        pthread_mutex_unlock(&s->lock);
        pthread_mutex_unlock(&m->lock);
        return -1;
    }
    s->parked = 1;
    s->job_running = 0;
    if (m->wait_tail)
        m->wait_tail->wait_next = s;
    else
        m->wait_head = s;
    m->wait_tail = s;
    m->waiting++;
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_unlock(&m->lock);
    return 0;
}

/* Under the stream lock, the head being a begin: if that utterance was
 * aborted while it waited, its commands are dropped unheard. */
static int drop_aborted(asr_stream *s)
{
    uint64_t id = s->head->utterance;
    struct asr_cmd *c = s->head;
    while (c && c->utterance == id && c->kind != CMD_ABORT)
        c = c->next;
    if (!c || c->utterance != id)
        return 0;
    struct asr_cmd *rest = c->next;
    c->next = NULL;
    for (struct asr_cmd *k = s->head; k; k = k->next)
        if (k->kind == CMD_AUDIO)
            s->queued_samples -= k->pcm.len;
    free_cmds(s->head);
    s->head = rest;
    if (!rest)
        s->tail = NULL;
    return 1;
}

static void run_cmd(asr_stream *s, struct asr_cmd *c)
{
    const struct asr_engine *e = s->m->engine;
    char err[256];
    switch (c->kind) {
    case CMD_BEGIN:
        if (s->utt)
            e->release(s->m->state, s->utt);
        s->kept.len = 0;
        s->kept_overflow = 0;
        s->speculated = 0;
        s->utt_id = c->utterance;
        s->last_partial[0] = 0;
        s->last_partial_us = clock_now_us();
        s->cpu_us = s->samples = 0;
        atomic_store(&s->cancel, 0);
        s->utt = e->begin(s->m->state, &s->cancel, err, sizeof err);
        if (!s->utt) {
            release_decoder(s);
            report_error(s, c->utterance, err);
            break;
        }
        if (e->adapt_in)
            e->adapt_in(s->utt, &s->adapt);
        settle_partials(s);
        break;
    case CMD_AUDIO: {
        if (!s->utt || c->utterance != s->utt_id)
            break;
        if (s->kept.len + c->pcm.len <= MAX_KEPT_SAMPLES)
            pcm_append(&s->kept, c->pcm.samples, c->pcm.len);
        else
            s->kept_overflow = 1;
        s->samples += (int64_t)c->pcm.len;
        if (s->speculated)
            break; /* trailing quiet: kept in case speech resumes */
        if (s->has_partials && e->partials && behind(s))
            s->has_partials = e->partials(s->m->state, s->utt, 0);
        int64_t t0 = thread_cpu_us();
        int rc = e->feed(s->utt, c->pcm.samples, c->pcm.len);
        int64_t now = clock_now_us();
        if (rc == 0 && s->has_partials && now - s->last_partial_us >= s->interval_us &&
            partial_affordable(s, now)) {
            const char *hyp = e->hypothesis(s->utt);
            atomic_fetch_add(&s->partial_decodes, 1);
            /* The interval runs from the end of a decode: an engine slower
             * than the interval (Whisper) skips rounds instead of queueing. */
            s->last_partial_us = clock_now_us();
            s->cpu_us += thread_cpu_us() - t0;
            if (asr_transcript_changed(s->last_partial, hyp)) {
                snprintf(s->last_partial, sizeof s->last_partial, "%s", hyp);
                pthread_mutex_lock(&s->lock);
                if (!s->closed && s->cb.partial)
                    s->cb.partial(s->ud, s->utt_id, hyp);
                pthread_mutex_unlock(&s->lock);
            }
        } else {
            s->cpu_us += thread_cpu_us() - t0;
        }
        if (rc)
            report_error(s, s->utt_id, "the recogniser rejected audio");
        break;
    }
    case CMD_SPECULATE:
        if (s->utt && c->utterance == s->utt_id && !s->speculated && !s->kept_overflow) {
            int64_t t0 = thread_cpu_us();
            free(s->spec_text);
            const char *spec = e->finish(s->utt);
            s->spec_text = spec ? strdup(spec) : NULL; /* a failure is retried at the end */
            if (!spec && atomic_load(&s->cancel))
                atomic_fetch_add(&s->cancelled_decodes, 1); /* speech resumed mid-decode */
            s->cpu_us += thread_cpu_us() - t0;
            s->speculated = s->spec_text != NULL;
            if (s->speculated) {
                pthread_mutex_lock(&s->lock);
                if (!s->closed && s->cb.speculative)
                    s->cb.speculative(s->ud, s->utt_id, s->spec_text);
                pthread_mutex_unlock(&s->lock);
            }
        }
        break;
    case CMD_RESUME:
        atomic_store(&s->cancel, 0); /* set by asr_stream_resume to stop a stale speculation */
        if (s->utt && c->utterance == s->utt_id && s->speculated) {
            /* Speech went on: decode the whole utterance again, fresh. */
            int64_t t0 = thread_cpu_us();
            e->release(s->m->state, s->utt);
            s->speculated = 0;
            s->utt = e->begin(s->m->state, &s->cancel, err, sizeof err);
            if (!s->utt) {
                release_decoder(s);
                report_error(s, c->utterance, err);
                break;
            }
            if (e->adapt_in)
                e->adapt_in(s->utt, &s->adapt);
            settle_partials(s);
            for (size_t off = 0; off < s->kept.len; off += 4096)
                e->feed(s->utt, s->kept.samples + off, s->kept.len - off < 4096 ? s->kept.len - off : 4096);
            s->cpu_us += thread_cpu_us() - t0;
        }
        break;
    case CMD_END: {
        if (!s->utt || c->utterance != s->utt_id)
            break;
        int64_t t0 = thread_cpu_us();
        const char *text = s->speculated ? s->spec_text : e->finish(s->utt);
        s->cpu_us += thread_cpu_us() - t0;
        if (!text) {
            if (!atomic_load(&s->cancel)) /* a dropped utterance needs no error */
                report_error(s, s->utt_id, e->error ? e->error(s->utt) : "recognition failed");
            else
                atomic_fetch_add(&s->cancelled_decodes, 1);
        } else {
            if (e->adapt_out) /* what this speaker taught the decoder stays theirs */
                e->adapt_out(s->utt, &s->adapt);
            pthread_mutex_lock(&s->lock);
            if (!s->closed && s->cb.final)
                s->cb.final(s->ud, s->utt_id, text, s->samples / 16, s->cpu_us);
            pthread_mutex_unlock(&s->lock);
        }
        e->release(s->m->state, s->utt);
        s->utt = NULL;
        release_decoder(s);
        break;
    }
    case CMD_ABORT:
        if (s->utt && c->utterance == s->utt_id) {
            e->release(s->m->state, s->utt);
            s->utt = NULL;
            release_decoder(s);
        }
        break;
    }
}

static void stream_job(void *arg)
{
    asr_stream *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        struct asr_cmd *c = s->closed ? NULL : s->head;
        if (!c) {
            s->job_running = 0;
            int closed = s->closed;
            pthread_mutex_unlock(&s->lock);
            if (closed)
                stream_destroy(s);
            return;
        }
        if (c->kind == CMD_BEGIN && !s->has_decoder) {
            if (drop_aborted(s)) {
                pthread_mutex_unlock(&s->lock);
                continue;
            }
            pthread_mutex_unlock(&s->lock);
            int got = take_decoder(s);
            if (got < 0)
                stream_destroy(s);
            if (got <= 0)
                return; /* parked: the job ends here */
            pthread_mutex_lock(&s->lock);
        }
        s->head = c->next;
        if (!s->head)
            s->tail = NULL;
        if (c->kind == CMD_AUDIO)
            s->queued_samples -= c->pcm.len;
        s->running_cmd = 1;
        pthread_mutex_unlock(&s->lock);
        run_cmd(s, c);
        atomic_fetch_add(&s->progress, 1);
        c->next = NULL;
        free_cmds(c);
        pthread_mutex_lock(&s->lock);
        s->running_cmd = 0;
        pthread_mutex_unlock(&s->lock);
    }
}

/* Appends a command (merging audio into a trailing audio command) and makes
 * sure a job is scheduled. Called on the loop thread. */
static int enqueue(asr_stream *s, enum cmd_kind kind, const int16_t *pcm, size_t n)
{
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    if (kind == CMD_AUDIO && s->queued_samples + n > MAX_QUEUED_SAMPLES) {
        pthread_mutex_unlock(&s->lock);
        return -1;
    }
    if (kind == CMD_AUDIO && s->tail && s->tail->kind == CMD_AUDIO && s->tail->utterance == s->utterance &&
        s->tail->pcm.len + n <= MAX_MERGED_SAMPLES) {
        rc = pcm_append(&s->tail->pcm, pcm, n);
    } else {
        struct asr_cmd *c = calloc(1, sizeof *c);
        if (!c || (kind == CMD_AUDIO && pcm_append(&c->pcm, pcm, n))) {
            free(c);
            pthread_mutex_unlock(&s->lock);
            return -1;
        }
        c->kind = kind;
        c->utterance = s->utterance;
        if (s->tail)
            s->tail->next = c;
        else
            s->head = c;
        s->tail = c;
    }
    if (kind == CMD_AUDIO && rc == 0)
        s->queued_samples += n;
    if (!s->job_running && !s->parked) {
        if (schedule(s, kind == CMD_END || kind == CMD_SPECULATE) == 0)
            s->job_running = 1;
        else
            rc = -1;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int asr_stream_begin(asr_stream *s, uint64_t utterance)
{
    pthread_mutex_lock(&s->lock);
    s->utterance = utterance;
    pthread_mutex_unlock(&s->lock);
    return enqueue(s, CMD_BEGIN, NULL, 0);
}

int asr_stream_push(asr_stream *s, const int16_t *pcm, size_t n) { return enqueue(s, CMD_AUDIO, pcm, n); }
int asr_stream_end(asr_stream *s) { return enqueue(s, CMD_END, NULL, 0); }
int asr_stream_partial_decodes(asr_stream *s) { return atomic_load(&s->partial_decodes); }

int asr_stream_abort(asr_stream *s)
{
    atomic_store(&s->cancel, 1);
    return enqueue(s, CMD_ABORT, NULL, 0);
}
int asr_stream_speculate(asr_stream *s) { return enqueue(s, CMD_SPECULATE, NULL, 0); }
int asr_stream_resume(asr_stream *s)
{
    /* A speculative final still decoding is stale now: stop it, so the
     * re-decode does not wait behind it. */
    atomic_store(&s->cancel, 1);
    return enqueue(s, CMD_RESUME, NULL, 0);
}

int asr_stream_cancelled_decodes(asr_stream *s) { return atomic_load(&s->cancelled_decodes); }

unsigned asr_stream_progress(asr_stream *s) { return atomic_load(&s->progress); }

int asr_stream_waiting(asr_stream *s)
{
    pthread_mutex_lock(&s->lock);
    int waiting = s->parked || (s->head && !s->running_cmd);
    pthread_mutex_unlock(&s->lock);
    return waiting;
}

void asr_stream_free(asr_stream *s)
{
    if (!s)
        return;
    atomic_store(&s->cancel, 1); /* a running decode stops early */
    asr_model *m = s->m;
    pthread_mutex_lock(&m->lock);
    pthread_mutex_lock(&s->lock);
    if (s->parked) { /* leave the queue for a decoder */
        asr_stream **pp = &m->wait_head, *prev = NULL;
        while (*pp && *pp != s)
            prev = *pp, pp = &(*pp)->wait_next;
        if (*pp) {
            *pp = s->wait_next;
            if (m->wait_tail == s)
                m->wait_tail = prev;
            m->waiting--;
        }
        s->parked = 0;
    }
    s->closed = 1;
    int running = s->job_running;
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_unlock(&m->lock);
    if (!running)
        stream_destroy(s); /* else the job frees it when it sees closed */
}

int asr_transcribe(asr_model *m, const int16_t *pcm, size_t n, char *out, size_t outlen, char *err, size_t errlen)
{
    struct asr_adaptation fresh = {.len = 0}; /* a new speaker: the engine measures them */
    return asr_transcribe_adapted(m, &fresh, pcm, n, out, outlen, err, errlen);
}

int asr_transcribe_adapted(asr_model *m, struct asr_adaptation *adapt, const int16_t *pcm, size_t n, char *out,
                           size_t outlen, char *err, size_t errlen)
{
    const struct asr_engine *e = m->engine;
    void *utt = e->begin(m->state, NULL, err, errlen);
    if (!utt)
        return -1;
    if (adapt && e->adapt_in)
        e->adapt_in(utt, adapt);
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0; off += 4096)
        rc = e->feed(utt, pcm + off, n - off < 4096 ? n - off : 4096);
    const char *text = rc == 0 ? e->finish(utt) : NULL;
    if (text) {
        snprintf(out, outlen, "%s", text);
        if (adapt && e->adapt_out)
            e->adapt_out(utt, adapt);
    } else {
        snprintf(err, errlen, "%s", rc ? "the recogniser rejected the audio" : e->error ? e->error(utt) : "recognition failed");
        rc = -1;
    }
    e->release(m->state, utt);
    return rc;
}

static const char *next_word(const char *p, const char **end)
{
    while (*p && isspace((unsigned char)*p))
        p++;
    const char *q = p;
    while (*q && !isspace((unsigned char)*q))
        q++;
    *end = q;
    return p;
}

int asr_transcript_changed(const char *prev, const char *next)
{
    const char *a = prev, *b = next, *ae, *be;
    for (;;) {
        a = next_word(a, &ae);
        b = next_word(b, &be);
        if (a == ae || b == be)
            return (a == ae) != (b == be);
        if (ae - a != be - b || strncasecmp(a, b, (size_t)(ae - a)))
            return 1;
        a = ae;
        b = be;
    }
}

int asr_count_words(const char *text)
{
    int n = 0;
    const char *end;
    for (const char *p = next_word(text, &end); p != end; p = next_word(end, &end))
        n++;
    return n;
}
