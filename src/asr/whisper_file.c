/* Walks a ggml Whisper model file's layout (the order whisper.cpp's loader
 * reads it in) without loading any weights: magic, 11 hyperparameters, the
 * mel filter bank, the vocabulary, then tensors (dims, name, type, data). */
#include "asr/whisper_file.h"

#include <stdint.h>
#include <string.h>

#define GGML_MAGIC 0x67676d6cu
#define MAX_VOCAB 1000000
#define MAX_TOKEN_BYTES 4096
#define MAX_TENSOR_NAME 512

static int read_i32(FILE *f, int32_t *v)
{
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4)
        return -1;
    *v = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
    return 0;
}

static int skip(FILE *f, uint64_t n)
{
    while (n > 0) {
        long step = n > (1u << 30) ? (1L << 30) : (long)n;
        if (fseek(f, step, SEEK_CUR))
            return -1;
        n -= (uint64_t)step;
    }
    return 0;
}

/* Bytes of n elements of a ggml type, or 0 for a type not known here. */
static uint64_t tensor_bytes(int32_t type, uint64_t n)
{
    switch (type) {
    case 0: return n * 4;             /* f32 */
    case 1: return n * 2;             /* f16 */
    case 2: return n / 32 * 18;       /* q4_0 */
    case 3: return n / 32 * 20;       /* q4_1 */
    case 6: return n / 32 * 22;       /* q5_0 */
    case 7: return n / 32 * 24;       /* q5_1 */
    case 8: return n / 32 * 34;       /* q8_0 */
    default: return 0;
    }
}

int whisper_file_check(FILE *f, char *err, size_t errlen)
{
    if (fseek(f, 0, SEEK_END)) {
        snprintf(err, errlen, "cannot be read");
        return -1;
    }
    long end = ftell(f);
    rewind(f);
    int32_t magic, hp[11];
    if (read_i32(f, &magic) || (uint32_t)magic != GGML_MAGIC) {
        snprintf(err, errlen, "is not in whisper.cpp's ggml format");
        return -1;
    }
    for (int i = 0; i < 11; i++)
        if (read_i32(f, &hp[i])) {
            snprintf(err, errlen, "ends inside its header");
            return -1;
        }
    int32_t n_vocab = hp[0], n_mels = hp[9];
    if (n_vocab <= 0 || n_vocab > MAX_VOCAB || n_mels <= 0 || n_mels > 512) {
        snprintf(err, errlen, "has an impossible header (vocabulary %d, mel bands %d)", (int)n_vocab, (int)n_mels);
        return -1;
    }
    int32_t filt_mel, filt_fft;
    if (read_i32(f, &filt_mel) || read_i32(f, &filt_fft) || filt_mel <= 0 || filt_fft <= 0 || filt_mel > 512 ||
        filt_fft > 4096 || skip(f, (uint64_t)filt_mel * (uint64_t)filt_fft * 4) || ftell(f) > end) {
        snprintf(err, errlen, "ends inside its mel filters");
        return -1;
    }
    int32_t words;
    if (read_i32(f, &words) || words < 0 || words > MAX_VOCAB) {
        snprintf(err, errlen, "ends before its vocabulary");
        return -1;
    }
    for (int32_t i = 0; i < words; i++) {
        int32_t len;
        if (read_i32(f, &len) || len < 0 || len > MAX_TOKEN_BYTES || skip(f, (uint64_t)len) || ftell(f) > end) {
            snprintf(err, errlen, "ends inside its vocabulary (token %d of %d): it is cut short", (int)i, (int)words);
            return -1;
        }
    }
    int tensors = 0;
    while (ftell(f) < end) {
        int32_t dims, name_len, type, ne[4] = {1, 1, 1, 1};
        if (read_i32(f, &dims) || read_i32(f, &name_len) || read_i32(f, &type) || dims < 1 || dims > 4 ||
            name_len <= 0 || name_len > MAX_TENSOR_NAME) {
            snprintf(err, errlen, "ends inside tensor %d's header: it is cut short", tensors + 1);
            return -1;
        }
        uint64_t n = 1;
        for (int d = 0; d < dims; d++) {
            if (read_i32(f, &ne[d]) || ne[d] <= 0) {
                snprintf(err, errlen, "ends inside tensor %d's header: it is cut short", tensors + 1);
                return -1;
            }
            n *= (uint64_t)ne[d];
            if (n > (1ull << 40)) {
                snprintf(err, errlen, "has an impossible tensor (%d: over 2^40 elements)", tensors + 1);
                return -1;
            }
        }
        uint64_t bytes = tensor_bytes(type, n);
        if (!bytes)
            return 0; /* a type not known here: whisper.cpp judges the rest */
        if (skip(f, (uint64_t)name_len) || skip(f, bytes) || ftell(f) > end) {
            snprintf(err, errlen, "ends inside tensor %d's data: it is cut short", tensors + 1);
            return -1;
        }
        tensors++;
    }
    return 0;
}
