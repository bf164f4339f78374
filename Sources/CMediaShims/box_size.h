// The size a picture is reduced to by box averaging (previews and the face detector's working picture): the longer
// side max_side (never enlarged), the other in proportion, rounded, at least 1.
#ifndef CGSHIM_BOX_SIZE_H
#define CGSHIM_BOX_SIZE_H

#include <stdint.h>
#include <stdio.h>

#include "cgshim.h"

// A picture's size against the limits, before anything is allocated for it.
static inline int cgshim_check_pixels(uint32_t width, uint32_t height, const cgshim_limits *limits,
                                      cgshim_image_info *info) {
    if (width == 0 || height == 0) {
        snprintf(info->message, sizeof(info->message), "image has zero width or height");
        return CGSHIM_ERROR;
    }
    uint64_t pixels = (uint64_t)width * (uint64_t)height;
    if (limits && limits->max_pixels > 0 && pixels > limits->max_pixels) {
        snprintf(info->message, sizeof(info->message), "%ux%u pixels exceeds the limit of %llu", width, height,
                 (unsigned long long)limits->max_pixels);
        return CGSHIM_LIMIT;
    }
    return CGSHIM_OK;
}

// libjpeg's scaled decode: the largest reduction (1/8 at most) that still leaves at least max_side pixels on the
// long side (the box averaging does the rest).
static inline unsigned int cgshim_jpeg_scale_denom(uint32_t width, uint32_t height, uint32_t max_side) {
    uint32_t longest = width > height ? width : height;
    unsigned int denom = 8;
    while (denom > 1 && (longest + denom - 1) / denom < max_side) denom /= 2;
    return denom;
}

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
