/* pocketsphinx engine (Debian's en-us model). Decoders are created lazily up
 * to max_decoders and reused across sessions, so the model files are read
 * once per decoder per process rather than once per session. Live CMN (the
 * cepstral means it adapts to a voice and a microphone) is per speaker: an
 * utterance starts from its own session's means, or a fresh decoder's, and
 * never from whoever used the decoder last. */
#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/feat.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asr/asr.h"

struct ps_model {
    cmd_ln_t *config;
    pthread_mutex_t lock;
    ps_decoder_t **decoders;
    int *in_use;
    int count, max;
    mfcc_t cmn_start[64]; /* the CMN means a fresh decoder starts with */
    int have_cmn_start;
};

/* Live CMN back to a fresh decoder's means. */
static void reset_cmn(struct ps_model *m, ps_decoder_t *ps)
{
    feat_t *f = ps_get_feat(ps);
    if (m->have_cmn_start && f && f->cmn_struct)
        cmn_live_set(f->cmn_struct, m->cmn_start);
}

/* A new speaker's first utterance: the model's starting means fit its
 * voice and microphone badly (live CMN only updates after ~8 s), so the
 * first second is decoded once to measure them, then again with them. */
#define PRIME_SAMPLES 16000

struct ps_utt {
    ps_decoder_t *ps;
    int slot;
    int ended;
    int priming;           /* a speaker with no means yet: this utterance measures them */
    int16_t *prime;        /* the audio so far, to decode again once measured */
    size_t prime_len;
    mfcc_t sum0[64];       /* CMN's accumulators at the start: what the utterance adds is its own */
    int32 nframe0;
};

#define MAX_OPTIONS 32 /* words of asr.pocketsphinx_options */

static int file_exists(const char *path) { return access(path, R_OK) == 0; }

static void *ps_load(const struct asr_params *p, char *err, size_t errlen)
{
    char hmm[1024], lm[1024], dict[1024];
    snprintf(hmm, sizeof hmm, "%s/en-us/en-us", p->model_dir);
    snprintf(lm, sizeof lm, "%s/en-us/en-us.lm.bin", p->model_dir);
    snprintf(dict, sizeof dict, "%s/en-us/cmudict-en-us.dict", p->model_dir);
    if (!file_exists(lm) || !file_exists(dict)) {
        snprintf(err, errlen, "pocketsphinx model not found under %s/en-us (apt-get install pocketsphinx-en-us)",
                 p->model_dir);
        return NULL;
    }
    /* The model files, then the search settings, as one command line. */
    char opts[1024];
    snprintf(opts, sizeof opts, "%s", p->pocketsphinx_options ? p->pocketsphinx_options : "");
    char *argv[8 + MAX_OPTIONS] = {"-hmm", hmm, "-lm", lm, "-dict", dict, "-logfn", "/dev/null"};
    int argc = 8;
    for (char *save = NULL, *w = strtok_r(opts, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (argc == 8 + MAX_OPTIONS) {
            snprintf(err, errlen, "asr.pocketsphinx_options: more than %d words", MAX_OPTIONS);
            return NULL;
        }
        argv[argc++] = w;
    }
    if ((argc - 8) % 2) {
        snprintf(err, errlen, "asr.pocketsphinx_options: '%s' is not -name value pairs", p->pocketsphinx_options);
        return NULL;
    }
    cmd_ln_t *config = cmd_ln_parse_r(NULL, ps_args(), argc, argv, TRUE);
    if (!config) {
        snprintf(err, errlen, "pocketsphinx: bad configuration for %s (asr.pocketsphinx_options: '%s')", hmm,
                 p->pocketsphinx_options ? p->pocketsphinx_options : "");
        return NULL;
    }
    struct ps_model *m = calloc(1, sizeof *m);
    m->max = p->max_decoders > 0 ? p->max_decoders : 1;
    m->decoders = calloc((size_t)m->max, sizeof *m->decoders);
    m->in_use = calloc((size_t)m->max, sizeof *m->in_use);
    m->config = config;
    pthread_mutex_init(&m->lock, NULL);
    /* Load the first decoder now: a broken model is a start-up error, and the
     * first utterance does not pay the load time. */
    m->decoders[0] = ps_init(config);
    if (!m->decoders[0]) {
        snprintf(err, errlen, "pocketsphinx: cannot load the model in %s", hmm);
        free(m->decoders);
        free(m->in_use);
        cmd_ln_free_r(config);
        free(m);
        return NULL;
    }
    m->count = 1;
    feat_t *f = ps_get_feat(m->decoders[0]);
    if (f && f->cmn_struct && f->cmn_struct->veclen <= (int32)(sizeof m->cmn_start / sizeof m->cmn_start[0])) {
        cmn_live_get(f->cmn_struct, m->cmn_start);
        m->have_cmn_start = 1;
    }
    return m;
}

static void ps_unload(void *model)
{
    struct ps_model *m = model;
    for (int i = 0; i < m->count; i++)
        ps_free(m->decoders[i]);
    cmd_ln_free_r(m->config);
    pthread_mutex_destroy(&m->lock);
    free(m->decoders);
    free(m->in_use);
    free(m);
}

static void *ps_begin(void *model, const atomic_int *cancel, char *err, size_t errlen)
{
    (void)cancel; /* a pocketsphinx decode is incremental and short */
    struct ps_model *m = model;
    int slot = -1;
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < m->count; i++)
        if (!m->in_use[i]) {
            slot = i;
            break;
        }
    if (slot < 0 && m->count < m->max) {
        /* Loading takes ~100 ms; it happens on a worker, not the network thread. */
        ps_decoder_t *ps = ps_init(m->config);
        if (ps) {
            slot = m->count++;
            m->decoders[slot] = ps;
        }
    }
    if (slot >= 0)
        m->in_use[slot] = 1;
    pthread_mutex_unlock(&m->lock);
    if (slot < 0) {
        snprintf(err, errlen, "all %d speech recognisers are busy (asr.decoders)", m->max);
        return NULL;
    }
    struct ps_utt *u = calloc(1, sizeof *u);
    if (u) {
        u->ps = m->decoders[slot];
        u->slot = slot;
        u->ended = 0;
        reset_cmn(m, u->ps);
    }
    if (!u || ps_start_utt(u->ps) < 0) {
        snprintf(err, errlen, "pocketsphinx: cannot start an utterance");
        pthread_mutex_lock(&m->lock);
        m->in_use[slot] = 0;
        pthread_mutex_unlock(&m->lock);
        free(u);
        return NULL;
    }
    return u;
}

static void ps_adapt_in(void *utt, const struct asr_adaptation *a)
{
    struct ps_utt *u = utt;
    feat_t *f = ps_get_feat(u->ps);
    cmn_t *c = f ? f->cmn_struct : NULL;
    if (c && a->len == (size_t)c->veclen * sizeof(mfcc_t)) {
        cmn_live_set(c, (const mfcc_t *)(const void *)a->data);
    } else if (c && c->veclen <= 64) { /* a new speaker: measure their means first */
        u->priming = 1;
        memcpy(u->sum0, c->sum, sizeof(mfcc_t) * (size_t)c->veclen);
        u->nframe0 = c->nframe;
    }
}

static void ps_adapt_out(void *utt, struct asr_adaptation *a)
{
    struct ps_utt *u = utt;
    feat_t *f = ps_get_feat(u->ps);
    size_t len = f && f->cmn_struct ? (size_t)f->cmn_struct->veclen * sizeof(mfcc_t) : 0;
    if (len && len <= sizeof a->data) {
        mfcc_t v[ASR_ADAPTATION_MAX / sizeof(mfcc_t)];
        cmn_live_get(f->cmn_struct, v);
        memcpy(a->data, v, len);
        a->len = len;
    }
}

/* The utterance's own cepstral means from the frames decoded so far; then
 * the utterance starts over with them and its audio is decoded again. */
static void prime_and_restart(struct ps_utt *u)
{
    u->priming = 0;
    feat_t *f = ps_get_feat(u->ps);
    cmn_t *c = f ? f->cmn_struct : NULL;
    int32 frames = c ? c->nframe - u->nframe0 : 0;
    if (!c || frames < 10 || c->veclen > 64) {
        free(u->prime);
        u->prime = NULL;
        return; /* too little to measure: keep the starting means */
    }
    mfcc_t mean[64];
    for (int i = 0; i < c->veclen; i++)
        mean[i] = (c->sum[i] - u->sum0[i]) / frames;
    ps_end_utt(u->ps);
    cmn_live_set(c, mean);
    ps_start_utt(u->ps);
    ps_process_raw(u->ps, u->prime, u->prime_len, FALSE, FALSE);
    free(u->prime);
    u->prime = NULL;
}

static int ps_feed(void *utt, const int16_t *pcm, size_t n)
{
    struct ps_utt *u = utt;
    if (u->priming) {
        int16_t *grown = realloc(u->prime, (u->prime_len + n) * sizeof *grown);
        if (grown) {
            memcpy(grown + u->prime_len, pcm, n * sizeof *pcm);
            u->prime = grown;
            u->prime_len += n;
        } else {
            u->priming = 0; /* out of memory: decode with the starting means */
        }
    }
    if (ps_process_raw(u->ps, pcm, n, FALSE, FALSE) < 0)
        return -1;
    if (u->priming && u->prime_len >= PRIME_SAMPLES)
        prime_and_restart(u);
    return 0;
}

static const char *ps_hypothesis(void *utt)
{
    struct ps_utt *u = utt;
    int32 score;
    const char *h = ps_get_hyp(u->ps, &score);
    return h ? h : "";
}

static const char *ps_finish(void *utt)
{
    struct ps_utt *u = utt;
    if (u->priming && !u->ended)
        prime_and_restart(u); /* shorter than a second: measured on what there is */
    if (!u->ended)
        ps_end_utt(u->ps);
    u->ended = 1;
    return ps_hypothesis(utt);
}

static void ps_release(void *model, void *utt)
{
    struct ps_model *m = model;
    struct ps_utt *u = utt;
    if (!u->ended)
        ps_end_utt(u->ps); /* an aborted utterance: leave the decoder idle for the next */
    free(u->prime);
    pthread_mutex_lock(&m->lock);
    m->in_use[u->slot] = 0;
    pthread_mutex_unlock(&m->lock);
    free(u);
}

const struct asr_engine asr_engine_pocketsphinx = {
    .name = "pocketsphinx",
    .holds_decoder = 1,
    .load = ps_load,
    .unload = ps_unload,
    .begin = ps_begin,
    .feed = ps_feed,
    .hypothesis = ps_hypothesis,
    .finish = ps_finish,
    .release = ps_release,
    .adapt_in = ps_adapt_in,
    .adapt_out = ps_adapt_out,
};
