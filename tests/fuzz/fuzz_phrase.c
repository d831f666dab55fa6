/* The phrase aggregator: LLM text in chunks the input chooses. Every phrase
 * out is valid UTF-8, whatever came in. */
#include <stdint.h>
#include <stdlib.h>

#include "core/utf8.h"
#include "phrase/phrase.h"

static void check(void *ud, const char *p, size_t len)
{
    (void)ud;
    if (!utf8_valid(p, len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    struct phrase_params p = {.max_chars = 10 + data[0] % 100, .first_min_words = data[1] % 6};
    phrase_splitter *ps = phrase_new(&p);
    if (!ps)
        return 0;
    const char *s = (const char *)data + 2;
    size_t n = size - 2, step = 1 + data[0] % 17;
    for (size_t off = 0; off < n; off += step)
        phrase_push(ps, s + off, off + step > n ? n - off : step, check, NULL);
    phrase_flush(ps, check, NULL);
    phrase_free(ps);
    return 0;
}
