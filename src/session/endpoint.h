/* Adaptive endpointing: the silence that ends a user's turn, chosen from the
 * words heard so far (vad.min_silence_ms … vad.max_silence_ms; vad.silence_ms
 * when the words say nothing either way). */
#ifndef PARLEY_ENDPOINT_H
#define PARLEY_ENDPOINT_H
#include "core/config.h"

int endpoint_window_ms(const struct parley_config *c, const char *words);

#endif
