/* The hybrid recogniser (asr.partials pocketsphinx): pocketsphinx decodes
 * each utterance incrementally for partial transcripts and barge-in, which
 * is cheap, and Whisper decodes it whole for the final, which hears real
 * voices. Both engines are composed through their vtables; neither knows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asr/asr.h"

struct hybrid_model {
    void *partials; /* pocketsphinx's model */
    void *finals;   /* Whisper's */
};

struct hybrid_utt {
    struct hybrid_model *m;
    void *partial, *final;
};

static const struct asr_engine *const P = &asr_engine_pocketsphinx;
static const struct asr_engine *const F = &asr_engine_whisper;

static void *hybrid_load(const struct asr_params *p, char *err, size_t errlen)
{
    /* Partials only need the first, incremental pass: no second pass, no
     * lattice, at roughly 80 % of the CPU. The user's own options come last
     * and win. */
    char opts[1200];
    snprintf(opts, sizeof opts, "-fwdflat no -bestpath no %s", p->pocketsphinx_options ? p->pocketsphinx_options : "");
    struct asr_params pp = *p;
    pp.pocketsphinx_options = opts;
    struct hybrid_model *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->finals = F->load(p, err, errlen);
    if (m->finals)
        m->partials = P->load(&pp, err, errlen);
    if (!m->partials) {
        if (m->finals)
            F->unload(m->finals);
        free(m);
        return NULL;
    }
    return m;
}

static void hybrid_unload(void *model)
{
    struct hybrid_model *m = model;
    P->unload(m->partials);
    F->unload(m->finals);
    free(m);
}

static void hybrid_release(void *model, void *utt)
{
    struct hybrid_model *m = model;
    struct hybrid_utt *u = utt;
    if (!u)
        return;
    if (u->partial)
        P->release(m->partials, u->partial);
    if (u->final)
        F->release(m->finals, u->final);
    free(u);
}

static void *hybrid_begin(void *model, const atomic_int *cancel, char *err, size_t errlen)
{
    struct hybrid_model *m = model;
    struct hybrid_utt *u = calloc(1, sizeof *u);
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    u->m = m;
    u->final = F->begin(m->finals, cancel, err, errlen);
    if (!u->final) {
        hybrid_release(m, u);
        return NULL;
    }
    /* Partials are extra: with every pocketsphinx decoder lent out, this
     * utterance goes without them rather than wait for one. */
    char busy[256];
    u->partial = P->begin(m->partials, cancel, busy, sizeof busy);
    return u;
}

static int hybrid_partials(void *model, void *utt, int keep)
{
    struct hybrid_model *m = model;
    struct hybrid_utt *u = utt;
    if (!keep && u->partial) {
        P->release(m->partials, u->partial); /* its decoder goes to the next utterance */
        u->partial = NULL;
    }
    return u->partial != NULL;
}

static int hybrid_feed(void *utt, const int16_t *pcm, size_t n)
{
    struct hybrid_utt *u = utt;
    if (F->feed(u->final, pcm, n))
        return -1;
    return u->partial ? P->feed(u->partial, pcm, n) : 0;
}

static const char *hybrid_hypothesis(void *utt)
{
    struct hybrid_utt *u = utt;
    return u->partial ? P->hypothesis(u->partial) : "";
}

static const char *hybrid_finish(void *utt)
{
    struct hybrid_utt *u = utt;
    return F->finish(u->final);
}

static const char *hybrid_error(void *utt)
{
    struct hybrid_utt *u = utt;
    return F->error(u->final);
}

/* What pocketsphinx adapts to a speaker (its cepstral means) is still its
 * own: it keeps partials accurate for that speaker. */
static void hybrid_adapt_in(void *utt, const struct asr_adaptation *a)
{
    struct hybrid_utt *u = utt;
    if (u->partial)
        P->adapt_in(u->partial, a);
}

static void hybrid_adapt_out(void *utt, struct asr_adaptation *a)
{
    struct hybrid_utt *u = utt;
    if (u->partial) /* an utterance without partials leaves the speaker's means as they were */
        P->adapt_out(u->partial, a);
}

const struct asr_engine asr_engine_hybrid = {
    .name = "hybrid",
    /* Whisper bounds its own decodes; pocketsphinx's decoders serve
     * partials only, and an utterance does not wait for one. */
    .holds_decoder = 0,
    .load = hybrid_load,
    .unload = hybrid_unload,
    .begin = hybrid_begin,
    .feed = hybrid_feed,
    .hypothesis = hybrid_hypothesis,
    .finish = hybrid_finish,
    .error = hybrid_error,
    .release = hybrid_release,
    .adapt_in = hybrid_adapt_in,
    .adapt_out = hybrid_adapt_out,
    .partials = hybrid_partials,
};
