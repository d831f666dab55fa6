/* codec/opus_io: the writer's packets are whole frames that a reader decodes
 * back to the signal; their in_samples add up to what was pushed, across a
 * resampled rate too; a flush pads, a drop forgets; bad packets are refused
 * and the reader goes on. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "codec/g711.h"
#include "codec/opus_io.h"
#include "core/base64.h"

struct sink {
    opus_reader *reader;
    struct pcm_buf decoded;
    size_t packets, in_samples, bytes;
    int stop_after; /* 0: never */
};

static int on_packet(void *ud, const unsigned char *pkt, size_t len, size_t in_samples)
{
    struct sink *k = ud;
    char err[160];
    k->packets++;
    k->in_samples += in_samples;
    k->bytes += len;
    CHECK(opus_reader_decode(k->reader, pkt, len, &k->decoded, err, sizeof err) == 0);
    return k->stop_after && (int)k->packets >= k->stop_after;
}

static void tone(int16_t *pcm, size_t n, int rate, double hz)
{
    for (size_t i = 0; i < n; i++)
        pcm[i] = (int16_t)(8000 * sin(2 * M_PI * hz * (double)i / rate));
}

static double rms(const int16_t *pcm, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++)
        e += (double)pcm[i] * pcm[i];
    return n ? sqrt(e / (double)n) : 0;
}

static void round_trip(int in_rate, int expect_rate)
{
    char err[160];
    struct opus_writer_params wp = opus_writer_default_params();
    wp.in_rate = in_rate;
    opus_writer *w = opus_writer_new(&wp, err, sizeof err);
    CHECK(w != NULL);
    if (!w)
        return;
    CHECK(opus_writer_rate(w) == expect_rate);
    struct opus_reader_params rp = {.out_rate = expect_rate};
    struct sink k = {.reader = opus_reader_new(&rp, err, sizeof err)};
    CHECK(k.reader != NULL);
    /* One second in uneven chunks, as a phrase arrives from a TTS engine. */
    size_t n = (size_t)in_rate;
    int16_t *pcm = malloc(n * sizeof *pcm);
    tone(pcm, n, in_rate, 440);
    size_t sizes[] = {137, 1000, 3, 4000};
    for (size_t off = 0, i = 0; off < n; i++) {
        size_t m = sizes[i % 4] < n - off ? sizes[i % 4] : n - off;
        CHECK(opus_writer_push(w, pcm + off, m, on_packet, &k) == 0);
        off += m;
    }
    CHECK(opus_writer_flush(w, on_packet, &k) == 0);
    const size_t frame = (size_t)expect_rate / 50;
    CHECK(k.decoded.len == k.packets * frame);                       /* every packet is 20 ms */
    CHECK(k.packets >= 50 && k.packets <= 51);                       /* one second, the last padded */
    CHECK(k.in_samples == n);                                        /* accounting adds up */
    CHECK(rms(k.decoded.samples + frame * 10, frame * 30) > 4000);   /* the tone survives (8000 peak: 5657 rms) */
    CHECK(k.bytes < 24000 / 8 * 11 / 10 + 200);                      /* about 24 kbit/s */
    /* A drop forgets the unfinished packet: the next flush sends nothing. */
    size_t before = k.packets;
    CHECK(opus_writer_push(w, pcm, 100, on_packet, &k) == 0); /* under one packet at any rate here */
    opus_writer_drop(w);
    CHECK(opus_writer_flush(w, on_packet, &k) == 0);
    CHECK(k.packets == before);
    free(pcm);
    pcm_free(&k.decoded);
    opus_reader_free(k.reader);
    opus_writer_free(w);
}

static void callback_stops_push(void)
{
    char err[160];
    struct opus_writer_params wp = opus_writer_default_params();
    opus_writer *w = opus_writer_new(&wp, err, sizeof err);
    struct opus_reader_params rp = opus_reader_default_params();
    struct sink k = {.reader = opus_reader_new(&rp, err, sizeof err), .stop_after = 2};
    int16_t pcm[3200];
    tone(pcm, 3200, 16000, 300);
    CHECK(opus_writer_push(w, pcm, 3200, on_packet, &k) == 1); /* 10 packets' worth, stopped at 2 */
    CHECK(k.packets == 2);
    pcm_free(&k.decoded);
    opus_reader_free(k.reader);
    opus_writer_free(w);
}

static void bad_packets(void)
{
    char err[160] = "";
    struct opus_reader_params rp = opus_reader_default_params();
    opus_reader *r = opus_reader_new(&rp, err, sizeof err);
    struct pcm_buf out = {0};
    const unsigned char garbage[] = {0xff, 0xff, 0xff, 0xff, 0x01, 0x02};
    CHECK(opus_reader_decode(r, garbage, sizeof garbage, &out, err, sizeof err) == -1);
    CHECK(strstr(err, "Opus") != NULL);
    CHECK(opus_reader_decode(r, garbage, 0, &out, err, sizeof err) == -1);
    const unsigned char too_long[] = {(3 << 3) | 3, 3, 0, 0, 0}; /* 3 frames of 60 ms */
    CHECK(opus_reader_decode(r, too_long, sizeof too_long, &out, err, sizeof err) == -1);
    CHECK(strstr(err, "120 ms") != NULL);
    CHECK(out.len == 0);
    /* Still decodes a good packet: 20 ms of SILK NB (TOC config 1) with no payload is silence. */
    const unsigned char empty_frame[] = {1 << 3};
    CHECK(opus_reader_decode(r, empty_frame, sizeof empty_frame, &out, err, sizeof err) == 0);
    CHECK(out.len == 320);
    pcm_free(&out);
    opus_reader_free(r);

    rp.out_rate = 22050;
    CHECK(opus_reader_new(&rp, err, sizeof err) == NULL);
    struct opus_writer_params wp = opus_writer_default_params();
    wp.frame_ms = 25;
    CHECK(opus_writer_new(&wp, err, sizeof err) == NULL);
    CHECK(strstr(err, "25") != NULL);
}

/* Every G.711 code decodes to a value that encodes back to it (μ-law's
 * two zeros excepted), and encoding is monotonic in the input. */
static void g711(void)
{
    int ulaw_ok = 1, alaw_ok = 1;
    for (int c = 0; c < 256; c++) {
        uint8_t u = g711_ulaw_encode(g711_ulaw_decode((uint8_t)c));
        if (u != c && !(g711_ulaw_decode(u) == 0 && g711_ulaw_decode((uint8_t)c) == 0))
            ulaw_ok = 0;
        if (g711_alaw_encode(g711_alaw_decode((uint8_t)c)) != c)
            alaw_ok = 0;
    }
    CHECK(ulaw_ok);
    CHECK(alaw_ok);
    int close = 1;
    for (int v = -32768; v < 32768; v += 97) {
        int du = g711_ulaw_decode(g711_ulaw_encode((int16_t)v)) - v;
        int da = g711_alaw_decode(g711_alaw_encode((int16_t)v)) - v;
        int tol = (v < 0 ? -v : v) / 16 + 16; /* about 6% plus the smallest step */
        if (du > tol || du < -tol || da > tol || da < -tol)
            close = 0;
    }
    CHECK(close);
}

static void base64(void)
{
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"}; /* RFC 4648's vectors */
    for (int i = 0; i < 7; i++) {
        size_t n = 0, m = 0;
        char *e = base64_encode(in[i], strlen(in[i]), &n);
        CHECK_STR(e, out[i]);
        unsigned char *d = base64_decode(e, n, &m);
        CHECK(d && m == strlen(in[i]) && !memcmp(d, in[i], m));
        free(e);
        free(d);
    }
    size_t m;
    CHECK(base64_decode("Zm9v!", 5, &m) == NULL);
    CHECK(base64_decode("Z", 1, &m) == NULL);
    CHECK(base64_decode("Zm=v", 4, &m) == NULL);
    CHECK(base64_decode("Zm9v==", 6, &m) == NULL); /* padding after a whole group (found by fuzz_base64) */
    CHECK(base64_decode("Zm9vY===", 8, &m) == NULL);
    unsigned char *d = base64_decode("Zm9vYg", 6, &m); /* padding optional */
    CHECK(d && m == 4);
    free(d);
}

int main(void)
{
    g711();
    base64();
    round_trip(16000, 16000);
    round_trip(24000, 24000);
    round_trip(22050, 48000); /* espeak-ng's rate: resampled */
    callback_stops_push();
    bad_packets();
    return check_summary();
}
