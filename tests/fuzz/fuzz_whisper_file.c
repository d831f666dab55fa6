/* The Whisper model file check: any bytes as a model file. */
#include <stdint.h>
#include <stdio.h>

#include "asr/whisper_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f)
        return 0;
    char err[300];
    whisper_file_check(f, err, sizeof err);
    fclose(f);
    return 0;
}
