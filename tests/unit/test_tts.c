/* TTS: both engines produce audio at the requested rate, the chain falls
 * back when an engine fails or times out, and cancellation stops at once. */
#include <stdlib.h>

#include "check.h"
#include "tts/tts.h"

struct stream_count {
    size_t samples;
    int chunks;
};

static void count_chunk(void *ud, const int16_t *pcm, size_t n)
{
    struct stream_count *c = ud;
    (void)pcm;
    c->samples += n;
    c->chunks++;
}

static int always(void *ud)
{
    (void)ud;
    return 1;
}

int main(void)
{
    char err[256] = "";
    struct tts_params p = tts_default_params();
    p.out_rate = 22050;
    tts *t = tts_new(&p, err, sizeof err);
    CHECK(t != NULL);
    CHECK(tts_engine_count(t) == 2);
    int order[TTS_MAX_ENGINES];
    CHECK(tts_parse_chain(t, "espeak, flite", order, TTS_MAX_ENGINES, err, sizeof err) == 2);
    CHECK(order[0] == 1 && order[1] == 0);
    CHECK(tts_parse_chain(t, "piper", order, TTS_MAX_ENGINES, err, sizeof err) == -1);
    CHECK(strstr(err, "piper") != NULL);

    const char *text = "Hello, this is a test.";
    for (int e = 0; e < 2; e++) {
        struct tts_result r;
        order[0] = e;
        CHECK(tts_speak(t, order, 1, text, NULL, NULL, NULL, &r) == 0);
        CHECK(r.engine == e);
        /* About 1-3 s of speech at 22050 Hz. */
        CHECK(r.pcm.len > 22050 && r.pcm.len < 22050 * 4);
        CHECK(r.failures[0] == 0);
        tts_result_free(&r);
    }

    /* Streaming gives the same audio in chunks, and no collected buffer. */
    struct tts_result r;
    struct stream_count sc = {0};
    order[0] = 0;
    struct tts_result full;
    CHECK(tts_speak(t, order, 1, text, NULL, NULL, NULL, &full) == 0);
    CHECK(tts_speak(t, order, 1, text, NULL, count_chunk, &sc, &r) == 0);
    CHECK(r.pcm.len == 0 && sc.chunks > 1);
    CHECK(sc.samples + 300 > full.pcm.len && sc.samples < full.pcm.len + 300);
    tts_result_free(&full);

    /* Cancellation: nothing comes back. */
    order[0] = 0;
    CHECK(tts_speak(t, order, 1, text, always, NULL, NULL, &r) == 1);
    CHECK(r.pcm.len == 0);
    tts_free(t);

    /* A failing engine (unknown espeak voice) falls back to the next. */
    p.espeak_voice = "no-such-voice";
    t = tts_new(&p, err, sizeof err);
    CHECK(tts_parse_chain(t, "espeak,flite", order, TTS_MAX_ENGINES, err, sizeof err) == 2);
    CHECK(tts_speak(t, order, 2, text, NULL, NULL, NULL, &r) == 0);
    CHECK(strcmp(tts_engine_name(t, r.engine), "flite") == 0);
    CHECK(strstr(r.failures, "espeak") && strstr(r.failures, "no-such-voice"));
    tts_result_free(&r);
    /* Every engine failing is reported, not crashed on. */
    CHECK(tts_speak(t, order, 1, text, NULL, NULL, NULL, &r) == -1);
    tts_free(t);

    /* A time limit too short for any engine: both time out. */
    p.espeak_voice = "en-us";
    p.timeout_s = 0.000001;
    t = tts_new(&p, err, sizeof err);
    CHECK(tts_parse_chain(t, "flite,espeak", order, TTS_MAX_ENGINES, err, sizeof err) == 2);
    CHECK(tts_speak(t, order, 2, "A longer sentence that takes a while to say.", NULL, NULL, NULL, &r) == -1);
    CHECK(strstr(r.failures, "flite: timed out") && strstr(r.failures, "espeak: timed out"));
    tts_free(t);

    p.chain = "flite,piper";
    CHECK(tts_new(&p, err, sizeof err) == NULL);
    CHECK(strstr(err, "piper") != NULL);
    /* Debian's other flite voices, each at its own rate, resampled to out_rate */
    const char *voice_names[] = {"kal", "kal16", "awb", "rms"};
    for (int i = 0; i < 4; i++) {
        struct tts_params vp = tts_default_params();
        vp.chain = "flite";
        vp.flite_voice = voice_names[i];
        tts *v = tts_new(&vp, err, sizeof err);
        CHECK(v != NULL);
        if (!v)
            continue;
        int one[1] = {0};
        struct tts_result res;
        CHECK(tts_speak(v, one, 1, "Hello there.", NULL, NULL, NULL, &res) == 0);
        CHECK(res.pcm.len > 8000); /* ~1 s at 16 kHz */
        tts_result_free(&res);
        tts_free(v);
    }
    struct tts_params nope = tts_default_params();
    nope.flite_voice = "hal9000";
    CHECK(tts_new(&nope, err, sizeof err) == NULL && strstr(err, "kal16"));
    return check_summary();
}
