/* Audio helpers: WAV round trip, reading stereo float WAV as mono, and
 * resampling lengths. */
#include <stdint.h>
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "core/audio.h"

static void put32(FILE *f, uint32_t v) { fwrite(&v, 4, 1, f); }
static void put16(FILE *f, uint16_t v) { fwrite(&v, 2, 1, f); }

int main(void)
{
    char err[256];
    int16_t tone[1600];
    for (int i = 0; i < 1600; i++)
        tone[i] = (int16_t)(10000 * sin(i * 0.1));
    CHECK(wav_write("/tmp/parley-test-a.wav", tone, 1600, 16000, err, sizeof err) == 0);
    struct pcm_buf b;
    CHECK(wav_read("/tmp/parley-test-a.wav", &b, err, sizeof err) == 0);
    CHECK(b.len == 1600 && b.sample_rate == 16000);
    CHECK(b.samples[10] == tone[10] || abs(b.samples[10] - tone[10]) <= 1);
    pcm_free(&b);

    /* Stereo 44.1 kHz float with an extra chunk before data. */
    FILE *f = fopen("/tmp/parley-test-b.wav", "wb");
    uint32_t frames = 4410;
    fwrite("RIFF", 1, 4, f);
    put32(f, 4 + 24 + 12 + 8 + frames * 8);
    fwrite("WAVEfmt ", 1, 8, f);
    put32(f, 16);
    put16(f, 3);
    put16(f, 2);
    put32(f, 44100);
    put32(f, 44100 * 8);
    put16(f, 8);
    put16(f, 32);
    fwrite("LIST", 1, 4, f);
    put32(f, 4);
    fwrite("INFO", 1, 4, f);
    fwrite("data", 1, 4, f);
    put32(f, frames * 8);
    for (uint32_t i = 0; i < frames; i++) {
        float l = 0.5f, r = 0.25f;
        fwrite(&l, 4, 1, f);
        fwrite(&r, 4, 1, f);
    }
    fclose(f);
    CHECK(wav_read("/tmp/parley-test-b.wav", &b, err, sizeof err) == 0);
    CHECK(b.len == frames && b.sample_rate == 44100);
    CHECK(abs(b.samples[100] - (int)(0.375 * 32767)) <= 2);

    struct pcm_buf r;
    CHECK(pcm_resample(b.samples, b.len, 44100, 16000, &r) == 0);
    CHECK(r.len == 1600);
    CHECK(abs(r.samples[800] - (int)(0.375 * 32767)) < 300);
    pcm_free(&r);
    pcm_free(&b);

    f = fopen("/tmp/parley-test-c.wav", "wb");
    fputs("not a wav file at all", f);
    fclose(f);
    CHECK(wav_read("/tmp/parley-test-c.wav", &b, err, sizeof err) == -1);
    CHECK(strstr(err, "RIFF") != NULL);
    CHECK(wav_read("/nonexistent.wav", &b, err, sizeof err) == -1);
    remove("/tmp/parley-test-a.wav");
    remove("/tmp/parley-test-b.wav");
    remove("/tmp/parley-test-c.wav");
    /* A float WAV holding NaN (found by fuzz_wav): silence, not undefined
     * behaviour; and a rate outside 8-192 kHz is refused. */
    unsigned char w[44 + 8] = "RIFF\0\0\0\0WAVEfmt ";
    const uint32_t fmt_len = 16, data_len = 8, rate = 16000, byte_rate = 64000;
    const uint16_t fmt = 3, ch = 1, align = 4, bits = 32;
    memcpy(w + 16, &fmt_len, 4), memcpy(w + 20, &fmt, 2), memcpy(w + 22, &ch, 2), memcpy(w + 24, &rate, 4);
    memcpy(w + 28, &byte_rate, 4), memcpy(w + 32, &align, 2), memcpy(w + 34, &bits, 2), memcpy(w + 36, "data", 4);
    memcpy(w + 40, &data_len, 4);
    const float nan_and_one[2] = {__builtin_nanf(""), 0.5f};
    memcpy(w + 44, nan_and_one, 8);
    struct pcm_buf nanbuf = {0};
    char werr[256];
    CHECK(wav_parse(w, sizeof w, &nanbuf, werr, sizeof werr) == 0 && nanbuf.len == 2 && nanbuf.samples[0] == 0 &&
          nanbuf.samples[1] == 16384); /* 0.5 is 16384/32768 */
    pcm_free(&nanbuf);
    const uint32_t slow = 10;
    memcpy(w + 24, &slow, 4);
    CHECK(wav_parse(w, sizeof w, &nanbuf, werr, sizeof werr) == -1 && strstr(werr, "10 Hz"));
    /* 16-bit PCM comes back sample for sample, the extremes included: a
     * recogniser must hear exactly the file (whisper-cli's parity test). */
    int16_t exact[7] = {0, 1, -1, 12345, -12345, 32767, -32768};
    size_t elen;
    unsigned char *enc = wav_encode(exact, 7, 16000, &elen);
    struct pcm_buf back;
    CHECK(enc && wav_parse(enc, elen, &back, werr, sizeof werr) == 0 && back.len == 7 &&
          !memcmp(back.samples, exact, sizeof exact));
    pcm_free(&back);
    free(enc);
    return check_summary();
}
