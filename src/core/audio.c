/* WAV I/O and resampling. The WAV reader walks chunks rather than assuming a
 * 44-byte header, since sox, flite and browsers all write different layouts. */
#include "core/audio.h"

#include <math.h>
#include <speex/speex_resampler.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pcm_append(struct pcm_buf *buf, const int16_t *samples, size_t n)
{
    if (buf->len + n > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 4096;
        while (cap < buf->len + n)
            cap *= 2;
        int16_t *p = realloc(buf->samples, cap * sizeof *p);
        if (!p)
            return -1;
        buf->samples = p;
        buf->cap = cap;
    }
    if (samples)
        memcpy(buf->samples + buf->len, samples, n * sizeof *samples);
    buf->len += n;
    return 0;
}

void pcm_free(struct pcm_buf *buf)
{
    free(buf->samples);
    memset(buf, 0, sizeof *buf);
}

static uint32_t le32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

static float sample_at(const unsigned char *p, int fmt, int bits)
{
    if (fmt == 3 && bits == 32) {
        float f;
        uint32_t u = le32(p);
        memcpy(&f, &u, 4);
        return f;
    }
    switch (bits) {
    case 8: return ((int)p[0] - 128) / 128.0f;
    case 16: return (int16_t)le16(p) / 32768.0f;
    case 24: return (int32_t)((uint32_t)p[0] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 24) / 2147483648.0f;
    default: return (int32_t)le32(p) / 2147483648.0f;
    }
}

int wav_parse(const unsigned char *data, size_t size, struct pcm_buf *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (size < 12 || memcmp(data, "RIFF", 4) || memcmp(data + 8, "WAVE", 4)) {
        snprintf(err, errlen, "not a RIFF/WAVE file");
        return -1;
    }
    int fmt = 0, channels = 0, rate = 0, bits = 0;
    const unsigned char *pcm = NULL;
    size_t pcm_bytes = 0;
    for (size_t off = 12; off + 8 <= size;) {
        uint32_t clen = le32(data + off + 4);
        const unsigned char *body = data + off + 8;
        if (clen > size - off - 8)
            clen = (uint32_t)(size - off - 8); /* truncated files: take what is there */
        if (!memcmp(data + off, "fmt ", 4) && clen >= 16) {
            fmt = le16(body);
            channels = le16(body + 2);
            rate = (int)le32(body + 4);
            bits = le16(body + 14);
            if (fmt == 0xFFFE && clen >= 26)
                fmt = le16(body + 24); /* WAVE_FORMAT_EXTENSIBLE sub-format */
        } else if (!memcmp(data + off, "data", 4)) {
            pcm = body;
            pcm_bytes = clen;
        }
        off += 8 + (size_t)clen + (clen & 1);
    }
    if (!pcm || !channels || rate <= 0) {
        snprintf(err, errlen, "missing fmt or data chunk");
        return -1;
    }
    if (rate < WAV_MIN_RATE || rate > WAV_MAX_RATE) { /* 10 Hz would make 4 kB into minutes of audio */
        snprintf(err, errlen, "a sample rate of %d Hz (parley takes %d to %d)", rate, WAV_MIN_RATE, WAV_MAX_RATE);
        return -1;
    }
    if (channels > 8) {
        snprintf(err, errlen, "%d channels (parley takes 1 to 8)", channels);
        return -1;
    }
    if (!((fmt == 1 && (bits == 8 || bits == 16 || bits == 24 || bits == 32)) || (fmt == 3 && bits == 32))) {
        snprintf(err, errlen, "unsupported WAV encoding (format %d, %d bits)", fmt, bits);
        return -1;
    }
    size_t frame = (size_t)channels * (size_t)(bits / 8);
    size_t frames = pcm_bytes / frame;
    if (pcm_append(out, NULL, frames)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < frames; i++) {
        float acc = 0;
        for (int c = 0; c < channels; c++)
            acc += sample_at(pcm + i * frame + (size_t)c * (size_t)(bits / 8), fmt, bits);
        acc /= (float)channels;
        /* The inverse of sample_at's scale, rounded: 16-bit audio comes back
         * sample for sample (scaling by 32767 and truncating changed most
         * samples by one step and shifted their mean). */
        float v = acc * 32768.0f;
        if (v != v) /* a float file's NaN is silence, not undefined behaviour (found by fuzz_wav) */
            v = 0;
        out->samples[i] = (int16_t)(v >= 32767 ? 32767 : v <= -32768 ? -32768 : lrintf(v));
    }
    out->sample_rate = rate;
    return 0;
}

int wav_read(const char *path, struct pcm_buf *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s", path);
        return -1;
    }
    unsigned char *data = NULL;
    int rc = -1;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char why[200];
    if (size < 12 || size > (1L << 30)) {
        snprintf(err, errlen, "%s: not a WAV file", path);
    } else if (!(data = malloc((size_t)size)) || fread(data, 1, (size_t)size, f) != (size_t)size) {
        snprintf(err, errlen, "%s: read failed", path);
    } else if (wav_parse(data, (size_t)size, out, why, sizeof why)) {
        snprintf(err, errlen, "%s: %s", path, why);
    } else {
        rc = 0;
    }
    free(data);
    fclose(f);
    return rc;
}

static void put32(unsigned char *p, uint32_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24); }
static void put16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }

static void wav_header(unsigned char h[44], size_t n, int sample_rate)
{
    memcpy(h, "RIFF", 4);
    put32(h + 4, (uint32_t)(36 + n * 2));
    memcpy(h + 8, "WAVEfmt ", 8);
    put32(h + 16, 16);
    put16(h + 20, 1);
    put16(h + 22, 1);
    put32(h + 24, (uint32_t)sample_rate);
    put32(h + 28, (uint32_t)sample_rate * 2);
    put16(h + 32, 2);
    put16(h + 34, 16);
    memcpy(h + 36, "data", 4);
    put32(h + 40, (uint32_t)(n * 2));
}

unsigned char *wav_encode(const int16_t *samples, size_t n, int sample_rate, size_t *len)
{
    unsigned char *out = malloc(44 + n * 2);
    if (!out)
        return NULL;
    wav_header(out, n, sample_rate);
    if (n)
        memcpy(out + 44, samples, n * 2); /* little-endian, as every target is */
    *len = 44 + n * 2;
    return out;
}

int wav_write(const char *path, const int16_t *samples, size_t n, int sample_rate, char *err, size_t errlen)
{
    unsigned char h[44];
    wav_header(h, n, sample_rate);
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    /* WAV is little-endian; so is every platform parley targets. */
    int ok = fwrite(h, 1, 44, f) == 44 && fwrite(samples, 2, n, f) == n;
    if (fclose(f) || !ok) {
        snprintf(err, errlen, "write to %s failed", path);
        return -1;
    }
    return 0;
}

struct resampler {
    SpeexResamplerState *st;
    int in_rate, out_rate;
};

resampler *resampler_new(int in_rate, int out_rate)
{
    resampler *rs = calloc(1, sizeof *rs);
    if (!rs)
        return NULL;
    rs->in_rate = in_rate;
    rs->out_rate = out_rate;
    if (in_rate != out_rate) {
        int e = 0;
        /* Quality 5 is speexdsp's VoIP default: transparent for ASR at a few µs per frame. */
        rs->st = speex_resampler_init(1, (spx_uint32_t)in_rate, (spx_uint32_t)out_rate, 5, &e);
        if (!rs->st) {
            free(rs);
            return NULL;
        }
        speex_resampler_skip_zeros(rs->st);
    }
    return rs;
}

void resampler_free(resampler *rs)
{
    if (!rs)
        return;
    if (rs->st)
        speex_resampler_destroy(rs->st);
    free(rs);
}

int resampler_process(resampler *rs, const int16_t *in, size_t n, struct pcm_buf *out)
{
    if (!rs->st)
        return pcm_append(out, in, n);
    size_t room = n * (size_t)rs->out_rate / (size_t)rs->in_rate + 64;
    size_t base = out->len;
    if (pcm_append(out, NULL, room))
        return -1;
    spx_uint32_t in_len = (spx_uint32_t)n, out_len = (spx_uint32_t)room;
    speex_resampler_process_int(rs->st, 0, in, &in_len, out->samples + base, &out_len);
    out->len = base + out_len;
    return 0;
}

int pcm_resample(const int16_t *in, size_t n, int in_rate, int out_rate, struct pcm_buf *out)
{
    memset(out, 0, sizeof *out);
    out->sample_rate = out_rate;
    resampler *rs = resampler_new(in_rate, out_rate);
    if (!rs)
        return -1;
    int rc = resampler_process(rs, in, n, out);
    if (rc == 0 && in_rate != out_rate) {
        /* Flush the filter's tail so the last few ms are not lost. */
        int16_t zeros[256] = {0};
        rc = resampler_process(rs, zeros, sizeof zeros / sizeof *zeros, out);
        size_t want = n * (size_t)out_rate / (size_t)in_rate;
        if (out->len > want)
            out->len = want;
    }
    resampler_free(rs);
    return rc;
}
