/* The Silero VAD engine (whisper.cpp) under the same endpointer contract as
 * WebRTC: onset and endpoint on real speech (jfk.wav) and on flite speech
 * padded with silence and mixed with fan hum and clicks made by sox; a bad
 * model file is a clear error. Data: ../shared/data and flite/sox. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/audio.h"
#include "vad/vad.h"

#define MAX_EVENTS 64

struct events {
    int n;
    struct {
        enum vad_event_kind kind;
        double t; /* seconds */
    } ev[MAX_EVENTS];
};

static void on_event(void *ud, const struct vad_event *ev)
{
    struct events *e = ud;
    if (ev->kind == VAD_EVENT_AUDIO || e->n == MAX_EVENTS)
        return;
    e->ev[e->n].kind = ev->kind;
    e->ev[e->n].t = (double)(ev->frame_index + 1) * 0.02;
    e->n++;
}

static vad *silero(int aggressiveness)
{
    struct vad_params p = vad_default_params();
    char err[256] = "";
    p.engine = vad_engine_find("silero", err, sizeof err);
    p.model_path = PARLEY_SHARED_DATA "/silero-v6.2.0-ggml.bin";
    p.aggressiveness = aggressiveness;
    p.min_speech_ms = 100;
    p.silence_ms = 500;
    vad *v = p.engine ? vad_new(&p, err, sizeof err) : NULL;
    if (!v)
        fprintf(stderr, "silero: %s\n", err);
    return v;
}

static void run(vad *v, const struct pcm_buf *pcm, struct events *e)
{
    e->n = 0;
    for (size_t off = 0; off < pcm->len; off += 320) {
        size_t n = pcm->len - off < 320 ? pcm->len - off : 320;
        CHECK(vad_process(v, pcm->samples + off, n, on_event, e) == 0);
    }
}

static int make_wav(const char *cmd, const char *path, struct pcm_buf *out)
{
    if (system(cmd) != 0)
        return -1;
    char err[256];
    return wav_read(path, out, err, sizeof err);
}

int main(void)
{
    char err[256];
    struct pcm_buf jfk;
    CHECK(wav_read(PARLEY_SHARED_DATA "/jfk.wav", &jfk, err, sizeof err) == 0 && jfk.sample_rate == 16000);

    /* Real speech: "And so my fellow Americans ..." starts at ~0.3 s; the
     * last word ends close to the clip's end, so a second of silence is
     * added for the endpoint to be reached. */
    int16_t quiet[16000] = {0};
    pcm_append(&jfk, quiet, 16000);
    vad *v = silero(2);
    CHECK(v != NULL);
    struct events e;
    run(v, &jfk, &e);
    CHECK(e.n >= 2 && e.ev[0].kind == VAD_EVENT_START);
    CHECK(e.ev[0].t > 0.1 && e.ev[0].t < 1.0);
    int ends = 0;
    double last_end = 0;
    for (int i = 0; i < e.n; i++)
        if (e.ev[i].kind == VAD_EVENT_END) {
            ends++;
            last_end = e.ev[i].t;
        }
    /* Its four phrases, split at the speaker's pauses, the last one closed
     * by the added silence. */
    CHECK(ends == 4 && e.n == 8 && e.ev[e.n - 1].kind == VAD_EVENT_END);
    CHECK(last_end > 10.5 && last_end <= 12.0);
    fprintf(stderr, "jfk: first start %.2f s, %d ends, last end %.2f s:", e.ev[0].t, ends, last_end);
    for (int i = 0; i < e.n; i++)
        fprintf(stderr, " %s@%.2f", e.ev[i].kind == VAD_EVENT_START ? "start" : "end", e.ev[i].t);
    fprintf(stderr, "\n");
    vad_free(v);

    /* flite speech after 2 s of fan hum with clicks, then 2 s of hum. */
    char dir[] = "/tmp/parley-silero-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char cmd[2048], speech[300], noisy[300];
    snprintf(speech, sizeof speech, "%s/speech.wav", dir);
    snprintf(noisy, sizeof noisy, "%s/noisy.wav", dir);
    snprintf(cmd, sizeof cmd,
             "flite -voice slt -t 'Please turn on the kitchen lights.' -o %s/raw.wav && "
             "sox -R %s/raw.wav -r 16000 -c 1 -b 16 %s pad 2 2 && "
             "sox -R -n -r 16000 -c 1 -b 16 %s/hum.wav synth 0:06 brownnoise vol 0.08 && "
             "sox -R -n -r 16000 -c 1 -b 16 %s/click.wav synth 0.004 square 2000 vol 0.6 pad 0 0.246 repeat 23 && "
             "sox -R -m %s %s/hum.wav %s/click.wav %s trim 0 6",
             dir, dir, speech, dir, dir, speech, dir, dir, noisy);
    struct pcm_buf mixed;
    CHECK(make_wav(cmd, noisy, &mixed) == 0);
    v = silero(2);
    run(v, &mixed, &e);
    CHECK(e.n >= 1 && e.ev[0].kind == VAD_EVENT_START);
    /* Not before the speech (2 s), and confirmed soon after it starts. */
    CHECK(e.ev[0].t > 2.0 && e.ev[0].t < 2.6);
    CHECK(e.n >= 2 && e.ev[1].kind == VAD_EVENT_END && e.ev[1].t > 3.5 && e.ev[1].t < 5.5);
    fprintf(stderr, "noisy flite: start %.2f s, end %.2f s, %d events\n", e.ev[0].t, e.n > 1 ? e.ev[1].t : -1.0, e.n);
    vad_free(v);

    /* The second opinion barge-in asks: the speech is speech within its
     * first 300 ms; a cough (the barge-in bench's: 150 ms of pink noise),
     * keyboard clicks and hum are not, however long it listens. */
    {
        const struct vad_engine *eng = vad_engine_find("silero", err, sizeof err);
        vad_opinion *o = vad_opinion_new(eng, PARLEY_SHARED_DATA "/silero-v6.2.0-ggml.bin", 2, err, sizeof err);
        CHECK(o != NULL);
        struct pcm_buf flite_speech, cough, clicks;
        snprintf(cmd, sizeof cmd,
                 "sox -R %s/raw.wav -r 16000 -c 1 -b 16 %s/speech0.wav && "
                 "sox -R -n -r 16000 -c 1 -b 16 %s/cough.wav synth 0.15 pinknoise fade q 0.01 0.15 0.09 vol 0.6 pad 0 0.5 && "
                 "sox -R -n -r 16000 -c 1 -b 16 %s/clicks.wav synth 0.006 whitenoise fade q 0 0.006 0.005 vol 0.7 pad 0 0.12 repeat 5",
                 dir, dir, dir, dir);
        char path[400];
        snprintf(path, sizeof path, "%s/clicks.wav", dir);
        CHECK(make_wav(cmd, path, &clicks) == 0);
        snprintf(path, sizeof path, "%s/speech0.wav", dir);
        CHECK(wav_read(path, &flite_speech, err, sizeof err) == 0);
        snprintf(path, sizeof path, "%s/cough.wav", dir);
        CHECK(wav_read(path, &cough, err, sizeof err) == 0);
        if (o) {
            vad_opinion_reset(o);
            size_t first = 0; /* skip flite's own lead-in quiet */
            while (first < flite_speech.len && abs(flite_speech.samples[first]) < 300)
                first++;
            size_t n300 = first + 300 * 16 < flite_speech.len ? first + 300 * 16 : flite_speech.len;
            CHECK(vad_opinion_feed(o, flite_speech.samples, n300) == 1);
            vad_opinion_reset(o);
            CHECK(vad_opinion_feed(o, cough.samples, cough.len) == 0);
            vad_opinion_reset(o);
            CHECK(vad_opinion_feed(o, clicks.samples, clicks.len) == 0);
            vad_opinion_reset(o);
            CHECK(vad_opinion_feed(o, mixed.samples, 16000) == 0); /* the first second: hum and clicks */
        }
        vad_opinion_free(o);
        pcm_free(&flite_speech);
        pcm_free(&cough);
        pcm_free(&clicks);
    }

    /* A wrong file is an error that says what is wrong, not a crash. */
    struct vad_params p = vad_default_params();
    p.engine = vad_engine_find("silero", err, sizeof err);
    p.model_path = PARLEY_SHARED_DATA "/jfk.wav";
    err[0] = 0;
    CHECK(vad_new(&p, err, sizeof err) == NULL && strstr(err, "not a Silero VAD model"));
    p.model_path = "/nonexistent/silero.bin";
    CHECK(vad_new(&p, err, sizeof err) == NULL && strstr(err, "parley models pull"));
    CHECK(vad_engine_find("nope", err, sizeof err) == NULL && strstr(err, "unknown VAD engine"));

    pcm_free(&jfk);
    pcm_free(&mixed);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return check_summary();
}
