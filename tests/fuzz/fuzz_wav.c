/* WAV uploads and resampling: any bytes as a file; what parses is resampled
 * to 16 kHz as an upload would be. */
#include <stdint.h>
#include <stdlib.h>

#include "core/audio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pcm_buf pcm = {0}, out = {0};
    char err[256];
    if (wav_parse(data, size, &pcm, err, sizeof err) == 0) {
        if (pcm.sample_rate < WAV_MIN_RATE || pcm.sample_rate > WAV_MAX_RATE)
            abort();
        pcm_resample(pcm.samples, pcm.len, pcm.sample_rate, 16000, &out);
    }
    pcm_free(&pcm);
    pcm_free(&out);
    return 0;
}
