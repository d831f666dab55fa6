/* Whisper's guards as pure text: invented text on silence, repetition loops,
 * non-speech tags, and partials that stay put once two decodes agree. */
#include <math.h>
#include "asr/whisper_guard.h"
#include "check.h"

static const char *clean(const char *in)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s", in);
    whisper_guard_clean(buf);
    return buf;
}

int main(void)
{
    /* real words are kept, even the ones Whisper also invents */
    CHECK_STR(clean(" Thank you."), "Thank you.");
    CHECK_STR(clean("Bye."), "Bye.");
    CHECK_STR(clean(" So"), "So");
    CHECK_STR(clean("[BLANK_AUDIO]"), "");
    CHECK_STR(clean(" (music) "), "");
    CHECK_STR(clean("..."), "");
    CHECK_STR(clean(" you"), "you");
    CHECK_STR(clean(" Turn on the lights [BLANK_AUDIO]"), "Turn on the lights");
    CHECK_STR(clean("Thank you for the help."), "Thank you for the help.");
    CHECK_STR(clean("I see. I see. I see. I see."), "I see.");
    CHECK_STR(clean("go go go go now"), "go now");
    CHECK_STR(clean("the the cat"), "the the cat"); /* twice is language, not a loop */
    CHECK_STR(clean("ask not what your country can do for you, ask what you can do for your country"),
              "ask not what your country can do for you, ask what you can do for your country");

    struct whisper_stabilizer st;
    whisper_stabilizer_reset(&st);
    char out[256];
    whisper_stabilize(&st, "turn on", out, sizeof out);
    CHECK_STR(out, "turn on");
    whisper_stabilize(&st, "turn on the kitten", out, sizeof out);
    CHECK_STR(out, "turn on the kitten"); /* "turn on" is now agreed */
    whisper_stabilize(&st, "Turn off the kitchen lights", out, sizeof out);
    CHECK_STR(out, "turn on the kitchen lights"); /* agreed words are not taken back */
    whisper_stabilize(&st, "turn on the kitchen lights please", out, sizeof out);
    CHECK_STR(out, "turn on the kitchen lights please");
    whisper_stabilizer_reset(&st);
    whisper_stabilize(&st, "hello", out, sizeof out);
    CHECK_STR(out, "hello");
    /* energy, not words: silence and a faint hum are quiet; a voice is not */
    static float buf[16000];
    CHECK(whisper_guard_quiet(buf, 16000, 16000));
    for (int i = 0; i < 16000; i++)
        buf[i] = 0.001f * (float)sin(i * 0.05); /* about -63 dBFS */
    CHECK(whisper_guard_quiet(buf, 16000, 16000));
    for (int i = 4000; i < 6000; i++)
        buf[i] = 0.05f * (float)sin(i * 0.3); /* a syllable at about -29 dBFS */
    CHECK(!whisper_guard_quiet(buf, 16000, 16000));
    CHECK(whisper_guard_quiet(buf, 100, 16000)); /* shorter than a window */
    return check_summary();
}
