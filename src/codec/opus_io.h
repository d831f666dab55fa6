/* Opus for the audio path: a reader that turns a client's packets into PCM at
 * the rate the recognisers want, and a writer that cuts reply PCM into
 * fixed-length packets. Framing (one packet per message) is the transport's. */
#ifndef PARLEY_OPUS_IO_H
#define PARLEY_OPUS_IO_H
#include <stddef.h>
#include <stdint.h>

#include "core/audio.h"

/* The longest packet a reader takes: Opus's own limit (120 ms). */
#define OPUS_IO_MAX_PACKET_MS 120

struct opus_reader_params {
    int out_rate; /* PCM out: 8000, 12000, 16000, 24000 or 48000 */
};
struct opus_reader_params opus_reader_default_params(void);

typedef struct opus_reader opus_reader;
opus_reader *opus_reader_new(const struct opus_reader_params *p, char *err, size_t errlen);
void opus_reader_free(opus_reader *r);
/* Decodes one packet (any Opus rate, mono or stereo, down-mixed) and appends
 * its PCM to out. Returns 0, or -1 with a client-facing reason in err; the
 * reader stays usable after a bad packet. */
int opus_reader_decode(opus_reader *r, const unsigned char *pkt, size_t len, struct pcm_buf *out, char *err,
                       size_t errlen);

struct opus_writer_params {
    int in_rate;    /* PCM in; resampled to 48 kHz when Opus has no such rate */
    int frame_ms;   /* 10, 20, 40 or 60 */
    int bitrate;    /* bits per second */
    int complexity; /* 0-10: CPU against quality */
};
struct opus_writer_params opus_writer_default_params(void);

/* Receives each finished packet; in_samples: the input samples (at in_rate)
 * it carries, for playback accounting. Non-zero stops the push. */
typedef int (*opus_packet_fn)(void *ud, const unsigned char *pkt, size_t len, size_t in_samples);

typedef struct opus_writer opus_writer;
opus_writer *opus_writer_new(const struct opus_writer_params *p, char *err, size_t errlen);
void opus_writer_free(opus_writer *w);
/* The rate of the Opus stream the writer makes (what a client decodes at). */
int opus_writer_rate(const opus_writer *w);
/* Takes n samples; emits every packet they complete. Returns 0, the
 * callback's non-zero, or -1 on an encoder failure. */
int opus_writer_push(opus_writer *w, const int16_t *pcm, size_t n, opus_packet_fn fn, void *ud);
/* Emits what is pending as a last packet padded with silence (a phrase's end). */
int opus_writer_flush(opus_writer *w, opus_packet_fn fn, void *ud);
/* Forgets what is pending (the reply was interrupted). */
void opus_writer_drop(opus_writer *w);

#endif
