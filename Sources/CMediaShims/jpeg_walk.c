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

static inline int peek(reader *r, int n) {
    if (r->bits < n) fill(r);
    return (int)((r->accumulator >> (r->bits - n)) & ((1u << n) - 1));
}

static inline void skip(reader *r, int n) {
    if (r->bits < n) fill(r);
    r->bits -= n;
    r->used += (uint64_t)n;
}

static inline int take(reader *r, int n) {
    int value = peek(r, n);
    skip(r, n);
    return value;
}

// The next symbol, or -1 for a code the table does not hold.
static inline int symbol(reader *r, const cgshim_huffman *t) {
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

static inline int ran_out(const reader *r) { return (r->used + 7) / 8 > r->loaded; }

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
