/* Opus on protocol v1: what a stream costs the server, and its bytes. Reads
 * speech (a 16-bit WAV), encodes it as the reply writer does (20 ms packets,
 * 24 kbit/s) at 16 kHz and from 22050 Hz (resampled to 48 kHz), and decodes
 * the packets as the microphone reader does; prints CPU per second of audio
 * and bytes per second against PCM.
 *
 * Usage: bench_opus_cost SPEECH.wav */
#include <stdio.h>
#include <stdlib.h>

#include "codec/opus_io.h"
#include "core/audio.h"
#include <time.h>

static int64_t thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct tally {
    opus_reader *reader;
    struct pcm_buf decoded;
    size_t bytes, packets;
    int64_t decode_us;
};

static int on_packet(void *ud, const unsigned char *pkt, size_t len, size_t in_samples)
{
    (void)in_samples;
    struct tally *t = ud;
    char err[160];
    t->bytes += len;
    t->packets++;
    int64_t t0 = thread_cpu_us();
    t->decoded.len = 0;
    opus_reader_decode(t->reader, pkt, len, &t->decoded, err, sizeof err);
    t->decode_us += thread_cpu_us() - t0;
    return 0;
}

static void run(const struct pcm_buf *speech, int rate)
{
    struct pcm_buf in = {0};
    if (rate == speech->sample_rate)
        pcm_append(&in, speech->samples, speech->len);
    else
        pcm_resample(speech->samples, speech->len, speech->sample_rate, rate, &in);
    char err[160];
    struct opus_writer_params wp = opus_writer_default_params();
    wp.in_rate = rate;
    opus_writer *w = opus_writer_new(&wp, err, sizeof err);
    struct opus_reader_params rp = {.out_rate = 16000};
    struct tally t = {.reader = opus_reader_new(&rp, err, sizeof err)};
    if (!w || !t.reader) {
        fprintf(stderr, "bench_opus_cost: %s\n", err);
        exit(1);
    }
    const size_t chunk = (size_t)rate / 10; /* the session hands over 100 ms at a time */
    int64_t t0 = thread_cpu_us();
    for (size_t off = 0; off < in.len; off += chunk)
        opus_writer_push(w, in.samples + off, in.len - off < chunk ? in.len - off : chunk, on_packet, &t);
    opus_writer_flush(w, on_packet, &t);
    int64_t total = thread_cpu_us() - t0;
    double seconds = (double)in.len / rate;
    printf("| %d Hz%s | %.2f %% | %.2f %% | %.0f | %.0f |\n", rate, rate == opus_writer_rate(w) ? "" : " (to 48 kHz)",
           100.0 * (double)(total - t.decode_us) / 1e6 / seconds, 100.0 * (double)t.decode_us / 1e6 / seconds,
           (double)t.bytes / seconds, (double)rate * 2);
    opus_writer_free(w);
    opus_reader_free(t.reader);
    pcm_free(&t.decoded);
    pcm_free(&in);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench_opus_cost SPEECH.wav\n");
        return 2;
    }
    struct pcm_buf one = {0}, speech = {0};
    char err[200];
    if (wav_read(argv[1], &one, err, sizeof err)) {
        fprintf(stderr, "bench_opus_cost: %s\n", err);
        return 1;
    }
    for (int i = 0; i < 10; i++) /* ten times over, for steadier figures */
        pcm_append(&speech, one.samples, one.len);
    speech.sample_rate = one.sample_rate;
    printf("%.1f s of speech; CPU as a share of one core per second of audio\n\n",
           (double)speech.len / speech.sample_rate);
    printf("| reply audio at | encode (the reply) | decode (a microphone) | Opus bytes/s | PCM bytes/s |\n");
    printf("|---|---:|---:|---:|---:|\n");
    run(&speech, 16000);
    run(&speech, 24000);
    run(&speech, 22050);
    pcm_free(&one);
    pcm_free(&speech);
    return 0;
}
