// The face detector's working picture from a JPEG (gray_shim.c): only the luma, decoded by libjpeg at the largest
// reduction (1/2, 1/4, 1/8) that keeps max_side pixels on the long side, then box-averaged to at most max_side a
// side, one output row at a time. libjpeg skips the chroma's inverse DCT, upsampling and the colour conversion
// (out_color_space JCS_GRAYSCALE), and never holds more than one decoded row. Only pixels leave this file. Errors
// jump back here (jpeg_errors.h) and become a status with a message.
#include "cgshim.h"
#include "box_size.h"
#include "jpeg_errors.h"

#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

typedef struct {
    uint32_t src_width, src_height, width, height;
    uint32_t *column;    // src_width: the output column of each decoded column
    uint32_t *columns;   // width: decoded columns per output column
    uint64_t *sums;      // width: the output row being summed
    uint32_t row, rows;  // the output row being summed, and how many decoded rows it has so far
    uint8_t *out;        // width * height
} gray_box;

static void gray_box_free(gray_box *box) {
    free(box->column);
    free(box->columns);
    free(box->sums);
    free(box->out);
    memset(box, 0, sizeof(*box));
}

// The output size is the preview's (box_size.h): the longer side max_side, the other in proportion.
static int gray_box_start(gray_box *box, uint32_t src_width, uint32_t src_height, uint32_t max_side,
                          cgshim_image_info *info) {
    memset(box, 0, sizeof(*box));
    box->src_width = src_width;
    box->src_height = src_height;
    cgshim_box_size(src_width, src_height, max_side, &box->width, &box->height);
    box->column = malloc((size_t)src_width * sizeof(uint32_t));
    box->columns = calloc(box->width, sizeof(uint32_t));
    box->sums = calloc(box->width, sizeof(uint64_t));
    box->out = malloc((size_t)box->width * (size_t)box->height);
    if (!box->column || !box->columns || !box->sums || !box->out) {
        snprintf(info->message, sizeof(info->message), "out of memory for a %ux%u working picture", box->width,
                 box->height);
        gray_box_free(box);
        return CGSHIM_LIMIT;
    }
    for (uint32_t x = 0; x < src_width; x++) {
        uint32_t tx = (uint32_t)((uint64_t)x * box->width / src_width);
        box->column[x] = tx;
        box->columns[tx] += 1;
    }
    return CGSHIM_OK;
}

// Averages truncated, as the RGB path's are (preview_box_finish): the detector's scores near its threshold move
// with a grey level's rounding (docs/faces.md).
static void gray_box_flush(gray_box *box) {
    if (box->rows == 0) return;
    uint8_t *target = box->out + (size_t)box->row * box->width;
    for (uint32_t tx = 0; tx < box->width; tx++) {
        uint64_t n = (uint64_t)box->columns[tx] * box->rows;
        target[tx] = (uint8_t)(n ? box->sums[tx] / n : 0);
        box->sums[tx] = 0;
    }
    box->rows = 0;
}

// Decoded rows arrive top to bottom; each belongs to output row y * height / src_height.
static void gray_box_add_row(gray_box *box, uint32_t y, const uint8_t *row) {
    uint32_t ty = (uint32_t)((uint64_t)y * box->height / box->src_height);
    if (ty != box->row) {
        gray_box_flush(box);
        box->row = ty;
    }
    if (box->width == box->src_width) {
        for (uint32_t x = 0; x < box->src_width; x++) box->sums[x] += row[x];
    } else {
        for (uint32_t x = 0; x < box->src_width; x++) box->sums[box->column[x]] += row[x];
    }
    box->rows += 1;
}

int cgshim_jpeg_gray(const uint8_t *data, size_t length, const cgshim_limits *limits, uint32_t max_side,
                     cgshim_image_info *info, uint8_t **gray, uint32_t *width, uint32_t *height) {
    struct jpeg_decompress_struct cinfo;
    shim_jpeg_error err;
    gray_box box;
    uint8_t *volatile row = NULL;
    memset(info, 0, sizeof(*info));
    memset(&box, 0, sizeof(box));
    *gray = NULL;
    *width = 0;
    *height = 0;
    shim_jpeg_errors_init(&cinfo.err, &err, limits, info);
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(row);
        gray_box_free(&box);
        return err.limit_hit ? CGSHIM_LIMIT : CGSHIM_ERROR;
    }
    jpeg_create_decompress(&cinfo);
    if (limits && limits->max_memory_bytes > 0) cinfo.mem->max_memory_to_use = (long)limits->max_memory_bytes;
    cinfo.progress = &err.progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)length);
    jpeg_read_header(&cinfo, TRUE);
    info->width = cinfo.image_width;
    info->height = cinfo.image_height;
    info->components = cinfo.num_components;
    info->color_space = cinfo.jpeg_color_space;
    int checked = cgshim_check_pixels(cinfo.image_width, cinfo.image_height, limits, info);
    if (checked != CGSHIM_OK) {
        jpeg_destroy_decompress(&cinfo);
        return checked;
    }
    // Luma alone only where the file stores it (YCbCr or grey); RGB, CMYK and YCCK pictures take the RGB path.
    if (cinfo.jpeg_color_space != JCS_YCbCr && cinfo.jpeg_color_space != JCS_GRAYSCALE) {
        snprintf(info->message, sizeof(info->message), "colour space %d has no luma to decode alone",
                 (int)cinfo.jpeg_color_space);
        jpeg_destroy_decompress(&cinfo);
        return CGSHIM_UNSUPPORTED;
    }
    cinfo.out_color_space = JCS_GRAYSCALE;
    // The preview's reduction (box_size.h, as cgshim_jpeg_preview), so that the detector sees the pixels it saw
    // through the RGB path.
    cinfo.scale_num = 1;
    cinfo.scale_denom = cgshim_jpeg_scale_denom(cinfo.image_width, cinfo.image_height, max_side);
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != 1) {
        snprintf(info->message, sizeof(info->message), "%d output components", cinfo.output_components);
        jpeg_destroy_decompress(&cinfo);
        return CGSHIM_ERROR;
    }
    int status = gray_box_start(&box, cinfo.output_width, cinfo.output_height, max_side, info);
    if (status != CGSHIM_OK) {
        jpeg_destroy_decompress(&cinfo);
        return status;
    }
    row = malloc(cinfo.output_width);
    if (!row) {
        snprintf(info->message, sizeof(info->message), "out of memory for a row");
        jpeg_destroy_decompress(&cinfo);
        gray_box_free(&box);
        return CGSHIM_LIMIT;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW rowp = row;
        JDIMENSION y = cinfo.output_scanline;
        if (jpeg_read_scanlines(&cinfo, &rowp, 1) != 1) break;
        gray_box_add_row(&box, y, row);
    }
    gray_box_flush(&box);
    jpeg_abort_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    row = NULL;
    *width = box.width;
    *height = box.height;
    *gray = box.out;
    box.out = NULL;
    gray_box_free(&box);
    return CGSHIM_OK;
}
