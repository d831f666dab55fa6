/* VAD endpointing on synthetic audio: a voiced harmonic signal between
 * silences gives one start (with pre-roll) and one end after the silence
 * window; a short click does not confirm a start. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "vad/vad.h"

#define RATE 16000

/* A vowel-like signal: 140 Hz harmonics with a formant-shaped envelope. */
static void voiced(int16_t *out, size_t n, size_t phase)
{
    for (size_t i = 0; i < n; i++) {
        double t = (double)(i + phase) / RATE, v = 0;
        for (int k = 1; k * 140 < 3800; k++) {
            double f = k * 140.0;
            double env = exp(-pow((f - 700) / 300, 2)) + 0.6 * exp(-pow((f - 1200) / 400, 2)) + 0.1;
            v += env * sin(2 * M_PI * f * t) / k;
        }
        out[i] = (int16_t)(v * 6000);
    }
}

struct events {
    int starts, ends, audio_frames;
    size_t start_samples;
    uint64_t start_frame, end_frame;
};

static void on_event(void *ud, const struct vad_event *ev)
{
    struct events *e = ud;
    if (ev->kind == VAD_EVENT_START) {
        e->starts++;
        e->start_samples = ev->n;
        e->start_frame = ev->frame_index;
    } else if (ev->kind == VAD_EVENT_END) {
        e->ends++;
        e->end_frame = ev->frame_index;
    } else {
        e->audio_frames++;
    }
}

/* Streams buf in uneven chunks, as a network would deliver it. */
static void feed(vad *v, const int16_t *buf, size_t n, struct events *e)
{
    size_t chunks[] = {123, 320, 7, 640, 1000};
    for (size_t off = 0, k = 0; off < n; k++) {
        size_t c = chunks[k % 5];
        if (off + c > n)
            c = n - off;
        CHECK(vad_process(v, buf + off, c, on_event, e) == 0);
        off += c;
    }
}

int main(void)
{
    char err[256];
    struct vad_params p = vad_default_params();
    p.min_speech_ms = 100;
    p.silence_ms = 500;
    p.preroll_ms = 300;
    vad *v = vad_new(&p, err, sizeof err);
    CHECK(v != NULL);
    CHECK(vad_frame_ms(v) == 20);

    size_t n = 3 * RATE;
    int16_t *buf = calloc(n, sizeof *buf);
    voiced(buf + RATE, RATE, 0); /* 1 s silence, 1 s voice, 1 s silence */
    struct events e = {0};
    feed(v, buf, n, &e);
    CHECK(e.starts == 1);
    CHECK(e.ends == 1);
    /* Start confirmed within ~100-200 ms of onset (frame 50 = 1.0 s). */
    CHECK(e.start_frame >= 50 + 4 && e.start_frame <= 50 + 10);
    /* The hand-over includes the pre-roll before the onset. */
    CHECK(e.start_samples >= (size_t)(0.3 * RATE) + (size_t)(0.1 * RATE));
    /* The end is silence_ms (25 frames) after the last voiced frame (99):
     * the energy gate keeps WebRTC's hangover from delaying it. */
    CHECK(e.end_frame >= 99 + 24 && e.end_frame <= 99 + 26);
    CHECK(!vad_in_speech(v));

    /* A 40 ms click does not confirm speech once min_speech_ms exceeds the
     * classifier's hangover (it reports ~120 ms voiced for a 40 ms click). */
    vad_set_confirmation(v, &(struct vad_confirmation){2, 200, -200, 60});
    struct events c = {0};
    memset(buf, 0, n * sizeof *buf);
    voiced(buf + RATE, RATE / 25, 0);
    feed(v, buf, n, &c);
    CHECK(c.starts == 0);
    vad_set_confirmation(v, &(struct vad_confirmation){2, 100, -200, 60});

    /* Silence alone: nothing. */
    struct events s = {0};
    memset(buf, 0, n * sizeof *buf);
    feed(v, buf, n, &s);
    CHECK(s.starts == 0 && s.ends == 0 && s.audio_frames == 0);

    /* A stricter confirmation (barge-in) needs longer speech. */
    vad_set_confirmation(v, &(struct vad_confirmation){3, 400, -200, 60});
    struct events b = {0};
    voiced(buf + RATE, RATE / 4, 0); /* 250 ms */
    feed(v, buf, n, &b);
    CHECK(b.starts == 0);
    vad_set_confirmation(v, &(struct vad_confirmation){2, 100, -200, 60});
    struct events b2 = {0};
    feed(v, buf, n, &b2);
    CHECK(b2.starts == 1);

    /* A level floor: the same voice 20 dB quieter (echo) does not confirm. */
    struct events q = {0};
    memset(buf, 0, n * sizeof *buf);
    voiced(buf + RATE, RATE, 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = (int16_t)(buf[i] / 10);
    vad_set_confirmation(v, &(struct vad_confirmation){2, 60, -20, 40});
    feed(v, buf, n, &q);
    CHECK(q.starts == 0);
    vad_set_confirmation(v, &(struct vad_confirmation){2, 60, -200, 40});
    feed(v, buf, n, &q);
    CHECK(q.starts == 1);

    /* reset_utterance ends speech without an END event (push-to-talk stop). */
    struct events r = {0};
    memset(buf, 0, n * sizeof *buf);
    voiced(buf, RATE, 0);
    CHECK(vad_process(v, buf, RATE / 2, on_event, &r) == 0);
    CHECK(r.starts == 1 && vad_in_speech(v));
    vad_reset_utterance(v);
    CHECK(!vad_in_speech(v));

    /* Invalid rates are refused with a message. */
    struct vad_params bad = p;
    bad.sample_rate = 11025;
    err[0] = 0;
    CHECK(vad_new(&bad, err, sizeof err) == NULL);
    CHECK(err[0] != 0);

    free(buf);
    vad_free(v);
    return check_summary();
}
