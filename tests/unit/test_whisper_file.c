/* The Whisper model file check: a complete file passes, and so does one
 * with no tensors (whisper.cpp's test models); a file cut at any other
 * byte, or with an impossible header, is refused with a reason. */
#include <stdint.h>
#include <stdlib.h>

#include "asr/whisper_file.h"
#include "check.h"

static size_t put_i32(unsigned char *b, size_t o, int32_t v)
{
    for (int i = 0; i < 4; i++)
        b[o + (size_t)i] = (unsigned char)((uint32_t)v >> (8 * i));
    return o + 4;
}

/* A tiny model: header, 2x3 filters, 3 tokens, then (with_tensor) one f32
 * 2x2 tensor. Returns its length; *vocab_end is where the vocabulary ends. */
static size_t make_model(unsigned char *b, int with_tensor, size_t *vocab_end)
{
    size_t o = put_i32(b, 0, 0x67676d6c);
    const int32_t hp[11] = {3, 1500, 384, 6, 4, 448, 384, 6, 4, 2, 1};
    for (int i = 0; i < 11; i++)
        o = put_i32(b, o, hp[i]);
    o = put_i32(b, o, 2);
    o = put_i32(b, o, 3);
    for (int i = 0; i < 6; i++)
        o = put_i32(b, o, 0);
    o = put_i32(b, o, 3);
    const char *tokens[] = {"a", "bc", "def"};
    for (int i = 0; i < 3; i++) {
        o = put_i32(b, o, (int32_t)strlen(tokens[i]));
        memcpy(b + o, tokens[i], strlen(tokens[i]));
        o += strlen(tokens[i]);
    }
    *vocab_end = o;
    if (with_tensor) {
        o = put_i32(b, o, 2);  /* dims */
        o = put_i32(b, o, 4);  /* name length */
        o = put_i32(b, o, 0);  /* f32 */
        o = put_i32(b, o, 2);
        o = put_i32(b, o, 2);
        memcpy(b + o, "w.ab", 4);
        o += 4;
        for (int i = 0; i < 4; i++)
            o = put_i32(b, o, 0);
    }
    return o;
}

static int check_bytes(const unsigned char *b, size_t n, char *err, size_t errlen)
{
    FILE *f = fmemopen((void *)b, n ? n : 1, "rb");
    if (!f)
        return -2;
    if (!n) { /* fmemopen cannot open an empty buffer: an empty file stands in */
        fclose(f);
        f = tmpfile();
        if (!f)
            return -2;
    }
    int rc = whisper_file_check(f, err, errlen);
    fclose(f);
    return rc;
}

int main(void)
{
    unsigned char b[512];
    char err[300];
    size_t vocab_end;
    size_t n = make_model(b, 1, &vocab_end);
    CHECK(check_bytes(b, n, err, sizeof err) == 0);
    /* Cut anywhere: refused, except exactly after the vocabulary. */
    int wrong = 0;
    for (size_t cut = 0; cut < n; cut++) {
        int rc = check_bytes(b, cut, err, sizeof err);
        if (cut == vocab_end ? rc != 0 : rc != -1 || !err[0])
            wrong++, fprintf(stderr, "cut at %zu: rc %d (%s)\n", cut, rc, err);
    }
    CHECK(wrong == 0);
    CHECK(check_bytes(b, 40, err, sizeof err) == -1 && strstr(err, "header"));
    CHECK(check_bytes(b, vocab_end - 2, err, sizeof err) == -1 && strstr(err, "vocabulary"));
    CHECK(check_bytes(b, n - 1, err, sizeof err) == -1 && strstr(err, "tensor 1's data"));

    n = make_model(b, 0, &vocab_end);
    CHECK(check_bytes(b, n, err, sizeof err) == 0); /* no tensors: a test model */
    b[0] ^= 1;
    CHECK(check_bytes(b, n, err, sizeof err) == -1 && strstr(err, "ggml format"));
    b[0] ^= 1;
    put_i32(b, 4, -5); /* a negative vocabulary */
    CHECK(check_bytes(b, n, err, sizeof err) == -1 && strstr(err, "impossible"));
    return check_summary();
}
