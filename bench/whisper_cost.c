/* Whisper decode cost by utterance length: whisper.cpp's full 30 s encoder
 * window against a window fitted to the utterance (asr_whisper.c). The cost
 * depends on a model's shape, not its weights, so structure-valid models
 * measure it: the for-tests tiny model has tiny.en's shape, and --shape
 * base.en writes a copy with base.en's dimensions (no weights; whisper.cpp
 * loads such a file as an empty model for testing).
 *
 * Usage: bench_whisper_cost [--threads N] [--shape base.en] TINY_MODEL.bin SPEECH.wav */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asr/asr.h"
#include "core/audio.h"
#include "core/clock.h"

/* Writes TINY's header with base.en's dimensions to out. Header layout
 * (whisper.cpp's ggml files): magic, then 11 int32 hyperparameters. */
static int write_base_shape(const char *tiny, const char *out)
{
    FILE *in = fopen(tiny, "rb");
    if (!in)
        return -1;
    fseek(in, 0, SEEK_END);
    long n = ftell(in);
    rewind(in);
    unsigned char *buf = malloc((size_t)n);
    int ok = buf && fread(buf, 1, (size_t)n, in) == (size_t)n && n > 48;
    fclose(in);
    if (!ok) {
        free(buf);
        return -1;
    }
    /* n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
     * n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype */
    const int base[11] = {51864, 1500, 512, 8, 6, 448, 512, 8, 6, 80, 1};
    memcpy(buf + 4, base, sizeof base);
    FILE *o = fopen(out, "wb");
    ok = o && fwrite(buf, 1, (size_t)n, o) == (size_t)n;
    if (o)
        ok = fclose(o) == 0 && ok;
    free(buf);
    return ok ? 0 : -1;
}

static double median3(double a, double b, double c)
{
    return a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
}

int main(int argc, char **argv)
{
    int threads = 2, ai = 1;
    const char *shape = "tiny.en";
    for (; ai + 1 < argc && argv[ai][0] == '-'; ai += 2) {
        if (!strcmp(argv[ai], "--threads"))
            threads = atoi(argv[ai + 1]);
        else if (!strcmp(argv[ai], "--shape"))
            shape = argv[ai + 1];
    }
    if (argc - ai < 2 || (strcmp(shape, "tiny.en") && strcmp(shape, "base.en"))) {
        fprintf(stderr, "usage: %s [--threads N] [--shape tiny.en|base.en] TINY_MODEL.bin SPEECH.wav\n", argv[0]);
        return 2;
    }
    char err[512], model[64] = "";
    struct pcm_buf speech, pcm = {0};
    if (wav_read(argv[ai + 1], &speech, err, sizeof err) || speech.sample_rate != 16000 || !speech.len) {
        fprintf(stderr, "%s: 16 kHz WAV needed (%s)\n", argv[ai + 1], err);
        return 1;
    }
    while (pcm.len < 20 * 16000) /* the speech again and again, to 20 s */
        pcm_append(&pcm, speech.samples, speech.len);
    const char *path = argv[ai];
    if (!strcmp(shape, "base.en")) {
        snprintf(model, sizeof model, "/tmp/parley-base-shape-%d.bin", (int)getpid());
        if (write_base_shape(argv[ai], model)) {
            fprintf(stderr, "cannot write %s\n", model);
            return 1;
        }
        path = model;
    }
    const double secs[] = {1, 2, 3, 5, 10, 20};
    printf("%s's shape, %d threads: ms per decode (median of 3)\n\n", shape, threads);
    printf("| encoder window | 1 s | 2 s | 3 s | 5 s | 10 s | 20 s |\n|---|---:|---:|---:|---:|---:|---:|\n");
    int rc = 0;
    for (int fitted = 0; fitted <= 1 && !rc; fitted++) {
        struct asr_params p = asr_default_params();
        p.engine = "whisper";
        p.whisper_model = path;
        p.whisper_threads = threads;
        p.whisper_full_window = !fitted;
        asr_model *m = asr_model_new(&p, err, sizeof err);
        if (!m) {
            fprintf(stderr, "%s\n", err);
            rc = 1;
            break;
        }
        printf("| %s |", fitted ? "fitted to the utterance (now)" : "full 30 s (before)");
        for (size_t k = 0; k < sizeof secs / sizeof *secs; k++) {
            double ms[3];
            for (int r = 0; r < 3; r++) {
                char text[4096];
                int64_t t0 = clock_now_us();
                asr_transcribe(m, pcm.samples, (size_t)(secs[k] * 16000), text, sizeof text, err, sizeof err);
                ms[r] = (double)(clock_now_us() - t0) / 1000.0;
            }
            printf(" %.0f |", median3(ms[0], ms[1], ms[2]));
            fflush(stdout);
        }
        printf("\n");
        asr_model_free(m);
    }
    if (model[0])
        unlink(model);
    pcm_free(&pcm);
    pcm_free(&speech);
    return rc;
}
