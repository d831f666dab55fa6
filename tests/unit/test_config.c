/* Config: defaults, YAML (nested keys, sequences), environment overrides in
 * the right order, and start-up errors that name the key. */
#include <stdlib.h>

#include "check.h"
#include "core/config.h"
#include "defaults.h"
#include "asr/asr.h"
#include "core/workers.h"
#include "phrase/phrase.h"
#include "tts/tts.h"
#include "vad/vad.h"

static const char *write_file(const char *text)
{
    static char path[] = "/tmp/parley-config-XXXXXX";
    strcpy(path, "/tmp/parley-config-XXXXXX");
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

int main(void)
{
    struct parley_config c;
    char err[512];
    parley_config_defaults(&c);
    CHECK(config_finish(&c, err, sizeof err) == 0);
    CHECK_STR(c.listen_host, "127.0.0.1");
    CHECK(c.listen_port == 8080);
    CHECK_STR(c.llm_provider, "ollama");
    CHECK_STR(c.llm_url, "http://127.0.0.1:11434");
    CHECK_STR(c.llm_model, "mistral");
    /* A module's defaults come from its *_default_params(), nowhere else:
     * the configuration alone leaves them unset. */
    CHECK(c.tts_sample_rate == tts_default_params().out_rate && c.tts_sample_rate == 16000);
    CHECK(c.vad_silence_ms == vad_default_params().silence_ms && c.vad_silence_ms == 500);
    CHECK_STR(c.asr_whisper_model, asr_default_params().whisper_model);
    CHECK(c.phrase_max_chars == phrase_default_params().max_chars);
    CHECK(c.workers == workers_default_params().threads);
    static struct parley_config own;
    config_defaults(&own);
    CHECK(own.tts_sample_rate == 0 && own.vad_silence_ms == 0 && !own.asr_engine[0] && !own.llm_model[0]);
    CHECK(own.phrase_gap_ms == 700 && own.limits_start_timeout_ms == 10000); /* the session's own timing */

    const char *path = write_file("listen: 0.0.0.0:9000\n"
                                  "llm:\n"
                                  "  provider: openai\n"
                                  "  model: qwen\n"
                                  "vad:\n"
                                  "  silence_ms: 800\n"
                                  "tts:\n"
                                  "  chain: [espeak, flite]\n"
                                  "  timeout_s: 2.5\n"
                                  "barge_in:\n"
                                  "  half_duplex: yes\n");
    parley_config_defaults(&c);
    CHECK(config_load_file(&c, path, err, sizeof err) == 0);
    CHECK(config_finish(&c, err, sizeof err) == 0);
    CHECK(c.listen_port == 9000);
    CHECK_STR(c.llm_provider, "openai");
    CHECK_STR(c.llm_url, "http://127.0.0.1:8000/v1"); /* the provider's default */
    CHECK_STR(c.llm_model, "qwen");
    CHECK(c.vad_silence_ms == 800);
    CHECK_STR(c.tts_chain, "espeak,flite");
    CHECK(c.tts_timeout_s == 2.5);
    CHECK(c.barge_in_half_duplex == 1);

    /* Environment beats the file; the spec's STREAM_* names work. */
    parley_config_defaults(&c);
    CHECK(config_load_file(&c, path, err, sizeof err) == 0);
    setenv("STREAM_VAD_SILENCE_MS", "650", 1);
    setenv("PARLEY_LLM_URL", "http://example.test:1234/v1/", 1);
    setenv("PARLEY_TTS", "flite", 1);
    setenv("PARLEY_BARGE_IN_MIN_WORDS", "2", 1);
    CHECK(config_apply_env(&c, err, sizeof err) == 0);
    CHECK(config_finish(&c, err, sizeof err) == 0);
    CHECK(c.vad_silence_ms == 650);
    CHECK_STR(c.llm_url, "http://example.test:1234/v1"); /* trailing slash dropped */
    CHECK_STR(c.tts_chain, "flite");
    CHECK(c.barge_in_min_words == 2);
    /* --set beats the environment. */
    CHECK(config_set(&c, "vad.silence_ms", "700", err, sizeof err) == 0);
    CHECK(c.vad_silence_ms == 700);

    /* Bad values name their key and origin. */
    setenv("STREAM_MAX_PENDING_PHRASES", "lots", 1);
    CHECK(config_apply_env(&c, err, sizeof err) == -1);
    CHECK(strstr(err, "tts.max_pending_phrases") && strstr(err, "STREAM_MAX_PENDING_PHRASES"));
    unsetenv("STREAM_MAX_PENDING_PHRASES");
    CHECK(config_set(&c, "vad.aggressiveness", "7", err, sizeof err) == -1);
    CHECK(strstr(err, "vad.aggressiveness") != NULL);
    CHECK(config_set(&c, "llm.provider", "gemini", err, sizeof err) == -1);
    CHECK(strstr(err, "ollama|openai") != NULL);
    CHECK(config_set(&c, "no.such.key", "1", err, sizeof err) == -1);
    CHECK(config_set(&c, "listen", "nohost", err, sizeof err) == 0);
    CHECK(config_finish(&c, err, sizeof err) == -1 && strstr(err, "listen"));
    config_set(&c, "listen", "127.0.0.1:8080", err, sizeof err);
    config_set(&c, "vad.frame_ms", "25", err, sizeof err);
    CHECK(config_finish(&c, err, sizeof err) == -1 && strstr(err, "vad.frame_ms"));

    const char *bad = write_file("llm:\n  modle: typo\n");
    parley_config_defaults(&c);
    CHECK(config_load_file(&c, bad, err, sizeof err) == -1);
    CHECK(strstr(err, "llm.modle") && strstr(err, ":2:"));
    const char *broken = write_file("llm: [unclosed\n");
    CHECK(config_load_file(&c, broken, err, sizeof err) == -1);
    CHECK(strstr(err, "YAML") != NULL);
    CHECK(config_load_file(&c, "/nonexistent/parley.yaml", err, sizeof err) == -1);

    /* MCP servers: a mapping of records; arguments may hold commas. */
    const char *mcp = write_file("tts:\n  chain: [espeak, flite]\n"
                                 "mcp:\n  servers:\n"
                                 "    everything:\n      command: npx\n"
                                 "      args: [-y, \"@modelcontextprotocol/server-everything\", \"a,b\"]\n"
                                 "      env: [TOKEN=x, MODE=y]\n"
                                 "    memory:\n      command: /usr/bin/mcp-memory\n");
    parley_config_defaults(&c);
    CHECK(config_load_file(&c, mcp, err, sizeof err) == 0);
    CHECK_STR(c.tts_chain, "espeak,flite");
    CHECK(c.nmcp == 2);
    CHECK_STR(c.mcp[0].name, "everything");
    CHECK_STR(c.mcp[0].command, "npx");
    CHECK(c.mcp[0].nargs == 3);
    CHECK_STR(c.mcp[0].args[2], "a,b");
    CHECK(c.mcp[0].nenv == 2);
    CHECK_STR(c.mcp[0].env[1], "MODE=y");
    CHECK_STR(c.mcp[1].command, "/usr/bin/mcp-memory");
    CHECK(c.mcp[1].nargs == 0);
    const char *mcp_bad = write_file("mcp:\n  servers:\n    x:\n      cmd: nope\n");
    CHECK(config_load_file(&c, mcp_bad, err, sizeof err) == -1 && strstr(err, "unknown field 'cmd'"));
    CHECK(config_set(&c, "memory.embed_provider", "cohere", err, sizeof err) == -1);
    CHECK(config_set(&c, "memory.embed_provider", "", err, sizeof err) == 0);
    CHECK(c.memory_enabled == 1 && c.tools_max_rounds == 4 && !strcmp(c.data_dir, "data"));

    /* Nothing is cut: long values are kept whole up to the key's limit, and
     * past it start-up stops naming the key and the limit. */
    size_t big = 3412;
    char *yaml = malloc(80000);
    strcpy(yaml, "llm:\n  system_prompt: \"");
    size_t off = strlen(yaml);
    for (size_t i = 0; i < big; i++)
        yaml[off + i] = (char)('a' + i % 26);
    strcpy(yaml + off + big, "\"\n");
    parley_config_defaults(&c);
    CHECK(config_load_file(&c, write_file(yaml), err, sizeof err) == 0);
    CHECK(strlen(c.llm_system_prompt) == big);
    for (size_t i = 0; i < 70000; i++)
        yaml[off + i] = 'b';
    strcpy(yaml + off + 70000, "\"\n");
    CHECK(config_load_file(&c, write_file(yaml), err, sizeof err) == -1 && strstr(err, "llm.system_prompt") &&
          strstr(err, "65535"));
    free(yaml);
    char args[2048] = "mcp:\n  servers:\n    many:\n      command: x\n      args: [";
    for (int i = 0; i < 20; i++)
        strcat(args, i ? ", a" : "a");
    strcat(args, "]\n");
    parley_config_defaults(&c);
    CHECK(config_load_file(&c, write_file(args), err, sizeof err) == -1 && strstr(err, "at most 16"));
    char *prompt = malloc(60001);
    memset(prompt, 'c', 60000);
    prompt[60000] = 0;
    CHECK(config_set(&c, "llm.system_prompt", prompt, err, sizeof err) == 0 && strlen(c.llm_system_prompt) == 60000);
    free(prompt);
    return check_summary();
}
