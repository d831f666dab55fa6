/* Word error rate and cost of the recogniser, per setting: a fixed list of
 * sentences spoken by flite's slt and kal voices (made with flite and sox,
 * repeatable), and real speech (jfk.wav) when given. For each set of
 * pocketsphinx search options: WER per voice and over all words, CPU seconds
 * per second of audio (real-time factor, one thread), and the memory one
 * decoder costs (a second decoder's growth of the resident set, each row in a
 * process of its own so that freed memory does not hide it).
 *
 * Then one row per Whisper model in the models folder (every ggml-*.bin;
 * --models DIR, default the config's <data_dir>/models): Whisper's finals,
 * which are the same whether partials come from pocketsphinx, from Whisper
 * or not at all (asr.partials changes partials and cost, not finals).
 *
 * Usage: bench_wer [--jfk PATH/jfk.wav] [--models DIR] [--ps "OPTIONS"]...
 *   each --ps is one row ("" or "default": pocketsphinx's own settings);
 *   without any, the built-in default and pocketsphinx's own are compared. */
#include <dirent.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "asr/asr.h"
#include "core/audio.h"
#include "core/config.h"
#include "defaults.h"

static const char *const sentences[] = {
    "what is the weather like today",
    "tell me a joke about computers",
    "what time is it in london",
    "how many minutes are in one hour",
    "turn on the kitchen lights",
    "what is the capital of france",
    "remind me to call my mother tomorrow",
    "play some music in the living room",
    "how far is the moon from the earth",
    "set a timer for ten minutes",
    "what is the square root of sixty four",
    "who wrote the lord of the rings",
    "please add milk to the shopping list",
    "is it going to rain this weekend",
    "tell me the news from this morning",
    "how do you make a cup of tea",
    "what movies are playing near me tonight",
    "send a message to john saying i will be late",
    "what is the population of canada",
    "turn off all the lights in the house",
    "how long does it take to boil an egg",
    "book a table for two at seven tonight",
    "what is the best way to learn a language",
    "read me my calendar for friday",
    "convert one hundred dollars to euros",
    "why is the sky blue",
    "find a recipe for chocolate cake",
    "how many people live in new york city",
    "wake me up at six thirty in the morning",
    "what does the word serendipity mean",
    "open the garage door please",
    "which planet is closest to the sun",
};
#define NSENT (sizeof sentences / sizeof *sentences)
#define MAX_WORDS 256

static const char *const jfk_text =
    "and so my fellow americans ask not what your country can do for you ask what you can do for your country";

static int words(const char *text, char out[][32], int max)
{
    int n = 0;
    const char *p = text;
    while (*p && n < max) {
        while (*p && !isalnum((unsigned char)*p) && *p != '\'')
            p++;
        int k = 0;
        while (*p && (isalnum((unsigned char)*p) || *p == '\'')) {
            if (k < 31)
                out[n][k++] = (char)tolower((unsigned char)*p);
            p++;
        }
        if (k) {
            out[n][k] = 0;
            n++;
        }
    }
    return n;
}

/* Word-level edit distance between reference and hypothesis. */
static int edits(const char *ref, const char *hyp, int *nref)
{
    static char r[MAX_WORDS][32], h[MAX_WORDS][32];
    int nr = words(ref, r, MAX_WORDS), nh = words(hyp, h, MAX_WORDS);
    static int d[MAX_WORDS + 1][MAX_WORDS + 1];
    for (int i = 0; i <= nr; i++)
        d[i][0] = i;
    for (int j = 0; j <= nh; j++)
        d[0][j] = j;
    for (int i = 1; i <= nr; i++)
        for (int j = 1; j <= nh; j++) {
            int sub = d[i - 1][j - 1] + (strcmp(r[i - 1], h[j - 1]) != 0);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    *nref = nr;
    return d[nr][nh];
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kib = atol(line + 6);
    if (f)
        fclose(f);
    return kib;
}

struct clip {
    struct pcm_buf pcm;
    const char *ref;
};

static int make_clip(const char *dir, const char *voice, int i, struct clip *c)
{
    char cmd[1024], wav[600], err[256];
    snprintf(wav, sizeof wav, "%s/%s-%d.wav", dir, voice, i);
    snprintf(cmd, sizeof cmd,
             "flite -voice %s -t '%s' -o %s/raw.wav && sox -R %s/raw.wav -r 16000 -c 1 -b 16 %s pad 0.2 0.3",
             voice, sentences[i], dir, dir, wav);
    if (system(cmd) != 0 || wav_read(wav, &c->pcm, err, sizeof err))
        return -1;
    c->ref = sentences[i];
    return 0;
}

/* One row: pocketsphinx with options, or (whisper set) that Whisper model. */
static void row(const char *options, const char *whisper, struct clip *sets[], const int counts[], int nsets)
{
    struct parley_config cfg;
    parley_config_defaults(&cfg);
    struct asr_params p = asr_default_params();
    p.engine = whisper ? "whisper" : "pocketsphinx";
    p.partials = "off"; /* finals only: partials do not change them */
    p.whisper_model = whisper;
    p.model_dir = cfg.asr_model_dir;
    p.pocketsphinx_options = options;
    p.max_decoders = 1;
    char err[512], label[600];
    if (whisper)
        snprintf(label, sizeof label, "Whisper %s (finals, any asr.partials)", strrchr(whisper, '/') + 1);
    else
        snprintf(label, sizeof label, "pocketsphinx `%s`", options[0] ? options : "(its own settings)");
    asr_model *m = asr_model_new(&p, err, sizeof err);
    if (!m) {
        printf("| %s | %s |\n", label, err);
        return;
    }
    /* The first decoder brings the shared libraries' and allocator's own
     * growth; a second one shows what each more costs. */
    long before = rss_kib();
    asr_model *second = asr_model_new(&p, err, sizeof err);
    long decoder_kib = rss_kib() - before;
    asr_model_free(second);
    printf("| %s |", label);
    double cpu = 0, audio = 0;
    int all_e = 0, all_n = 0;
    for (int s = 0; s < nsets; s++) {
        int e = 0, n = 0;
        /* each set is one speaker in one session: adaptation carries from
         * their sentence to their next, never to another voice */
        struct asr_adaptation speaker = {.len = 0};
        for (int i = 0; i < counts[s]; i++) {
            char text[4096];
            double t0 = cpu_s();
            if (asr_transcribe_adapted(m, &speaker, sets[s][i].pcm.samples, sets[s][i].pcm.len, text, sizeof text, err,
                                       sizeof err))
                text[0] = 0;
            cpu += cpu_s() - t0;
            audio += (double)sets[s][i].pcm.len / 16000.0;
            int nr;
            e += edits(sets[s][i].ref, text, &nr);
            n += nr;
            if (getenv("BENCH_VERBOSE"))
                fprintf(stderr, "  ref: %s\n  hyp: %s\n", sets[s][i].ref, text);
        }
        printf(" %.1f |", 100.0 * e / (n ? n : 1));
        all_e += e, all_n += n;
    }
    printf(" %.1f | %.3f | %.1f |\n", 100.0 * all_e / (all_n ? all_n : 1), cpu / audio, (double)decoder_kib / 1024.0);
    fflush(stdout);
    asr_model_free(m);
}

int main(int argc, char **argv)
{
    const char *jfk = NULL, *models = NULL;
    const char *rows[32];
    int nrows = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--jfk") && i + 1 < argc)
            jfk = argv[++i];
        else if (!strcmp(argv[i], "--models") && i + 1 < argc)
            models = argv[++i];
        else if (!strcmp(argv[i], "--ps") && i + 1 < argc && nrows < 32)
            rows[nrows++] = !strcmp(argv[i + 1], "default") ? "" : argv[i + 1], i++;
        else {
            fprintf(stderr, "usage: %s [--jfk jfk.wav] [--models DIR] [--ps OPTIONS]...\n", argv[0]);
            return 2;
        }
    }
    struct parley_config cfg;
    parley_config_defaults(&cfg);
    if (!nrows) {
        rows[nrows++] = cfg.asr_pocketsphinx_options;
        rows[nrows++] = "";
    }
    char dir[] = "/tmp/parley-wer-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    static struct clip slt[NSENT], kal[NSENT], real[1];
    for (size_t i = 0; i < NSENT; i++)
        if (make_clip(dir, "slt", (int)i, &slt[i]) || make_clip(dir, "kal", (int)i, &kal[i])) {
            fprintf(stderr, "flite or sox failed\n");
            return 1;
        }
    struct clip *sets[3] = {slt, kal, real};
    int counts[3] = {NSENT, NSENT, 0};
    int nsets = 2;
    char err[256];
    if (jfk && wav_read(jfk, &real[0].pcm, err, sizeof err) == 0 && real[0].pcm.sample_rate == 16000) {
        real[0].ref = jfk_text;
        counts[2] = 1;
        nsets = 3;
    }
    printf("| engine and settings | WER slt %% | WER kal %% |%s WER all %% | CPU s per audio s | MiB per decoder |\n",
           nsets == 3 ? " WER jfk.wav % |" : "");
    printf("|---|---:|---:|%s---:|---:|---:|\n", nsets == 3 ? "---:|" : "");
    fflush(stdout);
    for (int r = 0; r < nrows; r++) {
        pid_t pid = fork();
        if (pid == 0) {
            row(rows[r], NULL, sets, counts, nsets);
            _exit(0);
        }
        waitpid(pid, NULL, 0);
    }
    /* Every Whisper model downloaded (parley models pull NAME). */
    if (!models)
        models = cfg.models_dir;
    DIR *d = opendir(models);
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "ggml-", 5) || len < 9 || strcmp(e->d_name + len - 4, ".bin"))
            continue;
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", models, e->d_name);
        pid_t pid = fork();
        if (pid == 0) {
            row("", path, sets, counts, nsets);
            _exit(0);
        }
        waitpid(pid, NULL, 0);
    }
    if (d)
        closedir(d);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
