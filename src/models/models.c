/* Downloads go to <file>.part: an interrupted transfer resumes from its size
 * with an HTTP Range request, and only a file whose SHA-1 matches the
 * published one is renamed to its final name. */
#include "models/models.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/files.h"
#include "core/http_util.h"
#include "core/sha1.h"

static const struct model_info known[] = {
    {"tiny.en", "Whisper tiny.en (English)", "ggml-tiny.en.bin", "ggerganov/whisper.cpp/resolve/main/ggml-tiny.en.bin",
     75, "c78c86eb1a8faa21b369bcd33207cc90d64ae9df"},
    {"base.en", "Whisper base.en (English)", "ggml-base.en.bin", "ggerganov/whisper.cpp/resolve/main/ggml-base.en.bin",
     142, "137c40403d78fd54d454da0f9bd998f78703390c"},
    {"small.en", "Whisper small.en (English)", "ggml-small.en.bin",
     "ggerganov/whisper.cpp/resolve/main/ggml-small.en.bin", 466, "db8a495a91d927739e50b3fc1cc4c6b8f6c2d022"},
    {"silero-v6.2.0", "Silero VAD v6.2.0", "silero-v6.2.0-ggml.bin",
     "ggml-org/whisper-vad/resolve/main/ggml-silero-v6.2.0.bin", 0.9, "470e5d9d094ddba2f0a512cecc3732a252188abd"},
};
#define NKNOWN (int)(sizeof known / sizeof known[0])

const struct model_info *models_known(int *n)
{
    *n = NKNOWN;
    return known;
}

const struct model_info *models_find(const char *name)
{
    for (int i = 0; i < NKNOWN; i++)
        if (!strcmp(known[i].name, name) || !strcmp(known[i].file, name))
            return &known[i];
    return NULL;
}

void models_path(const char *dir, const struct model_info *m, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%s", dir, m->file);
}

int models_sha1_file(const char *path, char hex[41])
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    struct sha1 s;
    sha1_init(&s);
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sha1_update(&s, buf, n);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return -1;
    sha1_final_hex(&s, hex);
    return 0;
}

struct transfer {
    FILE *out;
    int write_errno;
    curl_off_t have;  /* bytes already in the .part file */
    long status;
    const struct models_pull_params *p;
    const struct model_info *m;
    int64_t last_draw;
    int last_decile;
    curl_off_t got; /* bytes received by this pull */
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *ud)
{
    struct transfer *t = ud;
    size_t n = size * nmemb;
    if (t->status >= 400)
        return n; /* an error page: not written */
    if (fwrite(data, 1, n, t->out) != n || fflush(t->out)) {
        t->write_errno = errno ? errno : EIO;
        return 0;
    }
    t->got += (curl_off_t)n;
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct transfer *t = ud;
    size_t n = size * nmemb;
    int code = http_status_line(data, n);
    if (code) {
        t->status = code;
        /* 200 to a Range request: the server sends it all; start over. */
        if (code == 200 && t->have > 0) {
            if (ftruncate(fileno(t->out), 0) == 0)
                fseek(t->out, 0, SEEK_SET);
            t->have = 0;
        }
    }
    return n;
}

static int on_progress(void *ud, curl_off_t total, curl_off_t now, curl_off_t ut, curl_off_t un)
{
    (void)ut, (void)un;
    struct transfer *t = ud;
    if (!t->p->progress || t->status >= 400)
        return 0;
    double done = (double)(t->have + now), all = total > 0 ? (double)(t->have + total) : t->m->mib * 1048576.0;
    int pct = all > 0 ? (int)(100.0 * done / all) : 0;
    if (pct > 100)
        pct = 100;
    if (t->p->tty) {
        int64_t at = clock_now_us();
        if (at - t->last_draw < 100000 && now < total)
            return 0;
        t->last_draw = at;
        char bar[31];
        int fill = pct * 30 / 100;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        fprintf(t->p->progress, "\r%s [%s] %3d%% %.1f/%.1f MiB", t->m->name, bar, pct, done / 1048576.0,
                all / 1048576.0);
        fflush(t->p->progress);
    } else if (pct / 10 > t->last_decile) {
        t->last_decile = pct / 10;
        fprintf(t->p->progress, "%s: %d%% (%.1f of %.1f MiB)\n", t->m->name, pct, done / 1048576.0, all / 1048576.0);
    }
    return 0;
}

struct models_pull_params models_pull_default_params(void)
{
    return (struct models_pull_params){.dir = "data/models", .base_url = "https://huggingface.co", .progress = stderr};
}

int models_pull(const struct models_pull_params *p, const struct model_info *m, char *err, size_t errlen)
{
    char final[1200], part[1300], hex[41];
    if (files_make_dirs(p->dir, err, errlen))
        return -1;
    models_path(p->dir, m, final, sizeof final);
    snprintf(part, sizeof part, "%s.part", final);
    if (models_sha1_file(final, hex) == 0) {
        if (!strcmp(hex, m->sha1)) {
            if (p->progress)
                fprintf(p->progress, "%s is already present: %s\n", m->name, final);
            return 0;
        }
        if (p->progress)
            fprintf(p->progress, "%s at %s does not match its checksum; downloading it again\n", m->name, final);
    }
    struct stat st;
    curl_off_t have = stat(part, &st) == 0 ? (curl_off_t)st.st_size : 0;
    FILE *out = fopen(part, have ? "ab" : "wb");
    if (!out) {
        snprintf(err, errlen, "cannot write %s: %s", part, strerror(errno));
        return -1;
    }
    char url[1200];
    snprintf(url, sizeof url, "%s/%s", p->base_url, m->remote);
    if (p->progress && have)
        fprintf(p->progress, "resuming %s from %.1f MiB\n", m->name, (double)have / 1048576.0);
    struct transfer t = {.out = out, .have = have, .p = p, .m = m, .last_decile = (int)(have * 10 / (curl_off_t)(m->mib * 1048576.0 + 1))};
    CURL *c = curl_easy_init();
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* a stalled transfer fails (and can resume) */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    if (have > 0)
        curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, have);
    CURLcode res = curl_easy_perform(c);
    curl_easy_cleanup(c);
    int closed = fclose(out);
    if (p->progress && p->tty)
        fputc('\n', p->progress);
    if (t.write_errno || closed) {
        int e = t.write_errno ? t.write_errno : errno;
        snprintf(err, errlen, "cannot write %s: %s%s", part, strerror(e),
                 e == ENOSPC || e == EFBIG ? " (the disk is full; free space and pull again to resume)" : "");
        return -1;
    }
    if (t.status >= 400) {
        snprintf(err, errlen, "%s answered HTTP %ld", url, t.status);
        if (t.status == 416) /* the .part is complete or bad: start over next time */
            remove(part);
        return -1;
    }
    if (res != CURLE_OK && !t.got && !have) {
        remove(part); /* nothing came: no empty .part to resume */
        snprintf(err, errlen, "cannot download %s: %s (no network? models.url, PARLEY_MODELS_URL, names the server)",
                 url, curl_err[0] ? curl_err : curl_easy_strerror(res));
        return -1;
    }
    if (res != CURLE_OK) {
        snprintf(err, errlen, "download of %s broke off: %s (pull again to resume)", url,
                 curl_err[0] ? curl_err : curl_easy_strerror(res));
        return -1;
    }
    if (models_sha1_file(part, hex)) {
        snprintf(err, errlen, "cannot read back %s", part);
        return -1;
    }
    if (strcmp(hex, m->sha1)) {
        remove(part); /* corrupt: resuming it would not help */
        snprintf(err, errlen, "%s: checksum mismatch (SHA-1 %s, expected %s); the download was discarded", m->name,
                 hex, m->sha1);
        return -1;
    }
    if (rename(part, final)) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", part, final, strerror(errno));
        return -1;
    }
    if (p->progress)
        fprintf(p->progress, "%s: verified (SHA-1 %s), saved to %s\n", m->name, hex, final);
    return 0;
}
