// The entropy walker behind JPEGScanWalk (Swift): decodes a restart interval's Huffman codes as libjpeg's
// jdhuff.c (sequential) and jdphuff.c (progressive) do, without reconstructing a coefficient, to find the byte
// holding the last bit the decoder uses. In C for speed: a debug build of the Swift walker is far too slow.
#include "cgshim.h"

#include <string.h>

int cgshim_huffman_build(cgshim_huffman *table, const uint8_t *counts, const uint8_t *values, size_t count,
                         int is_dc) {
    memset(table, 0, sizeof(*table));
    size_t total = 0;
    for (int i = 0; i < 16; i++) total += counts[i];
    if (total > 256 || total != count) return CGSHIM_ERROR;
    for (size_t i = 0; i < count; i++) {
        if (is_dc && values[i] > 15) return CGSHIM_ERROR;
        table->values[i] = values[i];
    }
    int32_t code = 0, index = 0;
    for (int length = 1; length <= 16; length++) {
        int32_t n = counts[length - 1];
        table->max_code[length] = -1;
        if (n > 0) {
            table->value_offset[length] = index - code;
            for (int32_t j = 0; j < n; j++) {
                if (code >= (1 << length)) return CGSHIM_ERROR;  // more codes than the length holds
                if (length <= 9) {
                    int shift = 9 - length;
                    int first = code << shift;
                    for (int fill = 0; fill < (1 << shift); fill++) {
                        table->look_length[first + fill] = (uint8_t)length;
                        table->look_symbol[first + fill] = values[index];
                    }
                }
                code++;
                index++;
            }
            table->max_code[length] = code - 1;
        }
        // libjpeg: no code may be all ones of its length.
        if (code >= (1 << length)) return CGSHIM_ERROR;
        code <<= 1;
    }
    table->max_code[17] = 0x7FFFFFFF;
    return CGSHIM_OK;
}

// The standard tables of ITU T.81 Annex K.3 (16 counts, then the symbols), which libjpeg-turbo uses for a table
// slot 0 or 1 that a scan names and no DHT defines (Motion-JPEG frames leave them out).
static const uint8_t std_dc_luminance[] = {
    0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0,
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b};
static const uint8_t std_dc_chrominance[] = {
    0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b};
static const uint8_t std_ac_luminance[] = {
    0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 125,
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06,
    0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08,
    0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72,
    0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45,
    0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59,
    0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75,
    0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
    0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3,
    0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6,
    0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9,
    0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
    0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4,
    0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa};
static const uint8_t std_ac_chrominance[] = {
    0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 119,
    0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41,
    0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91,
    0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1,
    0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
    0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44,
    0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58,
    0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74,
    0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
    0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a,
    0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4,
    0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
    0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
    0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4,
    0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa};

int cgshim_huffman_build_standard(cgshim_huffman *table, int is_dc, int slot) {
    const uint8_t *spec = is_dc ? (slot == 0 ? std_dc_luminance : std_dc_chrominance)
                                : (slot == 0 ? std_ac_luminance : std_ac_chrominance);
    size_t count = is_dc ? sizeof(std_dc_luminance) - 16 : sizeof(std_ac_luminance) - 16;
    if (slot < 0 || slot > 1) return CGSHIM_ERROR;
    return cgshim_huffman_build(table, spec, spec + 16, count, is_dc);
}

typedef struct {
    const uint8_t *data;
    size_t end;
    size_t position;
    uint64_t accumulator;
    int bits;
    uint64_t used;    // bits used since the interval's start
    uint64_t loaded;  // file bytes loaded since the interval's start
    size_t byte_ends[16];
    int has_marker;
    size_t marker;
    size_t start;
} reader;

static void fill(reader *r) {
    while (r->bits <= 56) {
        uint8_t byte = 0;
        if (!r->has_marker) {
            if (r->position >= r->end) {
                r->has_marker = 1;
                r->marker = r->end;
            } else {
                uint8_t c = r->data[r->position];
                if (c != 0xFF) {
                    byte = c;
                    r->position++;
                } else {
                    size_t next = r->position + 1;
                    while (next < r->end && r->data[next] == 0xFF) next++;
                    if (next < r->end && r->data[next] == 0) {
                        byte = 0xFF;
                        r->position = next + 1;
                    } else {
                        r->has_marker = 1;
                        r->marker = r->position;
                    }
                }
            }
            if (!r->has_marker) {
                r->byte_ends[r->loaded & 15] = r->position;
                r->loaded++;
            }
        }
        r->accumulator = r->accumulator << 8 | byte;
        r->bits += 8;
    }
}

static inline __attribute__((always_inline)) int peek(reader *r, int n) {
    if (r->bits < n) fill(r);
    return (int)((r->accumulator >> (r->bits - n)) & ((1u << n) - 1));
}

static inline __attribute__((always_inline)) void skip(reader *r, int n) {
    if (r->bits < n) fill(r);
    r->bits -= n;
    r->used += (uint64_t)n;
}

static inline __attribute__((always_inline)) int take(reader *r, int n) {
    int value = peek(r, n);
    skip(r, n);
    return value;
}

// The next symbol, or -1 for a code the table does not hold.
static inline __attribute__((always_inline)) int symbol(reader *r, const cgshim_huffman *t) {
    if (!t) return -1;
    int look = peek(r, 9);
    int length = t->look_length[look];
    if (length) {
        skip(r, length);
        return t->look_symbol[look];
    }
    int l = 10;
    int32_t code = peek(r, l);
    while (code > t->max_code[l]) {
        if (++l > 16) return -1;
        code = peek(r, l);
    }
    skip(r, l);
    return t->values[code + t->value_offset[l]];
}

static inline __attribute__((always_inline)) int ran_out(const reader *r) { return (r->used + 7) / 8 > r->loaded; }

// One block; 0, or -1 for a bad code.
static int block(reader *r, const cgshim_scan_component *c, const cgshim_scan_parameters *p, int *eob_run,
                 uint64_t *state) {
    int s, k;
    if (!p->progressive) {
        if ((s = symbol(r, c->dc)) < 0) return -1;
        if (s) skip(r, s);
        for (k = 1; k < 64; k++) {
            int rs = symbol(r, c->ac);
            if (rs < 0) return -1;
            int run = rs >> 4, size = rs & 15;
            if (size) {
                k += run;
                skip(r, size);
            } else {
                if (run != 15) break;
                k += 15;
            }
        }
        return 0;
    }
    if (p->ss == 0) {
        if (p->ah == 0) {
            if ((s = symbol(r, c->dc)) < 0) return -1;
            if (s) skip(r, s);
        } else {
            skip(r, 1);
        }
        return 0;
    }
    if (p->ah == 0) {
        if (*eob_run > 0) {
            (*eob_run)--;
            return 0;
        }
        for (k = p->ss; k <= p->se; k++) {
            int rs = symbol(r, c->ac);
            if (rs < 0) return -1;
            int run = rs >> 4, size = rs & 15;
            if (size) {
                k += run;
                int raw = take(r, size);
                int value = raw < (1 << (size - 1)) ? raw - (1 << size) + 1 : raw;
                // libjpeg stores the value shifted into a 16-bit coefficient; k past 63 lands on 63.
                int16_t stored = (int16_t)(uint16_t)((unsigned)value << p->al);
                uint64_t bit = (uint64_t)1 << (k < 63 ? k : 63);
                *state = stored ? (*state | bit) : (*state & ~bit);
            } else if (run == 15) {
                k += 15;
            } else {
                *eob_run = (1 << run) + (run ? take(r, run) : 0) - 1;
                break;
            }
        }
        return 0;
    }
    // AC refinement: correction bits for coefficients already non-zero, new ones after runs of zeros.
    k = p->ss;
    if (*eob_run == 0) {
        for (; k <= p->se; k++) {
            int rs = symbol(r, c->ac);
            if (rs < 0) return -1;
            int run = rs >> 4, size = rs & 15;
            if (size) {
                skip(r, 1);
            } else if (run != 15) {
                *eob_run = (1 << run) + (run ? take(r, run) : 0);
                break;
            }
            do {
                if (*state & ((uint64_t)1 << k)) {
                    skip(r, 1);
                } else {
                    if (--run < 0) break;
                }
                k++;
            } while (k <= p->se);
            if (size) *state |= (uint64_t)1 << (k < 63 ? k : 63);
        }
    }
    if (*eob_run > 0) {
        for (; k <= p->se; k++) {
            if (*state & ((uint64_t)1 << k)) skip(r, 1);
        }
        (*eob_run)--;
    }
    return 0;
}

int cgshim_jpeg_walk_interval(const uint8_t *data, size_t start, size_t end,
                              const cgshim_scan_component *components, int count,
                              const cgshim_scan_parameters *parameters, size_t first_mcu, size_t mcus,
                              size_t *used_end, int *data_ran_out) {
    reader r;
    memset(&r, 0, sizeof(r));
    r.data = data;
    r.end = end;
    r.position = start;
    r.start = start;
    int eob_run = 0;
    uint64_t dummy = 0;
    *data_ran_out = 0;
    for (size_t mcu = first_mcu; mcu < first_mcu + mcus; mcu++) {
        for (int i = 0; i < count; i++) {
            const cgshim_scan_component *c = &components[i];
            for (int b = 0; b < c->blocks; b++) {
                uint64_t *state = c->nonzero ? &c->nonzero[mcu] : &dummy;
                if (block(&r, c, parameters, &eob_run, state) < 0) return CGSHIM_ERROR;
            }
        }
        if (ran_out(&r)) {
            // libjpeg leaves the rest of the interval empty once its data runs out.
            *data_ran_out = 1;
            break;
        }
    }
    uint64_t needed = (r.used + 7) / 8;
    if (needed > r.loaded) {
        *used_end = r.has_marker ? r.marker : r.position;
    } else if (needed == 0) {
        *used_end = start;
    } else {
        *used_end = r.byte_ends[(needed - 1) & 15];
    }
    return CGSHIM_OK;
}
