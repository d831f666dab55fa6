/* parley's command line: serve, transcribe, say. Loads the configuration in
 * order (defaults, YAML file, environment, --set) and reports bad values as
 * start-up errors that name the key. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asr/asr.h"
#include "auth/auth_cli.h"
#include "core/audio.h"
#include "core/config.h"
#include "defaults.h"
#include "core/log.h"
#include "llm/llm.h"
#include "models/models.h"
#include "server/server.h"
#include "tts/tts.h"

#define PARLEY_VERSION "0.1.0"

static const char usage[] =
    "parley " PARLEY_VERSION " - a real-time voice assistant server\n"
    "\n"
    "Usage:\n"
    "  parley serve [OPTIONS]                 run the server (WebSocket at /ws, web client at /)\n"
    "  parley doctor [OPTIONS]                check everything a spoken turn needs, with fixes\n"
    "  parley transcribe FILE.wav [OPTIONS]   print the transcript of a WAV file\n"
    "  parley say TEXT -o OUT.wav [OPTIONS]   synthesise TEXT into a 16-bit WAV file\n"
    "  parley models list|pull NAME|path NAME the speech models (Whisper, Silero VAD)\n"
    "  parley users list|add|token|remove NAME  who may use parley when auth is on\n"
    "  parley tls self-signed DIR             a certificate for https (phones need it)\n"
    "  parley --help-config                   list every configuration key\n"
    "  parley --version\n"
    "\n"
    "Options (every command):\n"
    "  -c, --config FILE     YAML configuration (see parley.example.yaml)\n"
    "  --set KEY=VALUE       override one configuration key (repeatable)\n"
    "  -h, --help            help for a command (parley serve --help)\n"
    "\n"
    "Configuration is read from defaults, then FILE, then environment variables\n"
    "(PARLEY_<KEY>, e.g. PARLEY_LLM_URL, and the STREAM_* names), then --set.\n";

static const char serve_usage[] =
    "Usage: parley serve [-c FILE] [--listen HOST:PORT] [--set KEY=VALUE]...\n"
    "\n"
    "Serves the browser client at http://HOST:PORT/ and the voice protocol at\n"
    "ws://HOST:PORT/ws (docs/protocol.md). Stops cleanly on SIGTERM or Ctrl-C,\n"
    "telling every session first.\n"
    "\n"
    "  -c, --config FILE     YAML configuration\n"
    "  --listen HOST:PORT    same as --set listen=HOST:PORT (default 127.0.0.1:8080)\n"
    "  --set KEY=VALUE       override a key; keys: parley --help-config\n"
    "\n"
    "Common environment variables: PARLEY_LISTEN, PARLEY_LLM_PROVIDER (ollama|openai),\n"
    "PARLEY_LLM_URL, PARLEY_LLM_MODEL, PARLEY_LLM_API_KEY, PARLEY_TTS (e.g. flite,espeak),\n"
    "STREAM_VAD_SILENCE_MS, STREAM_PARTIAL_INTERVAL_MS, STREAM_MAX_UTTERANCE_MS,\n"
    "STREAM_MAX_PENDING_PHRASES, STREAM_LOG_LATENCY, STREAM_LLM_TIMEOUT_S, STREAM_TTS_TIMEOUT_S.\n";

static const char transcribe_usage[] =
    "Usage: parley transcribe FILE.wav [--raw] [-c FILE] [--set KEY=VALUE]...\n"
    "\n"
    "Prints the transcript of FILE.wav (PCM or float, any rate, mono or stereo;\n"
    "it is mixed to mono and resampled to 16 kHz).\n"
    "--raw: Whisper's segments as whisper.cpp writes them, without parley's clean-up\n"
    "(doubted segments, [tags], repeats): what whisper-cli prints for the same audio.\n";

static const char say_usage[] =
    "Usage: parley say TEXT -o OUT.wav [--engine NAME] [-c FILE] [--set KEY=VALUE]...\n"
    "\n"
    "Writes TEXT as speech to OUT.wav (mono, 16-bit, tts.sample_rate Hz), using the\n"
    "tts.chain fallback order, or only --engine NAME (flite or espeak).\n";

static const char doctor_usage[] =
    "Usage: parley doctor [-c FILE] [--listen HOST:PORT] [--set KEY=VALUE]...\n"
    "\n"
    "Checks, with the configuration serve would use: the LLM server and its model,\n"
    "the speech engines, the data dir, the port, the web client and MCP commands.\n"
    "Prints one line per check: a check mark, or a cross and the fix; '!' marks\n"
    "advice on a part that works. Exits 0 only when a spoken turn can work.\n";

static const char models_usage[] =
    "Usage: parley models list\n"
    "       parley models pull NAME     download NAME into <data_dir>/models, resumable, SHA-1 checked\n"
    "       parley models path NAME     print where NAME lives (exit 1 if it is not there yet)\n"
    "\n"
    "Names: tiny.en, base.en, small.en (Whisper ggml), silero-v6.2.0 (Silero VAD).\n"
    "Downloads come from https://huggingface.co unless models.url (PARLEY_MODELS_URL) says otherwise.\n";

struct cli {
    const char *command;
    const char *positional, *positional2;
    const char *out_path;
    const char *engine;
    const char *config_path;
    int raw;
};

static int load_config(int argc, char **argv, struct parley_config *cfg, struct cli *cli)
{
    char err[512] = "";
    parley_config_defaults(cfg);
    const char *path = NULL;
    for (int i = 2; i < argc; i++)
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
            path = argv[++i];
    if (path && config_load_file(cfg, path, err, sizeof err))
        goto bad;
    cli->config_path = path;
    if (config_apply_env(cfg, err, sizeof err))
        goto bad;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            const char *u = !strcmp(cli->command, "serve")        ? serve_usage
                            : !strcmp(cli->command, "transcribe") ? transcribe_usage
                            : !strcmp(cli->command, "models")     ? models_usage
                            : !strcmp(cli->command, "doctor")     ? doctor_usage
                            : !strcmp(cli->command, "users")      ? auth_cli_users_usage
                            : !strcmp(cli->command, "tls")        ? auth_cli_tls_usage
                                                                  : say_usage;
            fputs(u, stdout);
            exit(0);
        } else if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && i + 1 < argc) {
            i++;
        } else if (!strcmp(a, "--set") && i + 1 < argc) {
            const char *kv = argv[++i];
            const char *eq = strchr(kv, '=');
            char key[128];
            if (!eq || (size_t)(eq - kv) >= sizeof key) {
                snprintf(err, sizeof err, "--set expects KEY=VALUE, got '%.200s'", kv);
                goto bad;
            }
            snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
            if (config_set(cfg, key, eq + 1, err, sizeof err)) /* the value whole, however long */
                goto bad;
        } else if (!strcmp(a, "--listen") && i + 1 < argc) {
            if (config_set(cfg, "listen", argv[++i], err, sizeof err))
                goto bad;
        } else if (!strcmp(a, "-o") && i + 1 < argc) {
            cli->out_path = argv[++i];
        } else if (!strcmp(a, "--engine") && i + 1 < argc) {
            cli->engine = argv[++i];
        } else if (!strcmp(a, "--raw") && !strcmp(cli->command, "transcribe")) {
            cli->raw = 1;
        } else if (a[0] == '-' && a[1]) {
            snprintf(err, sizeof err, "unknown option '%s' (parley %s --help)", a, cli->command);
            goto bad;
        } else if (!cli->positional) {
            cli->positional = a;
        } else if (!cli->positional2 &&
                   (!strcmp(cli->command, "models") || !strcmp(cli->command, "users") || !strcmp(cli->command, "tls"))) {
            cli->positional2 = a;
        } else {
            snprintf(err, sizeof err, "unexpected argument '%s'", a);
            goto bad;
        }
    }
    if (config_finish(cfg, err, sizeof err))
        goto bad;
    log_set_level(!strcmp(cfg->log_level, "error")  ? LOG_ERROR
                  : !strcmp(cfg->log_level, "warn") ? LOG_WARN
                  : !strcmp(cfg->log_level, "debug") ? LOG_DEBUG
                                                     : LOG_INFO);
    return 0;
bad:
    fprintf(stderr, "parley: configuration error: %s\n", err);
    return -1;
}

static server *running;

static void on_signal(int sig)
{
    (void)sig;
    if (running)
        server_request_stop(running);
}

static int cmd_serve(const struct parley_config *cfg)
{
    char err[512] = "";
    /* Workers and LLM threads inherit this mask, so the signal reaches the
     * network thread and interrupts its poll. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a file-size limit is a full disk: a write error, told, not a kill */
    server *srv = server_new(cfg, err, sizeof err);
    if (!srv) {
        fprintf(stderr, "parley: %s\n", err);
        return 1;
    }
    running = srv;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    int rc = server_run(srv);
    running = NULL;
    server_free(srv);
    log_info("stopped");
    return rc;
}

static int cmd_transcribe(const struct parley_config *cfg, const char *path, int raw)
{
    char err[512] = "";
    if (!path) {
        fputs(transcribe_usage, stderr);
        return 2;
    }
    struct pcm_buf in, pcm16;
    if (wav_read(path, &in, err, sizeof err)) {
        fprintf(stderr, "parley: %s\n", err);
        return 1;
    }
    if (pcm_resample(in.samples, in.len, in.sample_rate, 16000, &pcm16)) {
        fprintf(stderr, "parley: cannot resample %s\n", path);
        pcm_free(&in);
        return 1;
    }
    pcm_free(&in);
    struct asr_params ap = server_asr_params(cfg);
    ap.max_decoders = 1;
    ap.whisper_raw = raw;
    asr_model *m = asr_model_new(&ap, err, sizeof err);
    int rc = 1;
    char text[8192];
    if (!m)
        fprintf(stderr, "parley: %s\n", err);
    else if (asr_transcribe(m, pcm16.samples, pcm16.len, text, sizeof text, err, sizeof err))
        fprintf(stderr, "parley: %s\n", err);
    else {
        printf("%s\n", text);
        rc = 0;
    }
    asr_model_free(m);
    pcm_free(&pcm16);
    return rc;
}

static int cmd_say(const struct parley_config *cfg, const char *text, const char *out, const char *engine)
{
    char err[512] = "";
    if (!text || !out) {
        fputs(say_usage, stderr);
        return 2;
    }
    struct tts_params tp = server_tts_params(cfg);
    if (engine)
        tp.chain = engine;
    tts *t = tts_new(&tp, err, sizeof err);
    if (!t) {
        fprintf(stderr, "parley: %s\n", err);
        return 1;
    }
    int order[TTS_MAX_ENGINES];
    int n = tts_parse_chain(t, tp.chain, order, TTS_MAX_ENGINES, err, sizeof err);
    struct tts_result r;
    int rc = 1;
    if (n > 0 && tts_speak(t, order, n, text, NULL, NULL, NULL, &r) == 0) {
        if (r.failures[0])
            fprintf(stderr, "parley: %s\n", r.failures);
        if (wav_write(out, r.pcm.samples, r.pcm.len, cfg->tts_sample_rate, err, sizeof err) == 0)
            rc = 0;
        else
            fprintf(stderr, "parley: %s\n", err);
        tts_result_free(&r);
    } else {
        fprintf(stderr, "parley: synthesis failed: %s\n", n > 0 ? r.failures : err);
        if (n > 0)
            tts_result_free(&r);
    }
    tts_free(t);
    return rc;
}

static int cmd_models(const struct parley_config *cfg, const char *sub, const char *name)
{
    const char *dir = cfg->models_dir;
    if (!sub || (strcmp(sub, "list") && !name)) {
        fputs(models_usage, stderr);
        return 2;
    }
    if (!strcmp(sub, "list")) {
        int n;
        const struct model_info *m = models_known(&n);
        printf("%-14s %-28s %9s  %-7s %s\n", "NAME", "WHAT", "SIZE", "PRESENT", "PATH");
        for (int i = 0; i < n; i++) {
            char path[1200];
            models_path(dir, &m[i], path, sizeof path);
            FILE *f = fopen(path, "rb");
            if (f)
                fclose(f);
            printf("%-14s %-28s %7.1f MiB  %-7s %s\n", m[i].name, m[i].what, m[i].mib, f ? "yes" : "no", path);
        }
        return 0;
    }
    const struct model_info *m = models_find(name);
    if (!m) {
        fprintf(stderr, "parley: unknown model '%s' (parley models list)\n", name);
        return 2;
    }
    if (!strcmp(sub, "path")) {
        char path[1200];
        models_path(dir, m, path, sizeof path);
        puts(path);
        FILE *f = fopen(path, "rb");
        if (f) {
            fclose(f);
            return 0;
        }
        fprintf(stderr, "parley: %s is not downloaded yet: parley models pull %s\n", m->name, m->name);
        return 1;
    }
    if (strcmp(sub, "pull")) {
        fputs(models_usage, stderr);
        return 2;
    }
    if (llm_global_init()) {
        fprintf(stderr, "parley: cannot initialise libcurl\n");
        return 1;
    }
    signal(SIGXFSZ, SIG_IGN); /* a file-size limit is a write error, reported, not a crash */
    struct models_pull_params p = models_pull_default_params();
    p.dir = dir;
    p.base_url = cfg->models_url;
    p.tty = isatty(fileno(stderr));
    char err[1200];
    if (models_pull(&p, m, err, sizeof err)) {
        fprintf(stderr, "parley: %s\n", err);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        puts("parley " PARLEY_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "--help-config")) {
        puts("Configuration keys (YAML path, environment variables, default):");
        static struct parley_config defaults; /* large: not on the stack */
        parley_config_defaults(&defaults);
        config_print_keys(stdout, &defaults);
        return 0;
    }
    struct cli cli = {.command = argv[1]};
    if (strcmp(cli.command, "serve") && strcmp(cli.command, "transcribe") && strcmp(cli.command, "say") &&
        strcmp(cli.command, "models") && strcmp(cli.command, "doctor") && strcmp(cli.command, "users") &&
        strcmp(cli.command, "tls")) {
        fprintf(stderr, "parley: unknown command '%s'\n\n%s", cli.command, usage);
        return 2;
    }
    struct parley_config cfg;
    if (load_config(argc, argv, &cfg, &cli))
        return 2;
    if (!strcmp(cli.command, "serve"))
        return cmd_serve(&cfg);
    if (!strcmp(cli.command, "transcribe"))
        return cmd_transcribe(&cfg, cli.positional, cli.raw);
    if (!strcmp(cli.command, "models"))
        return cmd_models(&cfg, cli.positional, cli.positional2);
    if (!strcmp(cli.command, "users"))
        return auth_cli_users(cfg.data_dir, cli.positional, cli.positional2, stdout, stderr);
    if (!strcmp(cli.command, "tls"))
        return auth_cli_tls(cli.positional, cli.positional2, stdout, stderr);
    if (!strcmp(cli.command, "doctor")) {
        if (cli.positional) {
            fputs(doctor_usage, stderr);
            return 2;
        }
        log_set_level(LOG_ERROR); /* the engines' chatter would hide the lines */
        return server_doctor(&cfg, cli.config_path, stdout) ? 1 : 0;
    }
    return cmd_say(&cfg, cli.positional, cli.out_path, cli.engine);
}
