/* `parley doctor` and what start-up says about the engines: every part a
 * spoken turn needs, checked as `serve` would use it, one line each (✓, or ✗
 * with the fix), and advice (!) where a working part could be better. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "asr/asr.h"
#include "core/files.h"
#include "core/http_util.h"
#include "core/log.h"
#include "llm/llm_check.h"
#include "models/models.h"
#include "auth/auth.h"
#include "auth/tls.h"
#include "server/server.h"
#include "server/server_internal.h"
#include "store/store.h"
#include "tts/tts.h"

#define DOCTOR_LLM_TIMEOUT_MS 3000

/* ---- advice on working engines (start-up log and doctor) ---- */

static int file_exists(const char *path)
{
    return access(path, R_OK) == 0;
}

/* What would hear better than the engine in use; empty when nothing. */
static void asr_advice(const struct parley_config *cfg, const struct asr_choice *c, char *out, size_t len)
{
    out[0] = 0;
    if (strcmp(c->engine, "pocketsphinx"))
        return;
#ifdef PARLEY_HAVE_WHISPER
    const struct model_info *m = models_find(cfg->asr_whisper_model);
    char path[1200] = "";
    if (m)
        models_path(cfg->models_dir, m, path, sizeof path);
    if (m && file_exists(path))
        snprintf(out, len, "pocketsphinx often mishears real voices; Whisper's %s is downloaded: PARLEY_ASR=auto",
                 m->name);
    else
        snprintf(out, len, "pocketsphinx often mishears real voices: parley models pull %s%s",
                 m ? m->name : "tiny.en", strcmp(cfg->asr_engine, "auto") ? ", then PARLEY_ASR=auto" : "");
#else
    (void)cfg;
    snprintf(out, len,
             "pocketsphinx often mishears real voices; Whisper needs whisper.cpp: run scripts/setup.sh and rebuild");
#endif
}

/* "whisper (partials: pocketsphinx)" */
static void asr_describe(const struct asr_choice *c, char *out, size_t len)
{
    if (!strcmp(c->partials, c->engine))
        snprintf(out, len, "%s", c->engine);
    else
        snprintf(out, len, "%s (partials: %s)", c->engine, c->partials);
}

static void vad_advice(const struct vad_choice *vc, char *out, size_t len)
{
    out[0] = 0;
    if (strcmp(vc->engine->name, "webrtc"))
        return;
#ifdef PARLEY_HAVE_WHISPER
    snprintf(out, len, "WebRTC takes clicks and hum for speech%s%s%s: parley models pull silero-v6.2.0",
             vc->why[0] ? " (" : "", vc->why, vc->why[0] ? ")" : "");
#else
    snprintf(out, len, "WebRTC takes clicks and hum for speech; Silero needs whisper.cpp: run scripts/setup.sh");
#endif
}

static void tts_advice(const struct parley_config *cfg, char *out, size_t len)
{
    out[0] = 0;
    if (!strstr(cfg->tts_chain, "openai"))
        snprintf(out, len, "flite and espeak-ng sound robotic; an OpenAI-compatible speech server sounds natural "
                           "(PARLEY_TTS=openai,flite, docs/config.md)");
}

void server_log_engines(const struct parley_config *cfg, const struct asr_choice *asr, const struct vad_choice *vc)
{
    char advice[1200], name[80];
    asr_advice(cfg, asr, advice, sizeof advice);
    if (asr->why[0])
        advice[0] = 0; /* auto's reason already says how to hear better */
    asr_describe(asr, name, sizeof name);
    log_info("ASR: %s%s%s%s%s", name, asr->why[0] ? ", " : "", asr->why, advice[0] ? ". Better: " : "", advice);
    vad_advice(vc, advice, sizeof advice);
    if (advice[0])
        log_info("VAD: WebRTC. Better: %s", advice);
    else
        log_info("VAD: %s (%s)", vc->engine->name, vc->model);
    tts_advice(cfg, advice, sizeof advice);
    log_info("TTS: %s%s%s", cfg->tts_chain, advice[0] ? ". Better: " : "", advice);
}

/* ---- the checks ---- */

enum mark { OK, FAIL, ADVICE, SKIP };

struct report {
    FILE *out;
    int failed;
};

static void line(struct report *r, enum mark m, const char *what, const char *detail, const char *fix)
{
    static const char *const marks[] = {"✓", "✗", "!", "-"};
    fprintf(r->out, "%s %s: %s%s%s\n", marks[m], what, detail, fix && fix[0] ? " — fix: " : "", fix ? fix : "");
    if (m == FAIL)
        r->failed = 1;
}

static void check_llm(struct report *r, const struct parley_config *cfg)
{
    struct llm_params lp = server_llm_params(cfg);
    struct llm_check c;
    llm_check_run(&lp, DOCTOR_LLM_TIMEOUT_MS, &c);
    char detail[900];
    if (!c.reachable) {
        line(r, FAIL, "LLM server", c.problem, c.fix);
        line(r, SKIP, "LLM model", "not checked until the server answers", NULL);
        return;
    }
    snprintf(detail, sizeof detail, "%s answers at %s", cfg->llm_provider, cfg->llm_url);
    if (c.model_found) {
        line(r, OK, "LLM server", detail, NULL);
        snprintf(detail, sizeof detail, "%s is there", cfg->llm_model);
        line(r, OK, "LLM model", detail, NULL);
    } else if (c.problem[0] && !strstr(c.problem, "no model")) {
        line(r, FAIL, "LLM server", c.problem, c.fix); /* it answers, but not as asked */
        line(r, SKIP, "LLM model", "not checked until the server answers", NULL);
    } else {
        line(r, OK, "LLM server", detail, NULL);
        line(r, FAIL, "LLM model", c.problem, c.fix);
    }
}

static void check_asr(struct report *r, const struct parley_config *cfg)
{
    char err[512] = "", detail[1800], advice[1200];
    struct asr_params ap = server_asr_params(cfg);
    ap.max_decoders = 1;
    asr_model *m = asr_model_new(&ap, err, sizeof err);
    if (!m) {
        line(r, FAIL, "speech recognition", err,
             strstr(err, "Whisper") ? "parley models pull tiny.en (again, if the file is damaged)"
                                    : "see asr.engine in docs/config.md");
        return;
    }
    char name[80];
    asr_describe(asr_model_choice(m), name, sizeof name);
    snprintf(detail, sizeof detail, "%s loads%s%s", name, asr_model_choice(m)->why[0] ? "; " : "",
             asr_model_choice(m)->why);
    line(r, OK, "speech recognition", detail, NULL);
    asr_advice(cfg, asr_model_choice(m), advice, sizeof advice);
    if (advice[0])
        line(r, ADVICE, "speech recognition", advice, NULL);
    asr_model_free(m);
}

static void check_vad(struct report *r, const struct parley_config *cfg)
{
    char err[512] = "", detail[900], advice[1200];
    struct vad_choice vc;
    if (server_vad_choice(cfg, &vc, err, sizeof err)) {
        line(r, FAIL, "speech detection", err, "parley models pull silero-v6.2.0, or vad.engine: webrtc");
        return;
    }
    snprintf(detail, sizeof detail, "%s loads", vc.engine->name);
    line(r, OK, "speech detection", detail, NULL);
    vad_advice(&vc, advice, sizeof advice);
    if (advice[0])
        line(r, ADVICE, "speech detection", advice, NULL);
}

/* Each engine of the chain says a word on its own. */
static void check_tts(struct report *r, const struct parley_config *cfg)
{
    char err[512] = "", spoke[256] = "", failed[700] = "", advice[1200];
    struct tts_params tp = server_tts_params(cfg);
    tts *t = tts_new(&tp, err, sizeof err);
    if (!t) {
        line(r, FAIL, "speech synthesis", err, "see tts.chain in docs/config.md");
        return;
    }
    int order[TTS_MAX_ENGINES];
    int n = tts_parse_chain(t, tp.chain, order, TTS_MAX_ENGINES, err, sizeof err);
    for (int i = 0; i < n; i++) {
        struct tts_result res;
        const char *name = tts_engine_name(t, order[i]);
        if (tts_speak(t, &order[i], 1, "Hello.", NULL, NULL, NULL, &res) == 0)
            snprintf(spoke + strlen(spoke), sizeof spoke - strlen(spoke), "%s%s", spoke[0] ? ", " : "", name);
        else
            snprintf(failed + strlen(failed), sizeof failed - strlen(failed), "%s", res.failures);
        tts_result_free(&res);
    }
    tts_free(t);
    if (n <= 0 || !spoke[0]) {
        line(r, FAIL, "speech synthesis", n <= 0 ? err : failed, "see tts.chain in docs/config.md");
        return;
    }
    char detail[300];
    snprintf(detail, sizeof detail, "%s speak%s", spoke, strchr(spoke, ',') ? "" : "s");
    line(r, OK, "speech synthesis", detail, NULL);
    if (failed[0])
        line(r, ADVICE, "speech synthesis", failed, "the chain falls back past these");
    tts_advice(cfg, advice, sizeof advice);
    if (advice[0])
        line(r, ADVICE, "speech synthesis", advice, NULL);
}

static void check_data_dir(struct report *r, const struct parley_config *cfg)
{
    char err[600] = "", detail[800], path[700];
    if (!cfg->data_dir[0]) {
        line(r, SKIP, "data dir", "empty: conversations and memories are not stored", NULL);
        return;
    }
    if (files_make_dirs(cfg->data_dir, err, sizeof err)) {
        line(r, FAIL, "data dir", err, "set data_dir (PARLEY_DATA_DIR) to a folder parley may write");
        return;
    }
    snprintf(path, sizeof path, "%s/.doctor-%d", cfg->data_dir, (int)getpid());
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(detail, sizeof detail, "%s is not writable: %s", cfg->data_dir, strerror(errno));
        line(r, FAIL, "data dir", detail, "set data_dir (PARLEY_DATA_DIR) to a folder parley may write");
        return;
    }
    fclose(f);
    unlink(path);
    snprintf(path, sizeof path, "%s/parley.db", cfg->data_dir);
    struct store_params sp = store_default_params();
    sp.path = path;
    store *db = store_open(&sp, err, sizeof err);
    if (!db) {
        line(r, FAIL, "data dir", err, "move the file aside, or set data_dir (PARLEY_DATA_DIR) elsewhere");
        return;
    }
    store_close(db);
    snprintf(detail, sizeof detail, "%s is writable and its database opens", cfg->data_dir);
    line(r, OK, "data dir", detail, NULL);
}

/* Who may connect, and whether phones can: auth.mode with its users, and
 * the TLS files. */
static void check_access(struct report *r, const struct parley_config *cfg)
{
    char detail[900], err[700];
    int loopback = auth_host_is_loopback(cfg->listen_host);
    if (cfg->tls_cert[0]) {
        char fp[100] = "";
        if (tls_check_pair(cfg->tls_cert, cfg->tls_key, err, sizeof err) ||
            tls_fingerprint(cfg->tls_cert, fp, sizeof fp, err, sizeof err)) {
            line(r, FAIL, "TLS", err, "fix tls.cert and tls.key, or make a pair: parley tls self-signed DIR");
        } else {
            snprintf(detail, sizeof detail, "https with %s (SHA-256 %.23s…)", cfg->tls_cert, fp);
            line(r, OK, "TLS", detail, NULL);
        }
    } else if (!loopback) {
        line(r, ADVICE, "TLS",
             "off: other devices' browsers give the microphone only to https pages: parley tls self-signed DIR "
             "(docs/phone.md)",
             NULL);
    }
    if (!auth_required(cfg->auth_mode, cfg->listen_host)) {
        if (loopback)
            snprintf(detail, sizeof detail, "off (auth.mode %s): only this machine can connect (%s)", cfg->auth_mode,
                     cfg->listen);
        else
            snprintf(detail, sizeof detail,
                     "off on %s: anyone who can reach it can talk to parley and read its memories: "
                     "auth.mode auto or on, then parley users add NAME",
                     cfg->listen);
        line(r, loopback ? OK : ADVICE, "auth", detail, NULL);
        return;
    }
    char path[700];
    snprintf(path, sizeof path, "%s/parley.db", cfg->data_dir);
    struct store_params sp = store_default_params();
    sp.path = path;
    store *db = cfg->data_dir[0] ? store_open(&sp, err, sizeof err) : NULL;
    struct store_user users[64];
    int n = db ? store_users_load(db, users, 64) : -1, with_token = 0;
    store_close(db);
    for (int i = 0; i < n; i++)
        with_token += users[i].has_token;
    if (with_token == 0) {
        line(r, FAIL, "auth", n < 0 ? "on, and the users cannot be read (data_dir)" : "on, and no user has a token",
             "parley users add NAME");
        return;
    }
    snprintf(detail, sizeof detail, "on (auth.mode %s): %d user(s) with a token", cfg->auth_mode, with_token);
    line(r, OK, "auth", detail, NULL);
}

/* Whether parley itself answers at host:port (then `serve` is running). */
static int parley_answers(const struct parley_config *cfg, const char *host, int port)
{
    char url[300];
    snprintf(url, sizeof url, "%s://%s:%d/health", cfg->tls_cert[0] ? "https" : "http",
             strcmp(host, "0.0.0.0") ? host : "127.0.0.1", port);
    struct http_body b = {.max = 1 << 16};
    CURL *c = curl_easy_init();
    if (!c)
        return 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_body_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    /* Only "is it parley on this port?": its own certificate need not be trusted here. */
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    /* a full /health names the engines; a bare one (auth on, no token) says whether auth is required */
    int ok = curl_easy_perform(c) == CURLE_OK && b.data &&
             (strstr(b.data, "\"tts_engines\"") || strstr(b.data, "\"auth_required\""));
    curl_easy_cleanup(c);
    free(b.data);
    return ok;
}

static void check_port(struct report *r, const struct parley_config *cfg)
{
    char port[16], detail[400];
    snprintf(port, sizeof port, "%d", cfg->listen_port);
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    int rc = getaddrinfo(strcmp(cfg->listen_host, "0.0.0.0") ? cfg->listen_host : NULL, port, &hints, &ai);
    if (rc) {
        snprintf(detail, sizeof detail, "cannot resolve %s: %s", cfg->listen_host, gai_strerror(rc));
        line(r, FAIL, "listen", detail, "set listen (PARLEY_LISTEN) to HOST:PORT of this machine");
        return;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* as serve does */
    int bound = fd >= 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1) == 0;
    int why = errno;
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    if (bound) {
        snprintf(detail, sizeof detail, "%s is free", cfg->listen);
        line(r, OK, "listen", detail, NULL);
    } else if (why == EADDRINUSE && parley_answers(cfg, cfg->listen_host, cfg->listen_port)) {
        snprintf(detail, sizeof detail, "parley is already serving on %s", cfg->listen);
        line(r, OK, "listen", detail, NULL);
    } else {
        snprintf(detail, sizeof detail, "cannot listen on %s: %s", cfg->listen, strerror(why));
        line(r, FAIL, "listen", detail,
             why == EADDRINUSE ? "stop what uses it, or choose another port: --listen 127.0.0.1:8081"
                               : "set listen (PARLEY_LISTEN) to an address of this machine");
    }
}

static void check_web(struct report *r, const struct parley_config *cfg)
{
    char path[700], detail[800];
    snprintf(path, sizeof path, "%s/index.html", cfg->web_root);
    snprintf(detail, sizeof detail, "%s %s", path, file_exists(path) ? "is there" : "is missing");
    line(r, file_exists(path) ? OK : FAIL, "web client", detail,
         file_exists(path) ? NULL : "set web_root to the web/ folder of parley's source");
}

/* An MCP server's command, found as serve would start it (PATH). */
static int command_found(const char *cmd)
{
    if (strchr(cmd, '/'))
        return access(cmd, X_OK) == 0;
    const char *path = getenv("PATH");
    for (const char *p = path ? path : ""; *p;) {
        size_t n = strcspn(p, ":");
        char full[1200];
        snprintf(full, sizeof full, "%.*s/%s", (int)n, p, cmd);
        if (n && access(full, X_OK) == 0)
            return 1;
        p += n + (p[n] == ':');
    }
    return 0;
}

static void check_mcp(struct report *r, const struct parley_config *cfg)
{
    for (int i = 0; i < cfg->nmcp && cfg->tools_enabled; i++) {
        char what[64], detail[sizeof cfg->mcp[i].url + 400];
        snprintf(what, sizeof what, "MCP %s", cfg->mcp[i].name);
        if (cfg->mcp[i].url[0]) { /* reached at start-up, and again with back-off while it does not answer */
            snprintf(detail, sizeof detail, "remote, at %s", cfg->mcp[i].url);
            line(r, OK, what, detail, NULL);
            continue;
        }
        snprintf(detail, sizeof detail, "%s %s", cfg->mcp[i].command,
                 command_found(cfg->mcp[i].command) ? "is there" : "is not found: its tools will be missing");
        line(r, command_found(cfg->mcp[i].command) ? OK : ADVICE, what, detail, NULL);
    }
}

int server_doctor(const struct parley_config *cfg, const char *config_path, FILE *out)
{
    struct report r = {out, 0};
    char detail[700];
    snprintf(detail, sizeof detail, "%s%s", config_path ? config_path : "defaults",
             " (with PARLEY_*/STREAM_* and --set on top)");
    line(&r, OK, "config", detail, NULL);
    if (llm_global_init()) {
        line(&r, FAIL, "libcurl", "cannot initialise", NULL);
        return 1;
    }
    check_llm(&r, cfg);
    check_asr(&r, cfg);
    check_vad(&r, cfg);
    check_tts(&r, cfg);
    check_data_dir(&r, cfg);
    check_port(&r, cfg);
    check_access(&r, cfg);
    check_web(&r, cfg);
    check_mcp(&r, cfg);
    fprintf(out, r.failed ? "\nSomething a spoken turn needs is missing: see the fixes above (README: If it does not work).\n"
                          : "\nEverything a spoken turn needs is there.\n");
    return r.failed;
}
