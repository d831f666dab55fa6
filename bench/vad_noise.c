/* VAD benchmark: how often WebRTC and Silero fire on noise alone (fan hum
 * made with sox, keyboard-like clicks), and how fast each confirms the onset
 * of flite speech mixed with that noise. Prints one table row per engine.
 *
 * Usage: bench_vad_noise SILERO_MODEL [TRIALS]   (needs flite and sox) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/audio.h"
#include "vad/vad.h"

#define RATE 16000

static const char *const sentences[] = {
    "Turn on the kitchen lights.", "What is the weather like today?", "Set a timer for ten minutes.",
    "Play some music please.", "How far away is the moon?", "Remind me to call my sister.",
};
#define NSENT (int)(sizeof sentences / sizeof sentences[0])

/* Keyboard-like clicks: 4-12 ms decaying noise bursts, 80-400 ms apart. */
static void add_clicks(int16_t *x, size_t n, unsigned seed, double level)
{
    srand(seed);
    for (size_t at = (size_t)(rand() % 4000); at < n; at += (size_t)(RATE * (0.08 + 0.32 * rand() / (double)RAND_MAX))) {
        size_t len = (size_t)(RATE * (0.004 + 0.008 * rand() / (double)RAND_MAX));
        double amp = level * (0.5 + 0.5 * rand() / (double)RAND_MAX);
        for (size_t i = 0; i < len && at + i < n; i++) {
            double v = amp * 32767 * exp(-6.0 * (double)i / (double)len) * (2.0 * rand() / (double)RAND_MAX - 1);
            double s = x[at + i] + v;
            x[at + i] = (int16_t)(s > 32767 ? 32767 : s < -32768 ? -32768 : s);
        }
    }
}

static void mix(int16_t *x, const int16_t *y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int s = x[i] + y[i];
        x[i] = (int16_t)(s > 32767 ? 32767 : s < -32768 ? -32768 : s);
    }
}

struct run_result {
    int starts;
    double first_start; /* s; -1 if none */
    double open_at, in_speech_s;
};

static void on_event(void *ud, const struct vad_event *ev)
{
    struct run_result *r = ud;
    double t = (double)(ev->frame_index + 1) * 0.02;
    if (ev->kind == VAD_EVENT_END)
        r->in_speech_s += t - r->open_at, r->open_at = -1;
    if (ev->kind != VAD_EVENT_START)
        return;
    if (r->first_start < 0)
        r->first_start = t;
    r->open_at = t;
    r->starts++;
}

static struct run_result run(const struct vad_engine *engine, const char *model, const int16_t *x, size_t n)
{
    struct vad_params p = vad_default_params();
    p.engine = engine;
    p.model_path = model;
    char err[256];
    vad *v = vad_new(&p, err, sizeof err);
    struct run_result r = {0, -1, -1, 0};
    if (!v) {
        fprintf(stderr, "%s: %s\n", engine->name, err);
        exit(1);
    }
    for (size_t off = 0; off < n; off += 320)
        vad_process(v, x + off, n - off < 320 ? n - off : 320, on_event, &r);
    if (r.open_at >= 0)
        r.in_speech_s += (double)n / RATE - r.open_at; /* never ended */
    vad_free(v);
    return r;
}

static int load(const char *cmd, const char *path, struct pcm_buf *out)
{
    char err[256];
    if (system(cmd) != 0 || wav_read(path, out, err, sizeof err)) {
        fprintf(stderr, "cannot make %s\n", path);
        return -1;
    }
    return 0;
}

static int by_value(const void *a, const void *b)
{
    double d = *(const double *)a - *(const double *)b;
    return d > 0 ? 1 : d < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s SILERO_MODEL [TRIALS]\n", argv[0]);
        return 2;
    }
    const char *model = argv[1];
    int trials = argc > 2 ? atoi(argv[2]) : 12;
    char dir[] = "/tmp/parley-vadbench-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char cmd[1024], path[300];
    struct pcm_buf speech[NSENT];
    for (int i = 0; i < NSENT; i++) {
        snprintf(path, sizeof path, "%s/s%d.wav", dir, i);
        snprintf(cmd, sizeof cmd, "flite -voice slt -t '%s' -o %s/raw%d.wav && sox -R %s/raw%d.wav -r 16000 -c 1 -b 16 %s",
                 sentences[i], dir, i, dir, i, path);
        if (load(cmd, path, &speech[i]))
            return 1;
    }

    static const double levels[] = {0.03, 0.10}; /* brown noise amplitude: about -40 and -30 dBFS */
    for (int L = 0; L < 2; L++) {
        double level = levels[L];
    /* 60 s of fan hum: brown noise plus a 120 Hz motor tone. */
    snprintf(path, sizeof path, "%s/hum.wav", dir);
    snprintf(cmd, sizeof cmd,
             "sox -R -n -r 16000 -c 1 -b 16 %s/brown.wav synth 60 brownnoise vol %.3f && "
             "sox -R -n -r 16000 -c 1 -b 16 %s/tone.wav synth 60 sine 120 vol %.3f && sox -R -m %s/brown.wav %s/tone.wav %s",
             dir, level, dir, level / 3, dir, dir, path);
    struct pcm_buf hum;
    if (load(cmd, path, &hum))
        return 1;
    size_t n = hum.len;
    int16_t *clicks = calloc(n, sizeof *clicks), *both = malloc(n * sizeof *both);
    add_clicks(clicks, n, 7, 0.5);
    memcpy(both, hum.samples, n * sizeof *both);
    mix(both, clicks, n);

    const struct vad_engine *engines[2];
    double cpu[2] = {0, 0};
    char err[256];
    engines[0] = vad_engine_find("webrtc", err, sizeof err);
    engines[1] = vad_engine_find("silero", err, sizeof err);
    double rms = 0;
    for (size_t i = 0; i < hum.len; i++)
        rms += (double)hum.samples[i] * hum.samples[i];
    printf("noise: fan hum at %.1f dBFS RMS, clicks every 80-400 ms; speech: flite slt at its own level\n\n",
           20 * log10(sqrt(rms / (double)hum.len) / 32768.0));
    printf("| engine | false starts/min (time in false speech): hum | clicks | hum + clicks | onset in quiet p50 / p95 ms | onset in hum + clicks p50 / p95 ms | missed in noise |\n");
        printf("|---|---|---|---|---|---|---|\n");
    for (int e = 0; e < 2; e++) {
        if (!engines[e]) {
            printf("| silero | (not built: %s) |\n", err);
            continue;
        }
        clock_t c0 = clock();
        struct run_result h = run(engines[e], model, hum.samples, n);
        double cpu_ms_per_s = (double)(clock() - c0) * 1000.0 / CLOCKS_PER_SEC / ((double)n / RATE);
        struct run_result c = run(engines[e], model, clicks, n);
        struct run_result hc = run(engines[e], model, both, n);
        /* Onset: 1.5 s of the noise, then a sentence; time from the first
         * sample of speech louder than -30 dBFS to the confirmed start. */
        double lat[64], quiet_lat[64];
        int nl = 0, nq = 0, missed = 0;
        for (int t = 0; t < trials && t < 64; t++) {
            const struct pcm_buf *sp = &speech[t % NSENT];
            size_t lead = RATE * 3 / 2, len = lead + sp->len + RATE / 2;
            size_t noise_at = (size_t)(t * 3 * RATE) % (n - len);
            int16_t *x = malloc(len * sizeof *x), *q = calloc(len, sizeof *q);
            memcpy(x, both + noise_at, len * sizeof *x);
            mix(x + lead, sp->samples, sp->len);
            mix(q + lead, sp->samples, sp->len);
            size_t onset = 0;
            while (onset < sp->len && abs(sp->samples[onset]) < 1036)
                onset++;
            double t_onset = (double)(lead + onset) / RATE;
            struct run_result r = run(engines[e], model, x, len);
            if (r.first_start < t_onset - 0.05 || r.first_start < 0)
                missed++; /* fired on the noise first, or never */
            else
                lat[nl++] = (r.first_start - t_onset) * 1000;
            r = run(engines[e], model, q, len);
            if (r.first_start >= t_onset - 0.05)
                quiet_lat[nq++] = (r.first_start - t_onset) * 1000;
            free(x);
            free(q);
        }
        qsort(quiet_lat, (size_t)nq, sizeof quiet_lat[0], by_value);
        qsort(lat, (size_t)nl, sizeof lat[0], by_value);
        double minutes = (double)n / RATE / 60.0;
#define P95(a, k) ((k) ? (a)[((k) * 95) / 100 < (k) ? ((k) * 95) / 100 : (k) - 1] : -1)
        printf("| %s | %.1f (%.0f%%) | %.1f (%.0f%%) | %.1f (%.0f%%) | %.0f / %.0f | %.0f / %.0f | %d/%d |\n", engines[e]->name,
               h.starts / minutes, 100 * h.in_speech_s / (minutes * 60), c.starts / minutes,
               100 * c.in_speech_s / (minutes * 60), hc.starts / minutes, 100 * hc.in_speech_s / (minutes * 60), nq ? quiet_lat[nq / 2] : -1, P95(quiet_lat, nq),
               nl ? lat[nl / 2] : -1, P95(lat, nl),
               missed, trials);
        cpu[e] = cpu_ms_per_s;
    }
    printf("\nCPU per second of audio: webrtc %.2f ms, silero %.2f ms (one thread)\n", cpu[0], cpu[1]);
        pcm_free(&hum);
        free(clicks);
        free(both);
        printf("\n");
    }
    for (int i = 0; i < NSENT; i++)
        pcm_free(&speech[i]);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
