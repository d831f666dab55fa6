/* The echo canceller's timeline: where each piece of reply audio plays on
 * the microphone's clock, the coarse delay estimate, and the 10 ms framing
 * the engine needs. Positions are sample counts at the microphone rate since
 * the clock's zero. */
#include "aec/aec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aec/aec_engine.h"

/* The delay estimate: energy envelopes in 10 ms frames over the last
 * ESTIMATE_WINDOW frames, recomputed every ESTIMATE_EVERY frames. */
#define ESTIMATE_WINDOW 200
#define ESTIMATE_EVERY 5
#define ESTIMATE_MIN_FRAMES 50
#define ESTIMATE_MIN_CORR 0.7
/* ...and the microphone under the reference's loud frames (within
 * LOUD_RANGE_DB of its loudest, ESTIMATE_MIN_LOUD of them at least) must
 * keep to one gain within ESTIMATE_MAX_SPREAD_DB. */
#define LOUD_RANGE_DB 15.0f
#define ESTIMATE_MIN_LOUD 20
#define ESTIMATE_MAX_SPREAD_DB 6.0
#define ESTIMATE_MOVE_MARGIN 0.1 /* a new lag must match this much better than the one in use */
/* The engine aligns within about 0..150 ms of the reference itself. Before
 * any estimate the reference is read INITIAL_SHIFT_MS behind, so it reaches
 * the common 30..180 ms (a client's playout plus a room); a found delay
 * outside [shift, shift + ENGINE_OWN_REACH_MS - 20] moves the shift to leave
 * the engine ENGINE_MARGIN_MS to find. */
#define INITIAL_SHIFT_MS 30
#define ENGINE_MARGIN_MS 50
#define ENGINE_OWN_REACH_MS 150
/* The engine runs while reference audio lies within this reach behind the
 * shifted frame (its own search plus an echo tail). */
#define ENGINE_REACH_MS 400
/* When the shift moves, the engine must find the echo again; meanwhile a
 * frame quieter than the loudest reference within max_delay_ms by more than
 * ECHO_MAX_GAIN_DB cannot be told from echo and is muted (speech over the
 * assistant is louder and passes). Only on a line where an echo was found. */
#define SETTLE_FRAMES 30
#define ECHO_MAX_GAIN_DB (-10.0f)
/* A microphone stream that jumps by more than this against the clock (a
 * pause, a burst after a stall) is placed again from its arrival time. */
#define RESYNC_MS 100

struct aec_params aec_default_params(void)
{
    return (struct aec_params){
        .sample_rate = 16000, .reference_rate = 16000, .max_delay_ms = 500, .lead_ms = 1000, .suppression = 1};
}

struct aec {
    struct aec_params p;
    /* Two cancellers on the same aligned reference: one suppresses every
     * trace of echo (for the VAD and barge-in), one only subtracts it and
     * keeps the user's words whole (for the recogniser). Made on the first
     * reference audio. */
    const struct aec_engine *engine, *words_engine;
    void *state, *words_state;
    int16_t *words_frame;
    int frame;   /* samples in 10 ms */
    resampler *ref_rs;
    struct pcm_buf ref_tmp;

    int16_t *ring; /* reference audio by position: ring[pos % cap] */
    uint8_t *played; /* bit pos % cap: reply audio there, not the quiet between replies */
    int64_t cap, far_begin, far_end; /* [far_begin, far_end) is written */
    int played_any;

    int64_t mic_next; /* position of the next microphone sample; -1: not placed */
    int16_t *acc, *cleaned, *ref_frame;
    int acc_n;
    int64_t acc_pos;

    /* Envelopes for the delay estimate, in frames (dB), ESTIMATE_WINDOW +
     * max lag long, newest at hist_n - 1 (a sliding array); far_db is -1
     * where no reply audio played over the whole frame. */
    float *mic_db, *far_db;
    int hist_cap, hist_n, since_estimate;
    int delay_frames; /* -1: unknown */
    int candidate;    /* the last estimate's lag, -1: none */
    int64_t shift;    /* samples the reference is read behind the frame */
    int settled;      /* frames since the shift last moved (SETTLE_FRAMES: long enough) */
    int frames_heard; /* frames run with reference audio in reach, up to a cap */

    int active;
    uint64_t frames_cancelled, frames_muted;
};

aec *aec_new(const struct aec_params *params, char *err, size_t errlen)
{
    struct aec_params p = params ? *params : aec_default_params();
    if (p.sample_rate != 8000 && p.sample_rate != 16000) {
        snprintf(err, errlen, "echo cancellation needs 8 or 16 kHz audio, not %d Hz", p.sample_rate);
        return NULL;
    }
    if (p.max_delay_ms < 0 || p.max_delay_ms > 2000 || p.lead_ms < 0 || p.lead_ms > 60000 || p.reference_rate < 8000 ||
        p.suppression < 0 || p.suppression > 2) {
        snprintf(err, errlen, "echo cancellation: parameters out of range");
        return NULL;
    }
    aec *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->p = p;
    a->engine = &aec_engine_webrtc;
    a->words_engine = &aec_engine_speex;
    a->frame = p.sample_rate / 100;
    a->cap = (int64_t)(p.lead_ms + p.max_delay_ms + ENGINE_REACH_MS + 1000) * p.sample_rate / 1000;
    a->hist_cap = ESTIMATE_WINDOW + p.max_delay_ms / 10 + 1;
    a->mic_next = -1;
    a->delay_frames = -1;
    a->candidate = -1;
    a->shift = (int64_t)INITIAL_SHIFT_MS * p.sample_rate / 1000;
    a->settled = SETTLE_FRAMES;
    a->acc = calloc((size_t)a->frame, sizeof *a->acc);
    a->cleaned = calloc((size_t)a->frame, sizeof *a->cleaned);
    a->words_frame = calloc((size_t)a->frame, sizeof *a->words_frame);
    a->ref_frame = calloc((size_t)a->frame, sizeof *a->ref_frame);
    a->mic_db = calloc((size_t)a->hist_cap, sizeof *a->mic_db);
    a->far_db = calloc((size_t)a->hist_cap, sizeof *a->far_db);
    if (p.reference_rate != p.sample_rate)
        a->ref_rs = resampler_new(p.reference_rate, p.sample_rate);
    if (!a->acc || !a->cleaned || !a->words_frame || !a->ref_frame || !a->mic_db || !a->far_db ||
        (p.reference_rate != p.sample_rate && !a->ref_rs)) {
        snprintf(err, errlen, "out of memory");
        aec_free(a);
        return NULL;
    }
    return a;
}

void aec_free(aec *a)
{
    if (!a)
        return;
    if (a->state)
        a->engine->destroy(a->state);
    if (a->words_state)
        a->words_engine->destroy(a->words_state);
    free(a->words_frame);
    resampler_free(a->ref_rs);
    pcm_free(&a->ref_tmp);
    free(a->ring);
    free(a->played);
    free(a->acc);
    free(a->cleaned);
    free(a->ref_frame);
    free(a->mic_db);
    free(a->far_db);
    free(a);
}

static int64_t position(const aec *a, int64_t now_us) { return now_us * a->p.sample_rate / 1000000; }

static int16_t ref_at(const aec *a, int64_t pos)
{
    return pos >= a->far_begin && pos < a->far_end ? a->ring[pos % a->cap] : 0;
}

static void mark_played(aec *a, int64_t pos, int on)
{
    int64_t i = pos % a->cap;
    if (on)
        a->played[i / 8] |= (uint8_t)(1u << (i % 8));
    else
        a->played[i / 8] &= (uint8_t)~(1u << (i % 8));
}

/* 1 when reply audio plays over the whole frame from pos: only such frames
 * tell anything about the echo. Before a reply, after it and between two,
 * a quiet microphone proves nothing, and a user starting to talk as the
 * reply starts would look like its echo. */
static int played_over(const aec *a, int64_t pos)
{
    if (pos < a->far_begin || pos + a->frame > a->far_end)
        return 0;
    for (int64_t p = pos; p < pos + a->frame; p++) {
        int64_t i = p % a->cap;
        if (!(a->played[i / 8] & (1u << (i % 8))))
            return 0;
    }
    return 1;
}

void aec_play(aec *a, const int16_t *pcm, size_t n, int64_t now_us)
{
    if (!a->ring) { /* the first reply: the canceller's memory is made now */
        a->ring = calloc((size_t)a->cap, sizeof *a->ring);
        a->played = calloc((size_t)a->cap / 8 + 1, 1);
        if (!a->ring || !a->played) {
            free(a->ring);
            free(a->played);
            a->ring = NULL;
            a->played = NULL;
            return;
        }
    }
    if (a->ref_rs) {
        a->ref_tmp.len = 0;
        if (resampler_process(a->ref_rs, pcm, n, &a->ref_tmp) != 0)
            return;
        pcm = a->ref_tmp.samples;
        n = a->ref_tmp.len;
    }
    int64_t now = position(a, now_us);
    /* The client plays it after what it still has queued, or at once. */
    int64_t start = a->played_any && a->far_end > now ? a->far_end : now;
    if (!a->played_any || start - a->far_end >= a->cap) {
        a->far_begin = a->far_end = start;
    } else {
        for (int64_t p = a->far_end; p < start; p++) { /* silence between replies */
            a->ring[p % a->cap] = 0;
            mark_played(a, p, 0);
        }
    }
    for (size_t i = 0; i < n; i++) {
        a->ring[(start + (int64_t)i) % a->cap] = pcm[i];
        mark_played(a, start + (int64_t)i, 1);
    }
    a->far_end = start + (int64_t)n;
    if (a->far_end - a->far_begin > a->cap)
        a->far_begin = a->far_end - a->cap;
    a->played_any = 1;
}

void aec_stop_playback(aec *a, int64_t now_us)
{
    int64_t now = position(a, now_us);
    if (a->played_any && a->far_end > now)
        a->far_end = now > a->far_begin ? now : a->far_begin;
}

static double energy(const int16_t *x, int n)
{
    double e = 0;
    for (int i = 0; i < n; i++)
        e += (double)x[i] * x[i];
    return e;
}

static float level_db(const int16_t *x, int n) { return (float)(10 * log10(energy(x, n) / n + 1.0)); }

/* The first microphone frame compared at lag: the last ESTIMATE_WINDOW,
 * and none whose reference frame would lie before the envelopes began. */
static int window_start(int end, int lag) { return end - ESTIMATE_WINDOW > lag ? end - ESTIMATE_WINDOW : lag; }

/* How far the microphone strays from a fixed gain under the reference's
 * loud frames at lag (standard deviation of their level difference, dB):
 * an echo follows the reference there within a few dB, while a user who
 * happens to talk in step with it is silent under some loud frames and far
 * louder under others. */
static double echo_spread_db(const aec *a, int lag, int from, int end)
{
    float loudest = 0;
    for (int k = from; k < end; k++)
        loudest = a->far_db[k - lag] > loudest ? a->far_db[k - lag] : loudest;
    double s = 0, ss = 0;
    int n = 0;
    for (int k = from; k < end; k++) {
        float f = a->far_db[k - lag];
        if (f < 0 || f < loudest - LOUD_RANGE_DB)
            continue;
        double d = a->mic_db[k] - f;
        s += d, ss += d * d, n++;
    }
    if (n < ESTIMATE_MIN_LOUD)
        return 1e9;
    double var = ss / n - (s / n) * (s / n);
    return var > 0 ? sqrt(var) : 0;
}

/* Finds the lag (in frames) at which the microphone's envelope best follows
 * the reference's: the client's playout delay plus the room's. Kept only
 * when the match is clear (double talk and silence leave it as it was). */
static void estimate_delay(aec *a)
{
    int max_lag = a->p.max_delay_ms / 10;
    int end = a->hist_n; /* the microphone's frames [from, end) against the reference's lag earlier */
    double best = -2, current = -2; /* current: at the lag in use */
    int best_lag = -1;
    for (int lag = 0; lag <= max_lag && end - lag >= ESTIMATE_MIN_FRAMES; lag++) {
        int from = window_start(end, lag), w = 0;
        double sm = 0, sf = 0, smm = 0, sff = 0, smf = 0;
        for (int k = from; k < end; k++) {
            double m = a->mic_db[k], f = a->far_db[k - lag];
            if (f < 0)
                continue; /* no reply audio there: no evidence either way */
            sm += m, sf += f, smm += m * m, sff += f * f, smf += m * f;
            w++;
        }
        if (w < ESTIMATE_MIN_FRAMES)
            continue;
        double vm = smm - sm * sm / w, vf = sff - sf * sf / w;
        if (vf < w * 9.0 || vm <= 0) /* the reference must vary (speech, by 3 dB or more) */
            continue;
        double c = (smf - sm * sf / w) / sqrt(vm * vf);
        if (c > best)
            best = c, best_lag = lag;
        if (lag == a->delay_frames)
            current = c;
    }
    if (best < ESTIMATE_MIN_CORR) {
        a->candidate = -1;
        return;
    }
    if (echo_spread_db(a, best_lag, window_start(end, best_lag), end) > ESTIMATE_MAX_SPREAD_DB) {
        a->candidate = -1;
        return; /* in step by chance: speech over the reply, not its echo */
    }
    /* A lag is taken when two estimates in a row agree on it: a reply's
     * first half second can match by chance. */
    int agreed = a->candidate >= 0 && abs(best_lag - a->candidate) <= 2;
    a->candidate = best_lag;
    if (!agreed || (a->delay_frames >= 0 && abs(best_lag - a->delay_frames) * 10 < 30))
        return; /* unconfirmed, or within the engine's own reach of the last: leave it settled */
    if (a->delay_frames >= 0 && best < current + ESTIMATE_MOVE_MARGIN)
        return; /* the user talking over the echo blurs every lag alike: keep the one that held */
    a->delay_frames = best_lag;
    /* Within the engine's own reach it is left to align itself: moving the
     * reference would only make it adapt again. */
    int64_t lag = (int64_t)best_lag * 10 * a->p.sample_rate / 1000;
    int64_t reach = (int64_t)(ENGINE_OWN_REACH_MS - 20) * a->p.sample_rate / 1000;
    if (lag >= a->shift && lag <= a->shift + reach)
        return;
    int64_t shift = lag - (int64_t)ENGINE_MARGIN_MS * a->p.sample_rate / 1000;
    a->shift = shift > 0 ? shift : 0;
    a->settled = 0;
}

static void record_envelopes(aec *a, int64_t pos)
{
    if (a->hist_n == a->hist_cap) {
        memmove(a->mic_db, a->mic_db + 1, (size_t)(a->hist_cap - 1) * sizeof *a->mic_db);
        memmove(a->far_db, a->far_db + 1, (size_t)(a->hist_cap - 1) * sizeof *a->far_db);
        a->hist_n--;
    }
    for (int i = 0; i < a->frame; i++)
        a->ref_frame[i] = ref_at(a, pos + i);
    a->mic_db[a->hist_n] = level_db(a->acc, a->frame);
    a->far_db[a->hist_n] = played_over(a, pos) ? level_db(a->ref_frame, a->frame) : -1;
    a->hist_n++;
    if (++a->since_estimate >= ESTIMATE_EVERY) {
        a->since_estimate = 0;
        estimate_delay(a);
    }
}

/* Runs the engine on the frame in acc, into cleaned: from the first reply
 * (it reaches short delays before any estimate), and after that only once an
 * echo was found: on a line without one (a client with its own canceller)
 * the engine's suppressor would only trim the user's voice. */
static void cancel(aec *a, int64_t read_at)
{
    size_t bytes = (size_t)a->frame * sizeof *a->cleaned;
    memcpy(a->cleaned, a->acc, bytes);
    memcpy(a->words_frame, a->acc, bytes);
    if (a->delay_frames < 0 && a->frames_heard > a->p.max_delay_ms / 10 + SETTLE_FRAMES)
        return;
    char err[128];
    if (!a->state)
        a->state = a->engine->create(a->p.sample_rate, a->p.suppression, err, sizeof err);
    if (!a->words_state)
        a->words_state = a->words_engine->create(a->p.sample_rate, a->p.suppression, err, sizeof err);
    if (!a->state || !a->words_state)
        return; /* no canceller: the audio as it came */
    for (int i = 0; i < a->frame; i++)
        a->ref_frame[i] = ref_at(a, read_at + i);
    if (a->engine->process(a->state, a->acc, a->ref_frame, a->cleaned, (size_t)a->frame) != 0 ||
        a->words_engine->process(a->words_state, a->acc, a->ref_frame, a->words_frame, (size_t)a->frame) != 0) {
        memcpy(a->cleaned, a->acc, bytes);
        memcpy(a->words_frame, a->acc, bytes);
    } else {
        a->frames_cancelled++;
    }
    /* Until an echo is found the recogniser hears the microphone as it came:
     * a linear filter still learning a line with no echo adds a trace of
     * the reply to the user's words (pocketsphinx then heard "okay" as
     * three words). It learns all the same. */
    if (a->delay_frames < 0)
        memcpy(a->words_frame, a->acc, bytes);
    /* Subtracting an echo never makes a frame louder; a canceller that does
     * is adding reply audio that is not there (a filter learnt on the
     * user's voice), so that frame goes as it came. */
    if (energy(a->cleaned, a->frame) > energy(a->acc, a->frame))
        memcpy(a->cleaned, a->acc, bytes);
    if (energy(a->words_frame, a->frame) > energy(a->acc, a->frame))
        memcpy(a->words_frame, a->acc, bytes);
}

/* While the delay is unknown or just moved, mutes what cannot be told from
 * echo (see ECHO_MAX_GAIN_DB). */
static void mute_while_settling(aec *a)
{
    int max_lag = a->p.max_delay_ms / 10;
    if (a->frames_heard <= max_lag + SETTLE_FRAMES)
        a->frames_heard++;
    if (a->delay_frames < 0 || a->settled >= SETTLE_FRAMES)
        return;
    a->settled++;
    float loudest = 0;
    for (int k = a->hist_n - 1; k >= 0 && k >= a->hist_n - 1 - max_lag; k--)
        loudest = a->far_db[k] > loudest ? a->far_db[k] : loudest;
    if (level_db(a->cleaned, a->frame) < loudest + ECHO_MAX_GAIN_DB) {
        memset(a->cleaned, 0, (size_t)a->frame * sizeof *a->cleaned);
        a->frames_muted++;
    }
}

static int run_frame(aec *a, struct pcm_buf *out, struct pcm_buf *words)
{
    int64_t pos = a->acc_pos;
    int64_t reach = (int64_t)ENGINE_REACH_MS * a->p.sample_rate / 1000;
    int64_t read_at = pos - a->shift;
    a->active = a->played_any && a->far_end > read_at - reach && a->far_begin < read_at + a->frame;
    if (!a->active) {
        a->hist_n = 0; /* the envelopes restart with the next reply */
        return pcm_append(out, a->acc, (size_t)a->frame) || (words && pcm_append(words, a->acc, (size_t)a->frame));
    }
    record_envelopes(a, pos);
    cancel(a, read_at);
    mute_while_settling(a);
    return pcm_append(out, a->cleaned, (size_t)a->frame) || (words && pcm_append(words, a->words_frame, (size_t)a->frame));
}

int aec_process(aec *a, const int16_t *mic, size_t n, int64_t now_us, struct pcm_buf *out, struct pcm_buf *words)
{
    int64_t arrived = position(a, now_us) - (int64_t)n; /* where this audio began, by the clock */
    if (a->mic_next < 0 || llabs(arrived - a->mic_next) > (int64_t)RESYNC_MS * a->p.sample_rate / 1000) {
        a->mic_next = arrived; /* the partial frame moves with it */
        a->acc_pos = arrived - a->acc_n;
    }
    for (size_t i = 0; i < n; i++) {
        if (a->acc_n == 0)
            a->acc_pos = a->mic_next;
        a->acc[a->acc_n++] = mic[i];
        a->mic_next++;
        if (a->acc_n == a->frame) {
            a->acc_n = 0;
            if (run_frame(a, out, words) != 0)
                return -1;
        }
    }
    return 0;
}

void aec_get_stats(const aec *a, struct aec_stats *out)
{
    out->delay_ms = a->delay_frames < 0 ? -1 : a->delay_frames * 10;
    out->active = a->active;
    out->frames_cancelled = a->frames_cancelled;
    out->frames_muted = a->frames_muted;
}
