/* A Whisper model file (whisper.cpp's ggml format) checked before
 * whisper.cpp loads it: whisper.cpp takes a file cut short after its header
 * for an "empty test model" and then aborts mid-decode, so parley looks at
 * the whole layout first and refuses a damaged file with a clear error. */
#ifndef PARLEY_WHISPER_FILE_H
#define PARLEY_WHISPER_FILE_H
#include <stddef.h>
#include <stdio.h>

/* 0 when f (at its start) holds a complete model: header, mel filters, the
 * whole vocabulary, and every tensor's data; or the header, filters and
 * vocabulary with no tensors at all (whisper.cpp's structure-valid test
 * models). -1 with err saying what is wrong. Moves f's position. */
int whisper_file_check(FILE *f, char *err, size_t errlen);

#endif
