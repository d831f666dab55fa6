/* Whisper decode cost: how long one decode of the utterance so far takes, by
 * utterance length and threads, with a given ggml model (the for-tests tiny
 * model has tiny.en's shape, so its cost is tiny.en's). This bounds how often
 * partials can come: a decode slower than asr.partial_interval_ms skips rounds.
 *
 * Usage: bench_whisper_cost MODEL.bin SPEECH.wav */
#include <stdio.h>
#include <stdlib.h>

#include "asr/asr.h"
#include "core/audio.h"
#include "core/clock.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.bin SPEECH.wav\n", argv[0]);
        return 2;
    }
    char err[512];
    struct pcm_buf pcm;
    if (wav_read(argv[2], &pcm, err, sizeof err) || pcm.sample_rate != 16000) {
        fprintf(stderr, "%s: 16 kHz WAV needed (%s)\n", argv[2], err);
        return 1;
    }
    printf("| threads | 1 s | 3 s | 6 s | 11 s (ms per decode, median of 3) |\n|---|---|---|---|---|\n");
    for (int threads = 1; threads <= 2; threads++) {
        struct asr_params p = asr_default_params();
        p.engine = "whisper";
        p.whisper_model = argv[1];
        p.whisper_threads = threads;
        asr_model *m = asr_model_new(&p, err, sizeof err);
        if (!m) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        printf("| %d |", threads);
        const double secs[] = {1, 3, 6, 11};
        for (int k = 0; k < 4; k++) {
            size_t n = (size_t)(secs[k] * 16000) < pcm.len ? (size_t)(secs[k] * 16000) : pcm.len;
            double ms[3];
            for (int r = 0; r < 3; r++) {
                char text[4096];
                int64_t t0 = clock_now_us();
                asr_transcribe(m, pcm.samples, n, text, sizeof text, err, sizeof err);
                ms[r] = (double)(clock_now_us() - t0) / 1000.0;
            }
            double a = ms[0], b = ms[1], c = ms[2];
            double med = a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
            printf(" %.0f |", med);
        }
        printf("\n");
        asr_model_free(m);
    }
    pcm_free(&pcm);
    return 0;
}
