// See cgvideo.h: HEIC, HEIF and AVIF pictures to grey through libheif (which decodes HEVC with libde265 and AV1 with
// libdav1d or libaom), for the face detector.
#include "cgvideo.h"

#include <libheif/heif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void say(char *message, size_t size, const char *what, const char *detail) {
    if (message && size) snprintf(message, size, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
}

void cgheif_prepare(void) { heif_init(NULL); }

void cgheif_free(uint8_t *gray) { free(gray); }

int cgheif_size(const uint8_t *data, size_t size, uint32_t *width, uint32_t *height, char *message,
                size_t message_size) {
    struct heif_context *context = heif_context_alloc();
    if (!context) { say(message, message_size, "out of memory", NULL); return CGVIDEO_LIMIT; }
    struct heif_image_handle *handle = NULL;
    int status = CGVIDEO_ERROR;
    struct heif_error error = heif_context_read_from_memory_without_copy(context, data, size, NULL);
    if (error.code != heif_error_Ok) { say(message, message_size, "libheif could not read it", error.message); goto done; }
    error = heif_context_get_primary_image_handle(context, &handle);
    if (error.code != heif_error_Ok) { say(message, message_size, "no primary image", error.message); goto done; }
    int w = heif_image_handle_get_width(handle), h = heif_image_handle_get_height(handle);
    if (w <= 0 || h <= 0) { say(message, message_size, "the primary image has no size", NULL); goto done; }
    *width = (uint32_t)w;
    *height = (uint32_t)h;
    status = CGVIDEO_OK;
done:
    if (handle) heif_image_handle_release(handle);
    heif_context_free(context);
    return status;
}

int cgheif_decode_gray(const uint8_t *data, size_t size, uint32_t max_side, uint32_t max_dimension, uint8_t **gray,
                       uint32_t *width, uint32_t *height, uint32_t *original_width, uint32_t *original_height,
                       char *message, size_t message_size) {
    *gray = NULL;
    struct heif_context *context = heif_context_alloc();
    if (!context) { say(message, message_size, "out of memory", NULL); return CGVIDEO_LIMIT; }
    heif_context_set_maximum_image_size_limit(context, (int)(max_dimension > 0x7fffffff ? 0x7fffffff : max_dimension));
    struct heif_image_handle *handle = NULL;
    struct heif_image *image = NULL;
    int status = CGVIDEO_ERROR;
    struct heif_error error = heif_context_read_from_memory_without_copy(context, data, size, NULL);
    if (error.code != heif_error_Ok) { say(message, message_size, "libheif could not read it", error.message); goto done; }
    error = heif_context_get_primary_image_handle(context, &handle);
    if (error.code != heif_error_Ok) { say(message, message_size, "no primary image", error.message); goto done; }
    error = heif_decode_image(handle, &image, heif_colorspace_YCbCr, heif_chroma_420, NULL);
    if (error.code != heif_error_Ok) {
        say(message, message_size, "the primary image could not be decoded", error.message);
        if (error.code == heif_error_Memory_allocation_error) status = CGVIDEO_LIMIT;
        goto done;
    }
    int w = heif_image_get_width(image, heif_channel_Y), h = heif_image_get_height(image, heif_channel_Y);
    int depth = heif_image_get_bits_per_pixel_range(image, heif_channel_Y);
    int stride = 0;
    const uint8_t *plane = heif_image_get_plane_readonly(image, heif_channel_Y, &stride);
    if (!plane || w <= 0 || h <= 0 || depth < 1 || depth > 16 || (uint32_t)w > max_dimension ||
        (uint32_t)h > max_dimension) {
        say(message, message_size, "the decoded image has no usable luma plane", NULL);
        goto done;
    }
    uint32_t longest = (uint32_t)(w > h ? w : h);
    uint32_t side = max_side == 0 ? 1 : (max_side < longest ? max_side : longest);
    uint32_t ow = (uint32_t)(((uint64_t)w * side + longest / 2) / longest), oh = (uint32_t)(((uint64_t)h * side + longest / 2) / longest);
    if (ow == 0) ow = 1;
    if (oh == 0) oh = 1;
    uint8_t *out = malloc((size_t)ow * oh);
    if (!out) { say(message, message_size, "out of memory", NULL); status = CGVIDEO_LIMIT; goto done; }
    // Box average of each output pixel's rectangle; samples over 8 bits are brought to 8.
    int shift = depth > 8 ? depth - 8 : 0;
    for (uint32_t y = 0; y < oh; y++) {
        uint32_t y0 = (uint32_t)((uint64_t)y * h / oh), y1 = (uint32_t)((uint64_t)(y + 1) * h / oh);
        if (y1 <= y0) y1 = y0 + 1;
        for (uint32_t x = 0; x < ow; x++) {
            uint32_t x0 = (uint32_t)((uint64_t)x * w / ow), x1 = (uint32_t)((uint64_t)(x + 1) * w / ow);
            if (x1 <= x0) x1 = x0 + 1;
            uint64_t sum = 0;
            for (uint32_t sy = y0; sy < y1; sy++) {
                const uint8_t *row = plane + (size_t)sy * (size_t)stride;
                if (depth > 8) {
                    for (uint32_t sx = x0; sx < x1; sx++) sum += (uint32_t)(row[sx * 2] | (row[sx * 2 + 1] << 8)) >> shift;
                } else {
                    for (uint32_t sx = x0; sx < x1; sx++) sum += row[sx];
                }
            }
            uint64_t count = (uint64_t)(y1 - y0) * (x1 - x0);
            uint64_t value = (sum + count / 2) / count;
            out[(size_t)y * ow + x] = (uint8_t)(value > 255 ? 255 : value);
        }
    }
    *gray = out;
    *width = ow;
    *height = oh;
    *original_width = (uint32_t)w;
    *original_height = (uint32_t)h;
    status = CGVIDEO_OK;
done:
    if (image) heif_image_release(image);
    if (handle) heif_image_handle_release(handle);
    heif_context_free(context);
    return status;
}
