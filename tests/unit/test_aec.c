/* Echo cancellation on a simulated loudspeaker client: flite's voice handed
 * over as reply audio, played back into the microphone at a gain and a delay
 * (the client's playout plus the room), fed in 20 ms frames on a clock the
 * test owns. The echo must fall below the barge-in level floor from the
 * reply's first frames, a question spoken over it must come through, the
 * delay estimate must find the client's delay, and on a line without echo
 * a word spoken over the reply must never be taken for its echo. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aec/aec.h"
#include "check.h"
#include "tts/tts.h"

#define RATE 16000
#define FRAME 320 /* 20 ms */

static struct pcm_buf speech(tts *t, const char *text)
{
    int order[1] = {0};
    struct tts_result r;
    CHECK(tts_speak(t, order, 1, text, NULL, NULL, NULL, &r) == 0);
    return r.pcm;
}

static double dbfs(const int16_t *x, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++)
        e += (double)x[i] * x[i];
    return 10 * log10(e / (double)n / (32768.0 * 32768.0) + 1e-12);
}

struct run {
    double worst_echo_dbfs; /* loudest 100 ms of the cleaned echo alone */
    double worst_late_dbfs; /* the same from 1 s into the reply on */
    double question_in_dbfs, question_out_dbfs;
    double question_words_dbfs;   /* in the recogniser's stream */
    double echo_in_dbfs, echo_words_dbfs; /* the echo's last 3 s, raw and in the recogniser's stream */
    int delay_ms;
};

/* The reply is handed over in 100 ms chunks up to 1 s ahead of playback, as
 * the session paces it; the microphone hears it delay_ms after it plays,
 * at gain_db, and a question begins at question_at_ms (-1: none). */
static struct run simulate(const struct pcm_buf *reply, const struct pcm_buf *question, int delay_ms, double gain_db,
                           int question_at_ms)
{
    struct aec_params p = aec_default_params();
    char err[128];
    aec *a = aec_new(&p, err, sizeof err);
    CHECK(a != NULL);
    struct run res = {.worst_echo_dbfs = -200, .worst_late_dbfs = -200};
    if (!a)
        return res;
    const double g = pow(10, gain_db / 20);
    const int64_t t0 = 5000000; /* µs */
    const size_t delay = (size_t)delay_ms * RATE / 1000, total = reply->len + delay + RATE;
    int16_t *mic = calloc(total, sizeof *mic);
    int16_t *echo_only = calloc(total, sizeof *echo_only);
    for (size_t i = delay; i < total; i++) {
        double e = i - delay < reply->len ? g * reply->samples[i - delay] : 0;
        echo_only[i] = (int16_t)e;
        double q = 0;
        if (question_at_ms >= 0 && i >= (size_t)question_at_ms * RATE / 1000 &&
            i - (size_t)question_at_ms * RATE / 1000 < question->len)
            q = question->samples[i - (size_t)question_at_ms * RATE / 1000];
        double v = e + q + (double)(rand() % 11 - 5); /* a faint noise floor */
        mic[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
    }
    struct pcm_buf out = {0}, words = {0};
    size_t handed = 0;
    for (size_t off = 0; off + FRAME <= total; off += FRAME) {
        int64_t now = t0 + (int64_t)(off + FRAME) * 1000000 / RATE;
        /* the session's pump: 100 ms chunks while less than 1 s is queued */
        while (handed < reply->len && handed < off + RATE) {
            size_t n = reply->len - handed < RATE / 10 ? reply->len - handed : RATE / 10;
            aec_play(a, reply->samples + handed, n, now);
            handed += n;
        }
        CHECK(aec_process(a, mic + off, FRAME, now, &out, &words) == 0);
    }
    CHECK(words.len == out.len);
    CHECK(out.len + FRAME > total - total % FRAME && out.len <= total);
    /* Out is the microphone 1:1 (whole 10 ms frames, nothing held at the
     * end here), so windows line up with the input. */
    size_t q0 = question_at_ms >= 0 ? (size_t)question_at_ms * RATE / 1000 : total;
    for (size_t w = 0; w + 1600 <= out.len && w + 1600 <= q0; w += 1600) {
        double level = dbfs(out.samples + w, 1600);
        if (level > res.worst_echo_dbfs)
            res.worst_echo_dbfs = level;
        if (w >= RATE && level > res.worst_late_dbfs)
            res.worst_late_dbfs = level;
    }
    if (question_at_ms >= 0 && q0 + question->len <= out.len) {
        res.question_in_dbfs = dbfs(question->samples, question->len);
        res.question_out_dbfs = dbfs(out.samples + q0, question->len);
        res.question_words_dbfs = dbfs(words.samples + q0, question->len);
    } else if (reply->len > 3 * RATE && delay + reply->len <= words.len) {
        size_t from = delay + reply->len - 3 * RATE;
        res.echo_in_dbfs = dbfs(echo_only + from, 3 * RATE);
        res.echo_words_dbfs = dbfs(words.samples + from, 3 * RATE);
    }
    struct aec_stats st;
    aec_get_stats(a, &st);
    res.delay_ms = st.delay_ms;
    pcm_free(&out);
    pcm_free(&words);
    free(mic);
    free(echo_only);
    aec_free(a);
    return res;
}

/* A client with its own canceller (no echo at all) starts its microphone
 * offset_ms after the reply starts playing and sends 300 ms of digital
 * quiet, word, 1 s of quiet: the pattern of a short "okay" over the reply.
 * 1 when no echo was found and the recogniser's stream is the microphone
 * sample for sample. */
static int backchannel_passes(const struct pcm_buf *reply, const struct pcm_buf *word, int offset_ms)
{
    aec *a = aec_new(NULL, NULL, 0);
    CHECK(a != NULL);
    if (!a)
        return 0;
    const size_t lead = RATE * 3 / 10, total = lead + word->len + RATE;
    int16_t *mic = calloc(total, sizeof *mic);
    CHECK(mic != NULL);
    if (!mic) {
        aec_free(a);
        return 0;
    }
    memcpy(mic + lead, word->samples, word->len * sizeof *mic);
    struct pcm_buf out = {0}, words = {0};
    const int64_t t0 = 5000000, mic0 = t0 + (int64_t)offset_ms * 1000;
    size_t handed = 0, off = 0;
    for (int64_t now = t0; off + FRAME <= total; now += 20000) {
        size_t played = (size_t)((now - t0) * RATE / 1000000);
        while (handed < reply->len && handed < played + RATE) {
            size_t n = reply->len - handed < RATE / 10 ? reply->len - handed : RATE / 10;
            aec_play(a, reply->samples + handed, n, now);
            handed += n;
        }
        if (now >= mic0 + 20000) {
            CHECK(aec_process(a, mic + off, FRAME, now, &out, &words) == 0);
            off += FRAME;
        }
    }
    struct aec_stats st;
    aec_get_stats(a, &st);
    int whole = words.len == total && !memcmp(words.samples, mic, total * sizeof *mic);
    int ok = st.delay_ms == -1 && whole;
    if (!ok)
        printf("a word %d ms into the reply on a line without echo: delay found %d ms, the recogniser's stream %s\n",
               offset_ms, st.delay_ms, whole ? "whole" : "changed");
    pcm_free(&out);
    pcm_free(&words);
    free(mic);
    aec_free(a);
    return ok;
}

int main(void)
{
    char err[256];
    struct tts_params tp = tts_default_params();
    tp.chain = "flite";
    tts *t = tts_new(&tp, err, sizeof err);
    CHECK(t != NULL);
    if (!t)
        return check_summary();
    struct pcm_buf reply = speech(t, "The ocean covers most of the planet. It holds countless creatures. "
                                     "Whales sing across great distances, and coral reefs shelter fish.");
    struct pcm_buf question = speech(t, "Wait, what time is it in London?");
    double reply_level = dbfs(reply.samples, reply.len);

    /* The echo alone, at the grid: under the barge-in floor (-45
     * dBFS) everywhere from the first frames on, for delays within WebRTC's
     * own reach; a 300 ms delay is beyond it until the estimate finds it
     * (~0.8 s in), and under the floor from then on. */
    const int delays[] = {60, 150, 300};
    const double gains[] = {-30, -20, -12};
    for (int d = 0; d < 3; d++) {
        for (int g = 0; g < 3; g++) {
            struct run r = simulate(&reply, NULL, delays[d], gains[g], -1);
            printf("echo %+.0f dB (%.1f dBFS), %d ms: loudest 100 ms after cancelling %.1f dBFS (after 1 s %.1f), delay found %d ms; "
                   "the recogniser's stream: echo %.1f -> %.1f dBFS\n",
                   gains[g], reply_level + gains[g], delays[d], r.worst_echo_dbfs, r.worst_late_dbfs, r.delay_ms, r.echo_in_dbfs,
                   r.echo_words_dbfs);
            CHECK(delays[d] > 150 || r.worst_echo_dbfs < -45);
            CHECK(r.worst_late_dbfs < -45);
            CHECK(r.echo_words_dbfs < r.echo_in_dbfs - 10); /* the linear canceller removes most of it */
        }
    }
    /* A question over the echo comes through (the suppressor trims a few dB
     * while both talk), and the delay is found. */
    for (int d = 0; d < 3; d++) {
        struct run r = simulate(&reply, &question, delays[d], -20, 3000);
        printf("question over the echo (%d ms): %.1f dBFS in, %.1f dBFS for the decisions, %.1f dBFS for the "
               "recogniser; delay found %d ms\n",
               delays[d], r.question_in_dbfs, r.question_out_dbfs, r.question_words_dbfs, r.delay_ms);
        CHECK(r.question_out_dbfs > r.question_in_dbfs - 10);
        CHECK(fabs(r.question_words_dbfs - r.question_in_dbfs) < 1); /* whole for the recogniser */
        CHECK(r.delay_ms >= delays[d] - 20 && r.delay_ms <= delays[d] + 20);
    }
    /* A client that cancels its own echo: nothing to find, and a question
     * over the reply passes as it came. */
    {
        struct run r = simulate(&reply, &question, 0, -200, 1500);
        printf("question on a line without echo: %.1f dBFS in, %.1f dBFS out; delay found %d ms\n", r.question_in_dbfs,
               r.question_out_dbfs, r.delay_ms);
        CHECK(r.question_out_dbfs > r.question_in_dbfs - 1);
        CHECK(r.delay_ms == -1);
    }
    /* A user who speaks in step with the reply is not its echo: whenever
     * the word comes, the delay estimate finds nothing and the recogniser
     * gets the word alone (a chance match once let the linear filter add the
     * reply to the quiet around it, and "okay" was heard as three words). */
    {
        struct pcm_buf okay = speech(t, "Okay.");
        int passed = 0, tried = 0;
        for (int ms = -200; ms <= 1500; ms += 20, tried++)
            passed += backchannel_passes(&reply, &okay, ms);
        printf("a word over the reply on a line without echo: passed whole at %d of %d offsets\n", passed, tried);
        CHECK(passed == tried);
        pcm_free(&okay);
    }
    /* Away from reply audio the microphone passes untouched. */
    {
        aec *a = aec_new(NULL, err, sizeof err);
        struct pcm_buf out = {0};
        for (size_t off = 0; off + FRAME <= question.len; off += FRAME)
            CHECK(aec_process(a, question.samples + off, FRAME, 1000000 + (int64_t)(off + FRAME) * 1000000 / RATE, &out, NULL) == 0);
        CHECK(out.len == question.len - question.len % FRAME);
        CHECK(out.len && !memcmp(out.samples, question.samples, out.len * 2));
        pcm_free(&out);
        aec_free(a);
    }
    CHECK(aec_new(&(struct aec_params){.sample_rate = 44100}, err, sizeof err) == NULL);
    pcm_free(&reply);
    pcm_free(&question);
    tts_free(t);
    return check_summary();
}
