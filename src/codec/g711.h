/* G.711 μ-law and A-law (8 kHz telephone audio), sample by sample. */
#ifndef PARLEY_G711_H
#define PARLEY_G711_H
#include <stdint.h>

int16_t g711_ulaw_decode(uint8_t u);
uint8_t g711_ulaw_encode(int16_t pcm);
int16_t g711_alaw_decode(uint8_t a);
uint8_t g711_alaw_encode(int16_t pcm);

#endif
