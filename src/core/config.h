/* parley's configuration: defaults, then a YAML file, then environment
 * variables, then --set on the command line. Parsed once at start-up and
 * read-only afterwards; every module gets what it needs from here. */
#ifndef PARLEY_CONFIG_H
#define PARLEY_CONFIG_H
#include <stddef.h>
#include <stdio.h>

#define CONFIG_MAX_MCP 8
#define CONFIG_MAX_MCP_ARGS 16
/* A value longer than its key's limit stops start-up, naming the key; this
 * bounds what the YAML reader holds for one value. */
#define CONFIG_MAX_VALUE (1 << 20)

/* An MCP server parley starts and talks to over stdio (command), or a remote
 * one over Streamable HTTP (url). */
struct mcp_server_config {
    char name[32]; /* its tools are offered as <name>__<tool> */
    char command[256];
    char url[512];
    char headers[CONFIG_MAX_MCP_ARGS][256]; /* "Name: value", sent with every request to url */
    int nheaders;
    char args[CONFIG_MAX_MCP_ARGS][256];
    int nargs;
    char env[CONFIG_MAX_MCP_ARGS][256]; /* NAME=value, added to parley's environment */
    int nenv;
};

struct parley_config {
    /* server */
    char listen[160]; /* host:port */
    char listen_host[128];
    int listen_port;
    char web_root[512];
    char allowed_origins[512];
    char allowed_hosts[512]; /* host names served besides IP literals, localhost and this machine's */
    char auth_mode[8];    /* auto | on | off */
    int auth_max_failures; /* wrong tokens a minute from one address before 429 */
    int metrics_public;   /* /metrics without a token when auth is on */
    char wyoming_listen[160];     /* host:port of the Wyoming server; empty: off */
    char wyoming_host[128];
    int wyoming_port;
    char wyoming_allow_from[512]; /* off loopback: the client addresses served, comma-separated */
    char tls_cert[512];   /* PEM; with tls_key: https and wss */
    char tls_key[512];
    int workers;
    int max_sessions;
    int send_queue_kib;
    int limits_max_queue_wait_ms;
    int limits_max_cpu_percent;
    int limits_max_asr_lag_ms;
    int limits_max_new_sessions_per_s;
    char limits_admission[16];
    int limits_busy_retry_ms;
    int limits_start_timeout_ms;
    char log_level[16];
    int log_latency;

    /* llm */
    char llm_provider[16]; /* ollama | openai */
    char llm_url[512];
    char llm_model[128];
    char llm_api_key[256];
    char llm_system_prompt[65536]; /* 64 KiB: a long persona or instructions */
    int llm_first_token_timeout_ms;
    int llm_timeout_s;
    int llm_context_tokens;
    int llm_max_reply_chars;
    int llm_check_interval_s;
    char llm_think[8]; /* auto | on | off: Ollama's "think" */
    int llm_speculative_start; /* ask the LLM on the speculative final, show it at the endpoint */

    /* vad */
    char vad_engine[16];
    char vad_silero_model[512];
    int vad_aggressiveness;
    int vad_frame_ms;
    int vad_min_speech_ms;
    int vad_silence_ms;
    int vad_min_silence_ms, vad_max_silence_ms; /* adaptive endpointing: the window's bounds */
    int vad_preroll_ms;

    /* asr */
    char asr_engine[32];
    char asr_partials[32];
    char asr_model_dir[512];
    char asr_pocketsphinx_options[512];
    int asr_partial_interval_ms;
    int asr_max_utterance_ms;
    int asr_speculative_final_ms;
    int asr_final_timeout_ms;
    int asr_decoders;
    char asr_openai_url[512];
    char asr_openai_model[128];
    char asr_openai_api_key[256];
    char asr_language[16];
    int asr_timeout_ms;
    char asr_whisper_model[512];
    int asr_whisper_threads;

    /* tts */
    char tts_chain[128];
    double tts_timeout_s;
    int tts_max_pending_phrases;
    int tts_sample_rate;
    int tts_playout_lead_ms;
    char tts_openai_url[512];
    char tts_openai_model[128];
    char tts_openai_voice[64];
    char tts_openai_api_key[256];
    int tts_openai_sample_rate;
    char tts_flite_voice[32];
    char tts_espeak_voice[64];

    /* phrase */
    int phrase_max_chars;
    int phrase_gap_ms;
    int phrase_first_min_words;

    /* barge-in */
    int barge_in_enabled;
    int barge_in_min_speech_ms;
    int barge_in_min_words;
    int barge_in_aggressiveness;
    double barge_in_min_level_dbfs;
    int barge_in_half_duplex;
    int barge_in_silero_confirm;
    int aec_enabled;
    int aec_max_delay_ms;
    int aec_suppression;

    /* storage, memory and tools */
    char data_dir[512];
    char models_url[512];
    char models_dir[600]; /* derived: <data_dir>/models */
    int memory_enabled;
    int memory_top_k;
    char memory_embed_model[128];
    char memory_embed_provider[16];
    char memory_embed_url[512];
    int tools_enabled;
    int tools_timeout_ms;
    int tools_max_rounds;
    struct mcp_server_config mcp[CONFIG_MAX_MCP];
    int nmcp;
};

/* The defaults of the keys the configuration itself owns (listen, limits,
 * the session's timing). Each module's own defaults (its *_default_params())
 * are added by parley_config_defaults (src/defaults.h): start from that. */
void config_defaults(struct parley_config *cfg);
/* Each returns 0, or -1 with a message naming the offending key in err. */
int config_load_file(struct parley_config *cfg, const char *path, char *err, size_t errlen);
/* The same from YAML text in memory; origin names it in messages. */
int config_load_string(struct parley_config *cfg, const char *yaml, size_t len, const char *origin, char *err,
                       size_t errlen);
int config_apply_env(struct parley_config *cfg, char *err, size_t errlen);
int config_set(struct parley_config *cfg, const char *key, const char *value, char *err, size_t errlen);
/* Checks cross-key rules and fills derived fields (listen_host, default URL). */
int config_finish(struct parley_config *cfg, char *err, size_t errlen);
/* Prints every key with its environment names, default and meaning. */
void config_print_keys(FILE *out, const struct parley_config *defaults);

#endif
