/* Config keys live in one table (name, env alias, type, range, help), so the
 * YAML loader, the environment overrides, validation and --help all agree. */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

enum key_type { T_STR, T_INT, T_DOUBLE, T_BOOL };

struct key_def {
    const char *name;
    const char *alias_env; /* from the user's spec, besides PARLEY_<NAME> */
    enum key_type type;
    size_t off, size;
    double min, max;
    const char *choices; /* for strings: allowed values, '|'-separated */
    const char *help;
};

#define F(field) offsetof(struct parley_config, field), sizeof(((struct parley_config *)0)->field)

static const struct key_def keys[] = {
    {"listen", NULL, T_STR, F(listen), 0, 0, NULL, "host:port to listen on"},
    {"web_root", NULL, T_STR, F(web_root), 0, 0, NULL, "folder of the browser client served at /"},
    {"allowed_origins", NULL, T_STR, F(allowed_origins), 0, 0, NULL,
     "comma-separated origins (http://host:port) whose pages may open /ws besides parley's own; clients "
     "that send no Origin (non-browsers) are always allowed"},
    {"allowed_hosts", NULL, T_STR, F(allowed_hosts), 0, 0, NULL,
     "comma-separated host names parley answers to besides IP addresses, localhost and this machine's name "
     "(a request naming another host is refused: DNS rebinding); * for any"},
    {"auth.mode", "PARLEY_AUTH", T_STR, F(auth_mode), 0, 0, "auto|on|off",
     "tokens required (parley users add NAME); auto: on unless listen is a loopback address"},
    {"auth.max_failures", NULL, T_INT, F(auth_max_failures), 1, 1000000, NULL,
     "wrong tokens a minute from one address before it is refused (429) until the minute ends"},
    {"metrics.public", NULL, T_BOOL, F(metrics_public), 0, 1, NULL, "serve /metrics without a token when auth is on"},
    {"wyoming.listen", NULL, T_STR, F(wyoming_listen), 0, 0, NULL,
     "host:port of a Wyoming server (Home Assistant's speech-to-text, text-to-speech and conversation "
     "agent), e.g. 127.0.0.1:10300; empty: off"},
    {"wyoming.allow_from", NULL, T_STR, F(wyoming_allow_from), 0, 0, NULL,
     "comma-separated client addresses the Wyoming server answers (Wyoming has no tokens): required when "
     "wyoming.listen is not a loopback address"},
    {"tls.cert", NULL, T_STR, F(tls_cert), 0, 0, NULL,
     "PEM certificate: serve https and wss (parley tls self-signed DIR makes one)"},
    {"tls.key", NULL, T_STR, F(tls_key), 0, 0, NULL, "PEM private key of tls.cert"},
    {"workers", NULL, T_INT, F(workers), 1, 64, NULL, "worker threads for ASR and TTS"},
    {"max_sessions", NULL, T_INT, F(max_sessions), 1, 10000, NULL,
     "sessions at once (WebSocket and HTTP turns); past it a new one is refused with BUSY at 'start'"},
    {"limits.max_queue_wait_ms", NULL, T_INT, F(limits_max_queue_wait_ms), 10, 60000, NULL,
     "a new session is refused (BUSY) while speech work waits longer than this for a worker thread"},
    {"limits.max_asr_lag_ms", NULL, T_INT, F(limits_max_asr_lag_ms), 10, 60000, NULL,
     "a new session is refused (BUSY) while final transcripts lately came later than this after speech ended"},
    {"limits.admission", NULL, T_STR, F(limits_admission), 0, 0, "measured|fixed",
     "measured: with 4 or more sessions open, new ones are also refused by the measured load (limits.max_*); "
     "fixed: by max_sessions and limits.max_new_sessions_per_s alone"},
    {"limits.max_new_sessions_per_s", NULL, T_INT, F(limits_max_new_sessions_per_s), 0, 64, NULL,
     "once 4 sessions are open, WebSocket sessions admitted per second at most, so the load of new ones shows "
     "before more come (BUSY past it; HTTP turns are not limited so); 0: one per core"},
    {"limits.max_cpu_percent", NULL, T_INT, F(limits_max_cpu_percent), 10, 100, NULL,
     "a new session is refused (BUSY) while parley uses more than this share of all cores"},
    {"limits.busy_retry_ms", NULL, T_INT, F(limits_busy_retry_ms), 100, 600000, NULL,
     "retry_after_ms of BUSY (and HTTP Retry-After)"},
    {"limits.start_timeout_ms", NULL, T_INT, F(limits_start_timeout_ms), 100, 600000, NULL,
     "a WebSocket client that sends no 'start' within this is closed"},
    {"limits.send_queue_kib", NULL, T_INT, F(send_queue_kib), 64, 1 << 20, NULL,
     "per-session outgoing queue bound; past half, partials are skipped; past it, the client is dropped"},
    {"log.level", NULL, T_STR, F(log_level), 0, 0, "error|warn|info|debug", "log verbosity"},
    {"log.latency", "STREAM_LOG_LATENCY", T_BOOL, F(log_latency), 0, 1, NULL,
     "one JSON latency line per turn on stderr"},

    {"llm.provider", NULL, T_STR, F(llm_provider), 0, 0, "ollama|openai", "LLM wire format"},
    {"llm.url", NULL, T_STR, F(llm_url), 0, 0, NULL,
     "base URL; empty: the provider's default (Ollama http://127.0.0.1:11434, OpenAI-compatible http://127.0.0.1:8000/v1)"},
    {"llm.model", NULL, T_STR, F(llm_model), 0, 0, NULL, "model name"},
    {"llm.api_key", NULL, T_STR, F(llm_api_key), 0, 0, NULL, "bearer token (OpenAI-compatible)"},
    {"llm.system_prompt", NULL, T_STR, F(llm_system_prompt), 0, 0, NULL, "system prompt"},
    {"llm.first_token_timeout_ms", NULL, T_INT, F(llm_first_token_timeout_ms), 100, 600000, NULL,
     "no first token within this → LLM_TIMEOUT"},
    {"llm.timeout_s", "STREAM_LLM_TIMEOUT_S", T_INT, F(llm_timeout_s), 1, 3600, NULL, "bound on a whole reply"},
    {"llm.context_tokens", NULL, T_INT, F(llm_context_tokens), 256, 1 << 20, NULL,
     "context budget (estimated at 4 characters a token); oldest turns drop first"},
    {"llm.max_reply_chars", NULL, T_INT, F(llm_max_reply_chars), 64, 1 << 20, NULL, "longest reply kept"},
    {"llm.think", NULL, T_STR, F(llm_think), 0, 0, "auto|on|off",
     "Ollama models that think first (qwen3, deepseek-r1): off asks them not to, since thinking delays the first "
     "spoken word; auto leaves it to the model"},
    {"llm.speculative_start", NULL, T_BOOL, F(llm_speculative_start), 0, 1, NULL,
     "send the LLM request on the speculative final, inside the silence window; show it once the endpoint confirms"},
    {"llm.check_interval_s", NULL, T_INT, F(llm_check_interval_s), 1, 3600, NULL,
     "while the LLM server or its model is missing, check again this often (logged, and shown on the page)"},

    {"vad.engine", NULL, T_STR, F(vad_engine), 0, 0, "auto|webrtc|silero",
     "speech detector; auto: Silero when its model file is present (and whisper.cpp is built in), else WebRTC"},
    {"vad.silero_model", NULL, T_STR, F(vad_silero_model), 0, 0, NULL,
     "Silero VAD weights (ggml); empty: <data_dir>/models/silero-v6.2.0-ggml.bin (parley models pull silero-v6.2.0)"},
    {"vad.aggressiveness", NULL, T_INT, F(vad_aggressiveness), 0, 3, NULL, "WebRTC VAD mode while listening"},
    {"vad.frame_ms", NULL, T_INT, F(vad_frame_ms), 10, 30, NULL, "VAD frame: 10, 20 or 30 ms"},
    {"vad.min_speech_ms", NULL, T_INT, F(vad_min_speech_ms), 0, 5000, NULL, "voiced audio that confirms speech start"},
    {"vad.silence_ms", "STREAM_VAD_SILENCE_MS", T_INT, F(vad_silence_ms), 100, 10000, NULL,
     "silence that ends an utterance"},
    {"vad.min_silence_ms", NULL, T_INT, F(vad_min_silence_ms), 100, 10000, NULL,
     "the shortest silence window: for words that read as finished (a question, a request, yes or no)"},
    {"vad.max_silence_ms", NULL, T_INT, F(vad_max_silence_ms), 100, 10000, NULL,
     "the longest silence window: for words that trail off (\"and\", \"with\", \"um\")"},
    {"vad.preroll_ms", NULL, T_INT, F(vad_preroll_ms), 0, 2000, NULL, "audio kept before speech start for the ASR"},

    {"asr.engine", "PARLEY_ASR", T_STR, F(asr_engine), 0, 0, "auto|pocketsphinx|whisper|openai",
     "speech recogniser; auto: Whisper when this build has whisper.cpp and asr.whisper_model is downloaded, "
     "otherwise pocketsphinx"},
    {"asr.partials", NULL, T_STR, F(asr_partials), 0, 0, "pocketsphinx|whisper|off",
     "with Whisper: where partial transcripts (and barge-in's words) come from; pocketsphinx is incremental "
     "and cheap, whisper re-decodes the utterance so far"},
    {"asr.whisper_model", "STREAM_MODEL_WHISPER", T_STR, F(asr_whisper_model), 0, 0, NULL,
     "Whisper: a model name (tiny.en, base.en, small.en: parley models pull NAME) or a ggml file path"},
    {"asr.whisper_threads", NULL, T_INT, F(asr_whisper_threads), 1, 64, NULL, "asr.engine whisper: threads per decode"},
    {"asr.openai_url", NULL, T_STR, F(asr_openai_url), 0, 0, NULL,
     "asr.engine openai: base URL of an OpenAI-compatible server (…/v1); /audio/transcriptions is appended"},
    {"asr.openai_model", NULL, T_STR, F(asr_openai_model), 0, 0, NULL, "asr.engine openai: model name"},
    {"asr.openai_api_key", NULL, T_STR, F(asr_openai_api_key), 0, 0, NULL, "asr.engine openai: bearer token"},
    {"asr.language", NULL, T_STR, F(asr_language), 0, 0, NULL, "language hint for remote recognisers (ISO 639-1; empty: detect)"},
    {"asr.timeout_ms", NULL, T_INT, F(asr_timeout_ms), 100, 600000, NULL,
     "asr.engine openai: a transcription request longer than this fails (ASR_FAIL)"},
    {"asr.model_dir", NULL, T_STR, F(asr_model_dir), 0, 0, NULL, "pocketsphinx model folder (holds en-us/)"},
    {"asr.pocketsphinx_options", NULL, T_STR, F(asr_pocketsphinx_options), 0, 0, NULL,
     "pocketsphinx search settings as its command line takes them (-name value ...); the default was chosen by "
     "word error rate and cost (docs/benchmarks.md)"},
    {"asr.partial_interval_ms", "STREAM_PARTIAL_INTERVAL_MS", T_INT, F(asr_partial_interval_ms), 50, 10000, NULL,
     "minimum gap between partial transcripts"},
    {"asr.max_utterance_ms", "STREAM_MAX_UTTERANCE_MS", T_INT, F(asr_max_utterance_ms), 1000, 600000, NULL,
     "longest utterance; past it → MAX_DURATION_EXCEEDED and it is answered"},
    {"asr.speculative_final_ms", NULL, T_INT, F(asr_speculative_final_ms), 0, 10000, NULL,
     "after this much trailing silence, decode the final early (0: off); undone if speech resumes"},
    {"asr.final_timeout_ms", NULL, T_INT, F(asr_final_timeout_ms), 100, 600000, NULL,
     "no final transcript this long after the endpoint → ASR_TIMEOUT (the recogniser is overloaded)"},
    {"asr.decoders", NULL, T_INT, F(asr_decoders), 1, 256, NULL, "recogniser instances (concurrent utterances)"},

    {"tts.chain", "PARLEY_TTS", T_STR, F(tts_chain), 0, 0, NULL, "comma-separated fallback chain: flite, espeak"},
    {"tts.timeout_s", "STREAM_TTS_TIMEOUT_S", T_DOUBLE, F(tts_timeout_s), 0.001, 600, NULL,
     "per-phrase synthesis limit before the next engine takes over"},
    {"tts.max_pending_phrases", "STREAM_MAX_PENDING_PHRASES", T_INT, F(tts_max_pending_phrases), 1, 100, NULL,
     "phrases waiting for synthesis/sending before the LLM stream is paused"},
    {"tts.sample_rate", NULL, T_INT, F(tts_sample_rate), 8000, 48000, NULL, "audio_out sample rate"},
    {"tts.playout_lead_ms", NULL, T_INT, F(tts_playout_lead_ms), 100, 60000, NULL,
     "reply audio queued ahead of real-time playback (the client's jitter buffer)"},
    {"tts.openai_url", NULL, T_STR, F(tts_openai_url), 0, 0, NULL,
     "the openai TTS engine: base URL of an OpenAI-compatible server (…/v1); /audio/speech is appended"},
    {"tts.openai_model", NULL, T_STR, F(tts_openai_model), 0, 0, NULL, "openai TTS: model (tts-1, kokoro, …)"},
    {"tts.openai_voice", NULL, T_STR, F(tts_openai_voice), 0, 0, NULL, "openai TTS: voice (alloy, af_bella, …)"},
    {"tts.openai_api_key", NULL, T_STR, F(tts_openai_api_key), 0, 0, NULL, "openai TTS: bearer token"},
    {"tts.openai_sample_rate", NULL, T_INT, F(tts_openai_sample_rate), 8000, 48000, NULL,
     "openai TTS: rate of the raw PCM the server sends (OpenAI: 24000)"},
    {"tts.flite_voice", NULL, T_STR, F(tts_flite_voice), 0, 0, "slt|kal|kal16|awb|rms", "flite voice (Debian's flite)"},
    {"tts.espeak_voice", NULL, T_STR, F(tts_espeak_voice), 0, 0, NULL, "espeak-ng voice name"},

    {"phrase.max_chars", NULL, T_INT, F(phrase_max_chars), 10, 1000, NULL, "phrase length cap (cut on a word boundary)"},
    {"phrase.gap_ms", NULL, T_INT, F(phrase_gap_ms), 50, 10000, NULL, "token gap that flushes a phrase"},
    {"phrase.first_min_words", NULL, T_INT, F(phrase_first_min_words), 0, 50, NULL,
     "first phrase of a reply may end at a comma after this many words (0: off)"},

    {"barge_in.enabled", NULL, T_BOOL, F(barge_in_enabled), 0, 1, NULL, "user speech interrupts the assistant"},
    {"barge_in.min_speech_ms", NULL, T_INT, F(barge_in_min_speech_ms), 0, 5000, NULL,
     "voiced audio that confirms a barge-in"},
    {"barge_in.min_words", NULL, T_INT, F(barge_in_min_words), 0, 20, NULL,
     "also wait for a partial with this many words (0: VAD alone)"},
    {"barge_in.aggressiveness", NULL, T_INT, F(barge_in_aggressiveness), 0, 3, NULL,
     "stricter VAD mode while the assistant is thinking or speaking"},
    {"barge_in.min_level_dbfs", NULL, T_DOUBLE, F(barge_in_min_level_dbfs), -200, 0, NULL,
     "frames quieter than this (dBFS) do not count towards a barge-in: speaker echo is quieter than the user"},
    {"barge_in.half_duplex", NULL, T_BOOL, F(barge_in_half_duplex), 0, 1, NULL,
     "ignore the microphone while the assistant speaks"},
    {"barge_in.silero_confirm", NULL, T_BOOL, F(barge_in_silero_confirm), 0, 1, NULL,
     "when the Silero model is there, a barge-in must also be speech to Silero (coughs, clatter do not interrupt)"},

    {"aec.enabled", NULL, T_BOOL, F(aec_enabled), 0, 1, NULL,
     "cancel the assistant's own voice in the microphone stream (clients on loudspeakers without a canceller)"},
    {"aec.max_delay_ms", NULL, T_INT, F(aec_max_delay_ms), 0, 2000, NULL,
     "the longest echo delay it looks for (client playout plus room)"},
    {"aec.suppression", NULL, T_INT, F(aec_suppression), 0, 2, NULL,
     "residual echo suppression: 0 conservative, 1 moderate, 2 aggressive"},

    {"data_dir", NULL, T_STR, F(data_dir), 0, 0, NULL,
     "folder of parley's database (parley.db); created if missing; empty: nothing is stored"},
    {"models.url", NULL, T_STR, F(models_url), 0, 0, NULL,
     "where `parley models pull` downloads from (a mirror, or a local server for tests)"},
    {"memory.enabled", NULL, T_BOOL, F(memory_enabled), 0, 1, NULL,
     "put the memories relevant to each user turn into the LLM context"},
    {"memory.top_k", NULL, T_INT, F(memory_top_k), 1, 50, NULL, "memories recalled per turn at most"},
    {"memory.embed_model", NULL, T_STR, F(memory_embed_model), 0, 0, NULL,
     "embedding model for vector search (e.g. nomic-embed-text); empty: keyword search only"},
    {"memory.embed_provider", NULL, T_STR, F(memory_embed_provider), 0, 0, "|ollama|openai",
     "embedding wire format; empty: llm.provider"},
    {"memory.embed_url", NULL, T_STR, F(memory_embed_url), 0, 0, NULL, "embedding server base URL; empty: llm.url"},
    {"tools.enabled", NULL, T_BOOL, F(tools_enabled), 0, 1, NULL, "offer tools (built-in and MCP) to the LLM"},
    {"tools.timeout_ms", NULL, T_INT, F(tools_timeout_ms), 100, 600000, NULL,
     "a tool call with no result by then is answered with a timeout error"},
    {"tools.max_rounds", NULL, T_INT, F(tools_max_rounds), 1, 32, NULL, "tool-call rounds per turn at most"},
};

#define NKEYS (sizeof keys / sizeof keys[0])

/* The browser client: beside an installed binary (PREFIX/bin/parley serves
 * PREFIX/share/parley/web), else the source tree's web/. */
static void default_web_root(char *out, size_t len)
{
    char exe[400];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash = n > 0 ? (exe[n] = 0, strrchr(exe, '/')) : NULL;
    if (slash) {
        *slash = 0;
        char index[512];
        snprintf(index, sizeof index, "%s/../share/parley/web/index.html", exe);
        if (access(index, R_OK) == 0) {
            snprintf(out, len, "%s/../share/parley/web", exe);
            return;
        }
    }
    snprintf(out, len, "%s", PARLEY_WEB_DIR);
}

void config_defaults(struct parley_config *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->listen, "127.0.0.1:8080");
    strcpy(c->auth_mode, "auto");
    default_web_root(c->web_root, sizeof c->web_root);
    c->max_sessions = 64;
    c->send_queue_kib = 2048;
    c->limits_max_queue_wait_ms = 300;
    c->limits_max_cpu_percent = 90;
    c->limits_max_asr_lag_ms = 300;
    c->limits_max_new_sessions_per_s = 0; /* one per core: docs/config.md */
    strcpy(c->limits_admission, "measured");
    c->limits_busy_retry_ms = 2000;
    c->limits_start_timeout_ms = 10000;
    strcpy(c->log_level, "info");
    snprintf(c->llm_system_prompt, sizeof c->llm_system_prompt, "%s",
             "You are a helpful voice assistant. Answer briefly, in plain spoken sentences, "
             "without lists, markdown or emoji.");
    c->llm_context_tokens = 4096;
    c->llm_speculative_start = 1;
    c->vad_min_silence_ms = 500; /* no shorter than the default: docs/config.md says why */
    c->vad_max_silence_ms = 1000;
    strcpy(c->vad_engine, "auto");
    /* asr.pocketsphinx_options stays empty (pocketsphinx's own search): every
     * cheaper setting measured cost more than 1 point of word error rate
     * (bench_wer, docs/benchmarks.md). */
    c->asr_partial_interval_ms = 300;
    c->asr_max_utterance_ms = 30000;
    c->asr_speculative_final_ms = 150;
    c->asr_final_timeout_ms = 5000;
    c->tts_max_pending_phrases = 5;
    c->tts_playout_lead_ms = 1000;
    c->phrase_gap_ms = 700;
    c->barge_in_enabled = 1;
    c->barge_in_min_speech_ms = 60;
    c->barge_in_min_words = 0;
    c->barge_in_aggressiveness = 3;
    c->barge_in_min_level_dbfs = -45;
    c->barge_in_half_duplex = 0;
    c->aec_enabled = 1;
    c->barge_in_silero_confirm = 1;
    strcpy(c->data_dir, "data");
    c->memory_enabled = 1;
    c->memory_top_k = 3;
    c->tools_enabled = 1;
    c->tools_timeout_ms = 10000;
    c->tools_max_rounds = 4;
}

static const struct key_def *find_key(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].name, name))
            return &keys[i];
    return NULL;
}

static int parse_bool(const char *v, int *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i])) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(v, no[i])) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static int in_choices(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n))
            return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

/* origin says where the value came from, so the error can point at it. */
static int set_value(struct parley_config *c, const struct key_def *k, const char *v, const char *origin,
                     char *err, size_t errlen)
{
    char *base = (char *)c + k->off;
    char *end = NULL;
    errno = 0;
    switch (k->type) {
    case T_STR:
        if (strlen(v) >= k->size) {
            snprintf(err, errlen, "%s (%s): value longer than %zu characters", k->name, origin, k->size - 1);
            return -1;
        }
        if (k->choices && !in_choices(k->choices, v)) {
            snprintf(err, errlen, "%s (%s): '%s' is not one of %s", k->name, origin, v, k->choices);
            return -1;
        }
        memcpy(base, v, strlen(v) + 1);
        return 0;
    case T_INT: {
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < k->min || n > k->max) {
            snprintf(err, errlen, "%s (%s): '%s' is not an integer in [%g, %g]", k->name, origin, v, k->min, k->max);
            return -1;
        }
        *(int *)base = (int)n;
        return 0;
    }
    case T_DOUBLE: {
        double d = strtod(v, &end);
        if (errno || end == v || *end || d < k->min || d > k->max) {
            snprintf(err, errlen, "%s (%s): '%s' is not a number in [%g, %g]", k->name, origin, v, k->min, k->max);
            return -1;
        }
        *(double *)base = d;
        return 0;
    }
    case T_BOOL:
        if (parse_bool(v, (int *)base)) {
            snprintf(err, errlen, "%s (%s): '%s' is not a boolean (true/false)", k->name, origin, v);
            return -1;
        }
        return 0;
    }
    return -1;
}

int config_set(struct parley_config *c, const char *key, const char *value, char *err, size_t errlen)
{
    const struct key_def *k = find_key(key);
    if (!k) {
        snprintf(err, errlen, "unknown config key '%s' (see parley --help-config)", key);
        return -1;
    }
    return set_value(c, k, value, "command line", err, errlen);
}

static void env_name(const char *key, char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(out, outlen, "PARLEY_");
    for (const char *p = key; *p && n + 1 < outlen; p++)
        out[n++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
    out[n] = 0;
}

int config_apply_env(struct parley_config *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < NKEYS; i++) {
        char name[96];
        env_name(keys[i].name, name, sizeof name);
        const char *names[2] = {name, keys[i].alias_env};
        for (int j = 0; j < 2; j++) {
            const char *v = names[j] ? getenv(names[j]) : NULL;
            if (v && set_value(c, &keys[i], v, names[j], err, errlen))
                return -1;
        }
    }
    return 0;
}

/* mcp.servers.<name>.command|args|env, or .url|headers.<Name>: the one part of the config that is a
 * list of records, kept beside the key table. Sequence items arrive joined
 * by '\x1f' so that arguments may hold commas. */
static int set_mcp(struct parley_config *c, const char *rest, const char *v, char *err, size_t errlen)
{
    const char *dot = strchr(rest, '.');
    if (!dot || dot == rest || (size_t)(dot - rest) >= sizeof c->mcp[0].name) {
        snprintf(err, errlen, "mcp.servers: write each server as <name>: {command, args, env} or <name>: {url, headers}");
        return -1;
    }
    int i = 0;
    while (i < c->nmcp && (strlen(c->mcp[i].name) != (size_t)(dot - rest) || strncmp(c->mcp[i].name, rest, (size_t)(dot - rest))))
        i++;
    if (i == c->nmcp) {
        if (c->nmcp == CONFIG_MAX_MCP) {
            snprintf(err, errlen, "mcp.servers: at most %d servers", CONFIG_MAX_MCP);
            return -1;
        }
        memset(&c->mcp[i], 0, sizeof c->mcp[i]);
        memcpy(c->mcp[i].name, rest, (size_t)(dot - rest));
        c->nmcp++;
    }
    struct mcp_server_config *m = &c->mcp[i];
    const char *field = dot + 1;
    char(*list)[256] = NULL;
    int *n = NULL;
    if (!strcmp(field, "command")) {
        if (strlen(v) >= sizeof m->command) {
            snprintf(err, errlen, "mcp.servers.%s.command: longer than %zu characters", m->name, sizeof m->command - 1);
            return -1;
        }
        snprintf(m->command, sizeof m->command, "%s", v);
        return 0;
    } else if (!strcmp(field, "url")) {
        if (strlen(v) >= sizeof m->url || (strncmp(v, "http://", 7) && strncmp(v, "https://", 8))) {
            snprintf(err, errlen, "mcp.servers.%s.url: an http:// or https:// URL of at most %zu characters", m->name,
                     sizeof m->url - 1);
            return -1;
        }
        snprintf(m->url, sizeof m->url, "%s", v);
        return 0;
    } else if (!strncmp(field, "headers.", 8)) {
        const char *name = field + 8;
        if (!name[0] || strpbrk(name, ": \r\n") || strpbrk(v, "\r\n") || m->nheaders == CONFIG_MAX_MCP_ARGS ||
            strlen(name) + 2 + strlen(v) >= sizeof m->headers[0]) {
            snprintf(err, errlen, "mcp.servers.%s.headers: at most %d headers, each a name and a one-line value", m->name,
                     CONFIG_MAX_MCP_ARGS);
            return -1;
        }
        char *h = m->headers[m->nheaders++];
        size_t nl = strlen(name);
        memcpy(h, name, nl); /* lengths checked above */
        memcpy(h + nl, ": ", 2);
        memcpy(h + nl + 2, v, strlen(v) + 1);
        return 0;
    } else if (!strcmp(field, "args")) {
        list = m->args, n = &m->nargs;
    } else if (!strcmp(field, "env")) {
        list = m->env, n = &m->nenv;
    } else {
        snprintf(err, errlen, "mcp.servers.%s: unknown field '%s' (command, args, env, url, headers)", m->name, field);
        return -1;
    }
    *n = 0;
    for (const char *p = v; *p;) {
        size_t len = strcspn(p, "\x1f");
        if (*n == CONFIG_MAX_MCP_ARGS || len >= sizeof list[0]) { /* refused, never cut or dropped */
            snprintf(err, errlen, "mcp.servers.%s.%s: at most %d items of at most %zu characters", m->name, field,
                     CONFIG_MAX_MCP_ARGS, sizeof list[0] - 1);
            return -1;
        }
        snprintf(list[*n], sizeof list[0], "%.*s", (int)len, p);
        (*n)++;
        p += len;
        if (*p)
            p++;
    }
    return 0;
}

/* The YAML walker keeps the path of mapping keys ("llm" → "llm.url"); a
 * sequence value becomes a comma-joined string (tts.chain: [flite, espeak]). */
static int load_yaml(struct parley_config *c, yaml_parser_t *parserp, const char *path, char *err, size_t errlen);

int config_load_file(struct parley_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open config file %s", path);
        return -1;
    }
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    int rc = load_yaml(c, &parser, path, err, errlen);
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

int config_load_string(struct parley_config *c, const char *yaml, size_t len, const char *origin, char *err,
                       size_t errlen)
{
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    int rc = load_yaml(c, &parser, origin, err, errlen);
    yaml_parser_delete(&parser);
    return rc;
}

/* The walk itself, from whatever input the parser has. */
static int load_yaml(struct parley_config *c, yaml_parser_t *parserp, const char *path, char *err, size_t errlen)
{

    char stack[8][64];
    int depth = 0;        /* open mappings */
    int expect_key[9] = {1};
    char *seqbuf = NULL; /* a sequence's items joined by \x1f, or a scalar's value: kept whole */
    size_t seqlen = 0;
    int in_seq = 0, seq_items = 0, rc = -1, done = 0;
    char origin[600];
    snprintf(origin, sizeof origin, "%s", path);

    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(parserp, &ev)) {
            snprintf(err, errlen, "%s:%zu: YAML error: %s", path, parserp->problem_mark.line + 1,
                     parserp->problem ? parserp->problem : "?");
            goto out;
        }
        char full[600] = "";
        switch (ev.type) {
        case YAML_STREAM_END_EVENT: done = 1; break;
        case YAML_MAPPING_START_EVENT:
            if (depth > 0 && expect_key[depth]) {
                snprintf(err, errlen, "%s:%zu: a mapping cannot be a key", path, ev.start_mark.line + 1);
                yaml_event_delete(&ev);
                goto out;
            }
            if (depth >= 8 || in_seq) {
                snprintf(err, errlen, "%s:%zu: nesting too deep", path, ev.start_mark.line + 1);
                yaml_event_delete(&ev);
                goto out;
            }
            depth++;
            expect_key[depth] = 1;
            break;
        case YAML_MAPPING_END_EVENT:
            depth--;
            if (depth > 0)
                expect_key[depth] = 1;
            break;
        case YAML_SEQUENCE_START_EVENT:
            in_seq = 1;
            seq_items = 0;
            seqlen = 0;
            break;
        case YAML_SEQUENCE_END_EVENT:
            in_seq = 0;
            goto have_value;
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)ev.data.scalar.value;
            if (depth > 0 && expect_key[depth] && !in_seq) {
                if (strlen(v) >= sizeof stack[0]) {
                    snprintf(err, errlen, "%s:%zu: a key longer than %zu characters", path, ev.start_mark.line + 1,
                             sizeof stack[0] - 1);
                    yaml_event_delete(&ev);
                    goto out;
                }
                snprintf(stack[depth - 1], sizeof stack[0], "%s", v);
                expect_key[depth] = 0;
                break;
            }
            if (!in_seq)
                seqlen = 0, seq_items = 0;
            size_t vl = strlen(v);
            char *grown = seqlen + vl + 2 <= CONFIG_MAX_VALUE ? realloc(seqbuf, seqlen + vl + 2) : NULL;
            if (!grown) {
                snprintf(err, errlen, "%s:%zu: a value longer than %d bytes", path, ev.start_mark.line + 1,
                         CONFIG_MAX_VALUE);
                yaml_event_delete(&ev);
                goto out;
            }
            seqbuf = grown;
            if (seq_items++)
                seqbuf[seqlen++] = '\x1f';
            memcpy(seqbuf + seqlen, v, vl + 1);
            seqlen += vl;
            if (in_seq)
                break;
        have_value:
            if (!seqbuf && !(seqbuf = calloc(1, 1))) { /* an empty sequence */
                snprintf(err, errlen, "out of memory");
                yaml_event_delete(&ev);
                goto out;
            }
            if (!seq_items)
                seqbuf[0] = 0;
            for (int i = 0; i < depth; i++)
                snprintf(full + strlen(full), sizeof full - strlen(full), "%s%s", i ? "." : "", stack[i]);
            if (!strncmp(full, "mcp.servers.", 12)) {
                if (set_mcp(c, full + 12, seqbuf, err, errlen)) {
                    yaml_event_delete(&ev);
                    goto out;
                }
                expect_key[depth] = 1;
                break;
            }
            const struct key_def *k = find_key(full);
            if (!k) {
                snprintf(err, errlen, "%s:%zu: unknown config key '%s'", path, ev.start_mark.line + 1, full);
                yaml_event_delete(&ev);
                goto out;
            }
            for (char *p = seqbuf; *p; p++)
                if (*p == '\x1f')
                    *p = ','; /* a list for a plain key: tts.chain: [flite, espeak] */
            if (set_value(c, k, seqbuf, origin, err, errlen)) {
                yaml_event_delete(&ev);
                goto out;
            }
            expect_key[depth] = 1;
            break;
        }
        default: break;
        }
        yaml_event_delete(&ev);
    }
    rc = 0;
out:
    free(seqbuf);
    return rc;
}

/* "host:port" into its parts; -1 with err naming key when it is not that. */
static int split_host_port(const char *key, const char *s, char *host, size_t hostlen, int *port, char *err,
                           size_t errlen)
{
    const char *colon = strrchr(s, ':');
    char *end = NULL;
    long p = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon == s || !end || *end || p < 1 || p > 65535 || (size_t)(colon - s) >= hostlen) {
        snprintf(err, errlen, "%s: '%s' is not host:port", key, s);
        return -1;
    }
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    *port = (int)p;
    return 0;
}

int config_finish(struct parley_config *c, char *err, size_t errlen)
{
    if (split_host_port("listen", c->listen, c->listen_host, sizeof c->listen_host, &c->listen_port, err, errlen))
        return -1;
    if (c->wyoming_listen[0] && split_host_port("wyoming.listen", c->wyoming_listen, c->wyoming_host,
                                                sizeof c->wyoming_host, &c->wyoming_port, err, errlen))
        return -1;
    if (!c->tls_cert[0] != !c->tls_key[0]) {
        snprintf(err, errlen, "%s: set with %s, or neither (https needs both)", c->tls_cert[0] ? "tls.key" : "tls.cert",
                 c->tls_cert[0] ? "tls.cert" : "tls.key");
        return -1;
    }
    if (c->vad_frame_ms != 10 && c->vad_frame_ms != 20 && c->vad_frame_ms != 30) {
        snprintf(err, errlen, "vad.frame_ms: %d is not 10, 20 or 30", c->vad_frame_ms);
        return -1;
    }
    /* The default window lies within the adaptive bounds: setting only
     * vad.silence_ms moves the bound it passes. */
    if (c->vad_min_silence_ms > c->vad_silence_ms)
        c->vad_min_silence_ms = c->vad_silence_ms;
    if (c->vad_max_silence_ms < c->vad_silence_ms)
        c->vad_max_silence_ms = c->vad_silence_ms;
    if (!c->llm_url[0])
        strcpy(c->llm_url, !strcmp(c->llm_provider, "ollama") ? "http://127.0.0.1:11434" : "http://127.0.0.1:8000/v1");
    size_t n = strlen(c->llm_url);
    while (n > 0 && c->llm_url[n - 1] == '/')
        c->llm_url[--n] = 0;
    if (strncmp(c->llm_url, "http://", 7) && strncmp(c->llm_url, "https://", 8)) {
        snprintf(err, errlen, "llm.url: '%s' must start with http:// or https://", c->llm_url);
        return -1;
    }
    snprintf(c->models_dir, sizeof c->models_dir, "%s/models", c->data_dir[0] ? c->data_dir : ".");
    if (!c->tts_chain[0]) {
        snprintf(err, errlen, "tts.chain: empty (name at least one of flite, espeak)");
        return -1;
    }
    return 0;
}

void config_print_keys(FILE *out, const struct parley_config *defaults)
{
    const struct parley_config *d = defaults;
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key_def *k = &keys[i];
        char env[96], def[160];
        env_name(k->name, env, sizeof env);
        const char *base = (const char *)d + k->off;
        switch (k->type) {
        case T_STR: snprintf(def, sizeof def, "%.60s%s", base, strlen(base) > 60 ? "…" : ""); break;
        case T_INT: snprintf(def, sizeof def, "%d", *(const int *)base); break;
        case T_DOUBLE: snprintf(def, sizeof def, "%g", *(const double *)base); break;
        case T_BOOL: snprintf(def, sizeof def, "%s", *(const int *)base ? "true" : "false"); break;
        }
        fprintf(out, "  %-26s %s%s%s\n      default: %s\n      %s\n", k->name, env, k->alias_env ? ", " : "",
                k->alias_env ? k->alias_env : "", def[0] ? def : "(empty)", k->help);
    }
}
