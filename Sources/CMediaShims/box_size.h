// The size a picture is reduced to by box averaging (previews and the face detector's working picture): the longer
// side max_side (never enlarged), the other in proportion, rounded, at least 1.
#ifndef CGSHIM_BOX_SIZE_H
#define CGSHIM_BOX_SIZE_H

#include <stdint.h>

static inline void cgshim_box_size(uint32_t src_width, uint32_t src_height, uint32_t max_side, uint32_t *width,
                                   uint32_t *height) {
    uint32_t longest = src_width > src_height ? src_width : src_height;
    if (max_side == 0) max_side = 1;
    if (longest <= max_side) {
        *width = src_width;
        *height = src_height;
        return;
    }
    *width = (uint32_t)(((uint64_t)src_width * max_side + longest / 2) / longest);
    *height = (uint32_t)(((uint64_t)src_height * max_side + longest / 2) / longest);
    if (*width == 0) *width = 1;
    if (*height == 0) *height = 1;
}

#endif
