/* Module defaults into the configuration. It sits above every module (like
 * main.c), so core/config.c need not include any of them. */
#include "defaults.h"

#include <stdio.h>

#include "aec/aec.h"
#include "asr/asr.h"
#include "auth/auth.h"
#include "core/workers.h"
#include "llm/llm.h"
#include "llm/llm_check.h"
#include "models/models.h"
#include "phrase/phrase.h"
#include "tts/tts.h"
#include "vad/vad.h"

#define COPY(field, value) snprintf(cfg->field, sizeof cfg->field, "%s", (value) ? (value) : "")

void parley_config_defaults(struct parley_config *cfg)
{
    config_defaults(cfg);
    cfg->workers = workers_default_params().threads;
    cfg->auth_max_failures = auth_limiter_default_params().max_failures;

    const struct llm_params llm = llm_default_params();
    COPY(llm_provider, llm.provider);
    COPY(llm_model, llm.model);
    cfg->llm_first_token_timeout_ms = llm.first_token_timeout_ms;
    cfg->llm_timeout_s = llm.timeout_s;
    cfg->llm_max_reply_chars = llm.max_reply_chars;
    COPY(llm_think, llm.think == 1 ? "on" : llm.think == 0 ? "off" : "auto");
    cfg->llm_check_interval_s = llm_watch_default_params().interval_ms / 1000;

    const struct vad_params vad = vad_default_params();
    cfg->vad_aggressiveness = vad.aggressiveness;
    cfg->vad_frame_ms = vad.frame_ms;
    cfg->vad_min_speech_ms = vad.min_speech_ms;
    cfg->vad_silence_ms = vad.silence_ms;
    cfg->vad_preroll_ms = vad.preroll_ms;

    const struct aec_params aec = aec_default_params();
    cfg->aec_max_delay_ms = aec.max_delay_ms;
    cfg->aec_suppression = aec.suppression;

    const struct asr_params asr = asr_default_params();
    COPY(asr_engine, asr.engine);
    COPY(asr_partials, asr.partials);
    COPY(asr_model_dir, asr.model_dir);
    cfg->asr_decoders = asr.max_decoders;
    COPY(asr_openai_model, asr.remote_model);
    COPY(asr_language, asr.language);
    cfg->asr_timeout_ms = asr.timeout_ms;
    COPY(asr_whisper_model, asr.whisper_model);
    cfg->asr_whisper_threads = asr.whisper_threads;

    const struct tts_params tts = tts_default_params();
    COPY(tts_chain, tts.chain);
    cfg->tts_timeout_s = tts.timeout_s;
    cfg->tts_sample_rate = tts.out_rate;
    COPY(tts_flite_voice, tts.flite_voice);
    COPY(tts_espeak_voice, tts.espeak_voice);
    COPY(tts_openai_model, tts.openai_model);
    COPY(tts_openai_voice, tts.openai_voice);
    cfg->tts_openai_sample_rate = tts.openai_rate;

    const struct phrase_params phrase = phrase_default_params();
    cfg->phrase_max_chars = phrase.max_chars;
    cfg->phrase_first_min_words = phrase.first_min_words;

    COPY(models_url, models_pull_default_params().base_url);
}
