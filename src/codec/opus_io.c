/* Opus packets in and out (libopus). The reader owns one decoder; the writer
 * owns one encoder, the samples of its unfinished packet, and a resampler
 * when the reply's rate is not one Opus codes at. */
#include "codec/opus_io.h"

#include <opus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Opus's largest packet for one frame of mono speech, with room to spare. */
#define MAX_PACKET_BYTES 4000

static int opus_rate(int rate)
{
    return rate == 8000 || rate == 12000 || rate == 16000 || rate == 24000 || rate == 48000;
}

struct opus_reader {
    OpusDecoder *dec;
    int rate;
    int16_t *pcm; /* one packet's PCM, OPUS_IO_MAX_PACKET_MS long */
};

struct opus_reader_params opus_reader_default_params(void)
{
    return (struct opus_reader_params){.out_rate = 16000};
}

opus_reader *opus_reader_new(const struct opus_reader_params *p, char *err, size_t errlen)
{
    if (!opus_rate(p->out_rate)) {
        snprintf(err, errlen, "Opus decodes at 8000, 12000, 16000, 24000 or 48000 Hz, not %d", p->out_rate);
        return NULL;
    }
    opus_reader *r = calloc(1, sizeof *r);
    int rc = OPUS_ALLOC_FAIL;
    if (r)
        r->pcm = malloc(sizeof *r->pcm * (size_t)p->out_rate * OPUS_IO_MAX_PACKET_MS / 1000);
    if (r && r->pcm)
        r->dec = opus_decoder_create(p->out_rate, 1, &rc);
    if (!r || !r->dec) {
        snprintf(err, errlen, "cannot create an Opus decoder: %s", opus_strerror(rc));
        opus_reader_free(r);
        return NULL;
    }
    r->rate = p->out_rate;
    return r;
}

void opus_reader_free(opus_reader *r)
{
    if (!r)
        return;
    if (r->dec)
        opus_decoder_destroy(r->dec);
    free(r->pcm);
    free(r);
}

int opus_reader_decode(opus_reader *r, const unsigned char *pkt, size_t len, struct pcm_buf *out, char *err,
                       size_t errlen)
{
    const int max = r->rate * OPUS_IO_MAX_PACKET_MS / 1000;
    if (len == 0 || len > MAX_PACKET_BYTES * 3) {
        snprintf(err, errlen, "an Opus packet must hold 1 to %d bytes, not %zu", MAX_PACKET_BYTES * 3, len);
        return -1;
    }
    /* Checked first, so a packet claiming more than 120 ms is refused before decoding. */
    int n = opus_packet_get_nb_samples(pkt, (opus_int32)len, r->rate);
    if (n <= 0 || n > max) {
        snprintf(err, errlen, "not an Opus packet of at most %d ms: %s", OPUS_IO_MAX_PACKET_MS,
                 n <= 0 ? opus_strerror(n) : "too long");
        return -1;
    }
    n = opus_decode(r->dec, pkt, (opus_int32)len, r->pcm, max, 0);
    if (n < 0) {
        snprintf(err, errlen, "the Opus packet does not decode: %s", opus_strerror(n));
        return -1;
    }
    if (pcm_append(out, r->pcm, (size_t)n)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

struct opus_writer {
    OpusEncoder *enc;
    resampler *rs; /* in_rate to 48 kHz; NULL when Opus codes at in_rate */
    int in_rate, rate;
    size_t frame;         /* samples per packet at rate */
    struct pcm_buf ready; /* at rate, not yet a whole packet */
    struct pcm_buf scratch;
    /* For the callback's in_samples: input samples taken, those reported,
     * and the packets made since the last flush (base_in: taken then). */
    uint64_t taken_in, reported_in, base_in, packets;
    unsigned char packet[MAX_PACKET_BYTES];
};

struct opus_writer_params opus_writer_default_params(void)
{
    /* 24 kbit/s is transparent for synthetic speech; complexity 5 costs
     * about a third of 10 for no audible difference in a voice. */
    return (struct opus_writer_params){.in_rate = 16000, .frame_ms = 20, .bitrate = 24000, .complexity = 5};
}

opus_writer *opus_writer_new(const struct opus_writer_params *p, char *err, size_t errlen)
{
    if (p->frame_ms != 10 && p->frame_ms != 20 && p->frame_ms != 40 && p->frame_ms != 60) {
        snprintf(err, errlen, "Opus packets are 10, 20, 40 or 60 ms long, not %d", p->frame_ms);
        return NULL;
    }
    if (p->in_rate < 8000 || p->in_rate > 192000) {
        snprintf(err, errlen, "cannot encode audio at %d Hz", p->in_rate);
        return NULL;
    }
    opus_writer *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->in_rate = p->in_rate;
    w->rate = opus_rate(p->in_rate) ? p->in_rate : 48000;
    w->frame = (size_t)w->rate * (size_t)p->frame_ms / 1000;
    int rc = OPUS_OK;
    w->enc = opus_encoder_create(w->rate, 1, OPUS_APPLICATION_VOIP, &rc);
    if (w->enc && w->rate != w->in_rate)
        w->rs = resampler_new(w->in_rate, w->rate);
    if (!w->enc || (w->rate != w->in_rate && !w->rs)) {
        snprintf(err, errlen, "cannot create an Opus encoder: %s", w->enc ? "no resampler" : opus_strerror(rc));
        opus_writer_free(w);
        return NULL;
    }
    opus_encoder_ctl(w->enc, OPUS_SET_BITRATE(p->bitrate));
    opus_encoder_ctl(w->enc, OPUS_SET_COMPLEXITY(p->complexity));
    opus_encoder_ctl(w->enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
    return w;
}

void opus_writer_free(opus_writer *w)
{
    if (!w)
        return;
    if (w->enc)
        opus_encoder_destroy(w->enc);
    resampler_free(w->rs);
    pcm_free(&w->ready);
    pcm_free(&w->scratch);
    free(w);
}

int opus_writer_rate(const opus_writer *w)
{
    return w->rate;
}

/* Encodes the first w->frame samples of w->ready and hands the packet on. */
static int emit(opus_writer *w, int last, opus_packet_fn fn, void *ud)
{
    int len = opus_encode(w->enc, w->ready.samples, (int)w->frame, w->packet, sizeof w->packet);
    if (len < 0)
        return -1;
    w->packets++;
    /* The input samples this packet completes; a last packet carries the rest. */
    uint64_t through =
        last ? w->taken_in : w->base_in + w->packets * w->frame * (uint64_t)w->in_rate / (uint64_t)w->rate;
    if (through > w->taken_in)
        through = w->taken_in;
    size_t in_samples = (size_t)(through - w->reported_in);
    w->reported_in = through;
    memmove(w->ready.samples, w->ready.samples + w->frame, (w->ready.len - w->frame) * sizeof *w->ready.samples);
    w->ready.len -= w->frame;
    return fn(ud, w->packet, (size_t)len, in_samples);
}

int opus_writer_push(opus_writer *w, const int16_t *pcm, size_t n, opus_packet_fn fn, void *ud)
{
    w->taken_in += n;
    if (w->rs) {
        w->scratch.len = 0;
        if (resampler_process(w->rs, pcm, n, &w->scratch))
            return -1;
        if (pcm_append(&w->ready, w->scratch.samples, w->scratch.len))
            return -1;
    } else if (pcm_append(&w->ready, pcm, n)) {
        return -1;
    }
    while (w->ready.len >= w->frame) {
        int rc = emit(w, 0, fn, ud);
        if (rc)
            return rc;
    }
    return 0;
}

int opus_writer_flush(opus_writer *w, opus_packet_fn fn, void *ud)
{
    if (w->ready.len == 0)
        return 0;
    size_t pad = w->frame - w->ready.len;
    static const int16_t silence[480 * 60 / 10]; /* 60 ms at 48 kHz */
    if (pad > sizeof silence / sizeof *silence || pcm_append(&w->ready, silence, pad))
        return -1;
    int rc = emit(w, 1, fn, ud);
    w->base_in = w->taken_in; /* the padding is not input */
    w->packets = 0;
    return rc;
}

void opus_writer_drop(opus_writer *w)
{
    w->ready.len = 0;
    w->reported_in = w->base_in = w->taken_in;
    w->packets = 0;
}
