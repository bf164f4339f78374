#include "cgshim.h"
#include "jpeg_errors.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

static void shim_jpeg_prepare(struct jpeg_decompress_struct *cinfo, shim_jpeg_error *err,
                              const cgshim_limits *limits, cgshim_image_info *info) {
    memset(info, 0, sizeof(*info));
    shim_jpeg_errors_init(&cinfo->err, err, limits, info);
}

static void shim_jpeg_fill_info(struct jpeg_decompress_struct *cinfo, cgshim_image_info *info) {
    info->width = cinfo->image_width;
    info->height = cinfo->image_height;
    info->components = cinfo->num_components;
    info->color_space = cinfo->jpeg_color_space;
    info->bit_depth = cinfo->data_precision;
    info->progressive = cinfo->progressive_mode;
}

static int shim_jpeg_check_pixels(const cgshim_limits *limits, cgshim_image_info *info) {
    uint64_t pixels = (uint64_t)info->width * (uint64_t)info->height;
    if (info->width == 0 || info->height == 0) {
        snprintf(info->message, sizeof(info->message), "image has zero width or height");
        return CGSHIM_ERROR;
    }
    if (limits && limits->max_pixels > 0 && pixels > limits->max_pixels) {
        snprintf(info->message, sizeof(info->message), "%ux%u pixels exceeds the limit of %llu",
                 info->width, info->height, (unsigned long long)limits->max_pixels);
        return CGSHIM_LIMIT;
    }
    return CGSHIM_OK;
}

int cgshim_jpeg_read_header(const uint8_t *data, size_t length, const cgshim_limits *limits,
                            cgshim_image_info *info) {
    struct jpeg_decompress_struct cinfo;
    shim_jpeg_error err;
    shim_jpeg_prepare(&cinfo, &err, limits, info);
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return err.limit_hit ? CGSHIM_LIMIT : CGSHIM_ERROR;
    }
    jpeg_create_decompress(&cinfo);
    if (limits && limits->max_memory_bytes > 0) cinfo.mem->max_memory_to_use = (long)limits->max_memory_bytes;
    jpeg_mem_src(&cinfo, data, (unsigned long)length);
    jpeg_read_header(&cinfo, TRUE);
    shim_jpeg_fill_info(&cinfo, info);
    int status = shim_jpeg_check_pixels(limits, info);
    jpeg_destroy_decompress(&cinfo);
    return status;
}

int cgshim_jpeg_decode(const uint8_t *data, size_t length, const cgshim_limits *limits,
                       cgshim_image_info *info, uint8_t **pixels, size_t *pixels_length) {
    struct jpeg_decompress_struct cinfo;
    shim_jpeg_error err;
    uint8_t *volatile buffer = NULL;
    *pixels = NULL;
    *pixels_length = 0;
    shim_jpeg_prepare(&cinfo, &err, limits, info);
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(buffer);
        return err.limit_hit ? CGSHIM_LIMIT : CGSHIM_ERROR;
    }
    jpeg_create_decompress(&cinfo);
    if (limits && limits->max_memory_bytes > 0) cinfo.mem->max_memory_to_use = (long)limits->max_memory_bytes;
    cinfo.progress = &err.progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)length);
    jpeg_read_header(&cinfo, TRUE);
    shim_jpeg_fill_info(&cinfo, info);
    int status = shim_jpeg_check_pixels(limits, info);
    if (status != CGSHIM_OK) {
        jpeg_destroy_decompress(&cinfo);
        return status;
    }
    jpeg_start_decompress(&cinfo);
    size_t row = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    size_t total = row * (size_t)cinfo.output_height;
    if (limits && limits->max_memory_bytes > 0 && total > limits->max_memory_bytes) {
        snprintf(info->message, sizeof(info->message), "decoded image needs %zu bytes, over the limit", total);
        jpeg_destroy_decompress(&cinfo);
        return CGSHIM_LIMIT;
    }
    buffer = malloc(total > 0 ? total : 1);
    if (!buffer) {
        snprintf(info->message, sizeof(info->message), "out of memory for %zu bytes", total);
        jpeg_destroy_decompress(&cinfo);
        return CGSHIM_LIMIT;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW rowp = buffer + (size_t)cinfo.output_scanline * row;
        jpeg_read_scanlines(&cinfo, &rowp, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    *pixels = buffer;
    *pixels_length = total;
    return CGSHIM_OK;
}

void cgshim_free(void *pointer) { free(pointer); }
