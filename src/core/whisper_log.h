/* whisper.cpp's log: one filter for every module that uses it (ASR and the
 * Silero VAD), set once, so the last module loaded does not decide. */
#ifndef PARLEY_WHISPER_LOG_H
#define PARLEY_WHISPER_LOG_H

/* Warnings and errors go to stderr; whisper.cpp's chatter does not. */
void whisper_log_quiet(void);

#endif
