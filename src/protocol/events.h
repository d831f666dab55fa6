/* What a session says to its client, as typed data: each transport encodes
 * these its own way (protocol v1 JSON on a WebSocket, one answer or a stream
 * of events over HTTP). Nothing here does I/O. */
#ifndef PARLEY_EVENTS_H
#define PARLEY_EVENTS_H
#include <cjson/cJSON.h>
#include <stdint.h>

#include "llm/llm_check.h"

enum proto_event_kind {
    EV_READY,
    EV_LLM_STATUS,      /* the LLM check changed */
    EV_STATE,           /* listening, thinking, speaking */
    EV_SPEECH_STARTED,
    EV_SPEECH_STOPPED,
    EV_TRANSCRIPT,      /* partial or final */
    EV_THINKING,        /* the model is reasoning before it answers */
    EV_ASSISTANT_TEXT,  /* start, chunk, end */
    EV_TTS_START,       /* a phrase's audio follows */
    EV_TTS_PHRASE_DONE,
    EV_INTERRUPTED,     /* the reply was cut short (barge-in, cancel) */
    EV_DONE,            /* the reply ended, with its latency marks */
    EV_TOOL_CALL,
    EV_TOOL_RESULT,
    EV_ERROR,           /* BUSY carries retry_after_ms */
    EV_INFO,
};

/* What a session's ready message tells the client. */
struct proto_ready_info {
    const char *session_id, *conversation_id;
    int out_rate;
    int out_opus_frame_ms; /* reply audio as Opus packets this long; 0: pcm_s16le */
    const char *const *tts_engines;
    int ntts_engines;
    const struct llm_check *llm;
    const char *llm_model;
    const char *asr_engine, *asr_partials; /* who gives finals, and partials */
};

/* A turn's latency marks in milliseconds after the end of speech
 * (first_partial_ms: after its start); PROTO_UNREACHED: not reached. */
#define PROTO_UNREACHED (-1.0)
struct proto_metrics {
    double endpoint_ms, final_transcript_ms, llm_request_ms, first_token_ms, first_phrase_ms, first_audio_ms,
        total_ms;
    double first_partial_ms;
    int spoken;           /* the turn was spoken, not typed */
    int64_t asr_audio_ms; /* 0: no recognition */
    double asr_rtf;
};

struct proto_event {
    enum proto_event_kind kind;
    uint64_t turn;
    const char *text;   /* transcript, assistant text, phrase, error and info message, tool result */
    int final;          /* transcript */
    const char *status; /* assistant_text: start|chunk|end; state: its name */
    int phrase, rate;   /* tts_start (rate), tts_phrase_done */
    const char *code;   /* error */
    int recoverable;    /* error */
    int retry_after_ms; /* error BUSY; 0: none */
    const char *tool_id, *tool_name, *arguments; /* tool_call (arguments: JSON text), tool_result */
    int is_error;                                /* tool_result */
    const struct proto_metrics *metrics;         /* done */
    const struct proto_ready_info *ready;        /* ready */
    const struct llm_check *llm;                 /* llm_status */
    const char *llm_model;                       /* llm_status */
};

/* The event as a protocol v1 message (docs/protocol.md); NULL when out of
 * memory. The _json form is that message's text, malloc'd. */
cJSON *proto_event_object(const struct proto_event *ev);
/* Its v1 type ("ready", "transcript_final", …); NULL for an unknown kind. */
const char *proto_event_type(const struct proto_event *ev);
char *proto_event_json(const struct proto_event *ev);
/* The marks as a JSON object ({"endpoint_ms":…,…}), for stores and logs. */
cJSON *proto_metrics_object(const struct proto_metrics *m);
/* {"checked":true,"ok":false,"model":…,"problem":…,"fix":…}: in ready, in
 * llm_status, and in /health. */
cJSON *proto_llm_object(const struct llm_check *c, const char *model);

#endif
