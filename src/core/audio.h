/* PCM helpers shared by every stage: WAV files in and out, down-mixing,
 * and sample-rate conversion (speexdsp) to the 16 kHz the recognisers want. */
#ifndef PARLEY_AUDIO_H
#define PARLEY_AUDIO_H
#include <stddef.h>
#include <stdint.h>

struct pcm_buf {
    int16_t *samples;
    size_t len; /* samples in use */
    size_t cap;
    int sample_rate;
};

int pcm_append(struct pcm_buf *buf, const int16_t *samples, size_t n);
void pcm_free(struct pcm_buf *buf);

/* The rates a WAV file may declare. */
#define WAV_MIN_RATE 8000
#define WAV_MAX_RATE 192000

/* Reads a RIFF/WAVE file (PCM 8/16/24/32-bit or IEEE float, 1 to 8 channels,
 * WAV_MIN_RATE to WAV_MAX_RATE) into mono int16 at its own rate. Returns 0, or -1 with a message in err. */
int wav_read(const char *path, struct pcm_buf *out, char *err, size_t errlen);
/* The same, from a WAV file's bytes in memory. */
int wav_parse(const unsigned char *data, size_t size, struct pcm_buf *out, char *err, size_t errlen);
/* A 16-bit mono WAV file's bytes (header + data); malloc'd, *len set. */
unsigned char *wav_encode(const int16_t *samples, size_t n, int sample_rate, size_t *len);
int wav_write(const char *path, const int16_t *samples, size_t n, int sample_rate, char *err,
              size_t errlen);

/* One-shot conversion of a whole buffer; out is replaced. */
int pcm_resample(const int16_t *in, size_t n, int in_rate, int out_rate, struct pcm_buf *out);

/* Streaming converter for a session's incoming audio. */
typedef struct resampler resampler;
resampler *resampler_new(int in_rate, int out_rate);
void resampler_free(resampler *rs);
/* Converts n input samples, appending to out. */
int resampler_process(resampler *rs, const int16_t *in, size_t n, struct pcm_buf *out);

#endif
