/* Shared by realtime.c (client events, the session object) and
 * realtime_out.c (server events). Not for other modules. */
#ifndef PARLEY_REALTIME_INTERNAL_H
#define PARLEY_REALTIME_INTERNAL_H
#include <cjson/cJSON.h>

#include "core/audio.h"
#include "realtime/realtime.h"

#define RT_ID 40
#define RT_RATE 24000  /* audio/pcm is 24 kHz, 16-bit, mono */
#define RT_G711_RATE 8000
#define RT_ASSISTANT_ITEMS 16 /* remembered for conversation.item.truncate */

enum rt_format { RT_PCM16, RT_PCMU, RT_PCMA };

/* The response under way: one assistant item (or a function call). */
struct rt_response {
    int open;
    char id[RT_ID], item[RT_ID];
    uint64_t turn;
    char *transcript; /* what the item says so far */
    size_t len;
    int client_cancelled, turn_detected, failed;
    cJSON *calls; /* function_call items of this response */
};

struct realtime {
    struct realtime_params p;
    char model[128], voice[64];
    session *s;
    realtime_send_fn send;
    void *ud;
    uint64_t next_id;
    int ready, failed_start;
    /* the session object */
    char *instructions;
    cJSON *tools; /* the client's, as it sent them */
    char tool_choice[32];
    int text_only, turn_detection, create_response;
    enum rt_format in_format, out_format;
    /* input */
    resampler *in_rs; /* G.711's 8 kHz to 24 */
    int64_t in_samples; /* at 24 kHz, since the start */
    int speaking;       /* between speech_started and speech_stopped */
    char user_item[RT_ID], last_item[RT_ID];
    char partial[1024]; /* the transcript deltas sent for user_item */
    char *pending_text; /* conversation.item.create input_text, waiting for response.create */
    /* output */
    resampler *out_rs;
    int out_rs_rate;
    struct pcm_buf out;
    struct rt_response resp;
    int awaiting_tool; /* a response ended on calls of the client's tools */
    struct {
        uint64_t turn;
        char item[RT_ID];
    } said[RT_ASSISTANT_ITEMS];
    int said_next;
};

/* realtime.c */
void rt_new_id(realtime *r, const char *prefix, char *out);
/* Sends a server event (it takes ev); event_id is added. */
enum outq_result rt_emit(realtime *r, cJSON *ev, enum out_class cls, uint64_t turn);
/* The same for an event carrying samples of turn/phrase's reply audio. */
enum outq_result rt_emit_audio(realtime *r, cJSON *ev, enum out_class cls, uint64_t turn, int phrase, size_t samples);
enum outq_result rt_error(realtime *r, const char *type, const char *code, const char *message, const char *param,
                          const char *event_id);
cJSON *rt_session_object(const realtime *r);
/* An event of type about item (taken), with previous_item_id: the last item. */
void rt_emit_item(realtime *r, const char *type, cJSON *item);

#endif
