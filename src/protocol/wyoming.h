/* Wyoming (Home Assistant's voice protocol) framing: a JSON header line, an
 * optional JSON data block merged over the header's data, and an optional
 * binary payload. An incremental reader with bounds on every part, and a
 * writer in the reference implementation's form. No I/O. */
#ifndef PARLEY_WYOMING_H
#define PARLEY_WYOMING_H
#include <cjson/cJSON.h>
#include <stddef.h>

#define WY_MAX_HEADER 8192          /* one header line, newline included */
#define WY_MAX_DATA (64 * 1024)     /* a data block */
#define WY_MAX_PAYLOAD (512 * 1024) /* a payload: 16 s of 16 kHz 16-bit audio */
#define WY_VERSION "1.9.0"          /* the protocol version we write */

struct wy_event {
    char type[64];
    cJSON *data; /* always an object (empty when none came) */
    const unsigned char *payload;
    size_t payload_len;
};

/* Called for each complete event; the event lives until it returns.
 * Non-zero stops the feed (wy_reader_feed returns it). */
typedef int (*wy_event_fn)(void *ud, const struct wy_event *ev);

typedef struct wy_reader wy_reader;
wy_reader *wy_reader_new(void);
void wy_reader_free(wy_reader *r);
/* Feeds len bytes. Returns 0, the callback's non-zero, or -1 with the
 * reason in err when the framing is broken (the stream cannot go on). */
int wy_reader_feed(wy_reader *r, const unsigned char *in, size_t len, wy_event_fn fn, void *ud, char *err,
                   size_t errlen);

/* One event's bytes: header line, data block (when data has members) and
 * payload; malloc'd, *len set. NULL when out of memory. */
unsigned char *wy_encode(const char *type, const cJSON *data, const void *payload, size_t payload_len, size_t *len);

#endif
