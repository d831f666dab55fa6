/* G.711 as ITU-T's reference defines it: a sign bit, a 3-bit segment
 * (exponent) and a 4-bit mantissa; μ-law adds a bias of 132 and inverts all
 * bits, A-law inverts the even bits. */
#include "codec/g711.h"

#define ULAW_BIAS 0x84
#define ULAW_CLIP 32635

int16_t g711_ulaw_decode(uint8_t u)
{
    u = (uint8_t)~u;
    int t = ((u & 0x0f) << 3) + ULAW_BIAS;
    t <<= (u & 0x70) >> 4;
    return (int16_t)((u & 0x80) ? ULAW_BIAS - t : t - ULAW_BIAS);
}

uint8_t g711_ulaw_encode(int16_t pcm)
{
    int sign = pcm < 0 ? 0x80 : 0;
    int v = pcm < 0 ? -(int)pcm : pcm;
    if (v > ULAW_CLIP)
        v = ULAW_CLIP;
    v += ULAW_BIAS;
    int exp = 7;
    for (int mask = 0x4000; !(v & mask) && exp > 0; mask >>= 1)
        exp--;
    int mant = (v >> (exp + 3)) & 0x0f;
    return (uint8_t)~(sign | exp << 4 | mant);
}

int16_t g711_alaw_decode(uint8_t a)
{
    a ^= 0x55;
    int t = (a & 0x0f) << 4;
    int seg = (a & 0x70) >> 4;
    if (seg == 0)
        t += 8;
    else
        t = (t + 0x108) << (seg - 1);
    return (int16_t)((a & 0x80) ? t : -t);
}

uint8_t g711_alaw_encode(int16_t pcm)
{
    int sign = pcm >= 0 ? 0x80 : 0;
    int v = pcm >= 0 ? pcm : -(int)pcm - 1;
    if (v < 0)
        v = 0;
    v >>= 3; /* 13-bit magnitude */
    int seg = 0; /* the smallest with v <= (0x20 << seg) - 1 */
    for (int t = v >> 5; t && seg < 8; t >>= 1)
        seg++;
    uint8_t out;
    if (seg >= 8)
        out = 0x7f;
    else if (seg < 2)
        out = (uint8_t)(seg << 4 | ((v >> 1) & 0x0f));
    else
        out = (uint8_t)(seg << 4 | ((v >> seg) & 0x0f));
    return (uint8_t)((out | sign) ^ 0x55);
}
