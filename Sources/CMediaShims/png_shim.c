#include "cgshim.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>
#include <zlib.h>

typedef struct {
    const uint8_t *data;
    size_t length;
    size_t position;
    cgshim_image_info *info;
    int limit_hit;
} shim_png_source;

static void shim_png_error(png_structp png, png_const_charp message) {
    shim_png_source *src = (shim_png_source *)png_get_error_ptr(png);
    snprintf(src->info->message, sizeof(src->info->message), "%s", message);
    png_longjmp(png, 1);
}

static void shim_png_warning(png_structp png, png_const_charp message) {
    shim_png_source *src = (shim_png_source *)png_get_error_ptr(png);
    if (src->info->warnings == 0) {
        snprintf(src->info->message, sizeof(src->info->message), "%s", message);
    }
    src->info->warnings += 1;
}

static void shim_png_read(png_structp png, png_bytep out, size_t count) {
    shim_png_source *src = (shim_png_source *)png_get_io_ptr(png);
    if (count > src->length - src->position) {
        png_error(png, "unexpected end of file");
    }
    memcpy(out, src->data + src->position, count);
    src->position += count;
}

static png_structp shim_png_create(shim_png_source *src, const cgshim_limits *limits, png_infop *info_out) {
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, src, shim_png_error, shim_png_warning);
    if (!png) return NULL;
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return NULL;
    }
    png_set_read_fn(png, src, shim_png_read);
    png_uint_32 side = 0x7fffffff;
    png_set_user_limits(png, side, side);
    png_set_chunk_cache_max(png, 10000);
    png_set_chunk_malloc_max(png, limits && limits->max_memory_bytes ? (png_alloc_size_t)limits->max_memory_bytes
                                                                      : (png_alloc_size_t)64 * 1024 * 1024);
    // Text and EXIF chunks are metadata that ConsentGate drops: never let libpng inflate them.
    static const png_byte ignored[] = "tEXt\0zTXt\0iTXt\0eXIf\0";
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, ignored, 4);
    *info_out = info;
    return png;
}

static int shim_png_check(png_structp png, png_infop info, const cgshim_limits *limits, cgshim_image_info *out) {
    out->width = png_get_image_width(png, info);
    out->height = png_get_image_height(png, info);
    out->components = png_get_channels(png, info);
    out->color_space = png_get_color_type(png, info);
    out->bit_depth = png_get_bit_depth(png, info);
    out->progressive = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
    uint64_t pixels = (uint64_t)out->width * (uint64_t)out->height;
    if (limits && limits->max_pixels > 0 && pixels > limits->max_pixels) {
        snprintf(out->message, sizeof(out->message), "%ux%u pixels exceeds the limit of %llu", out->width,
                 out->height, (unsigned long long)limits->max_pixels);
        return CGSHIM_LIMIT;
    }
    return CGSHIM_OK;
}

int cgshim_png_read_header(const uint8_t *data, size_t length, const cgshim_limits *limits,
                           cgshim_image_info *info) {
    memset(info, 0, sizeof(*info));
    shim_png_source src = {data, length, 0, info, 0};
    png_infop pinfo = NULL;
    png_structp png = shim_png_create(&src, limits, &pinfo);
    if (!png) {
        snprintf(info->message, sizeof(info->message), "libpng could not start");
        return CGSHIM_ERROR;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        return CGSHIM_ERROR;
    }
    png_read_info(png, pinfo);
    int status = shim_png_check(png, pinfo, limits, info);
    png_destroy_read_struct(&png, &pinfo, NULL);
    return status;
}

int cgshim_png_decode(const uint8_t *data, size_t length, const cgshim_limits *limits,
                      cgshim_image_info *info, uint8_t **pixels, size_t *pixels_length) {
    memset(info, 0, sizeof(*info));
    *pixels = NULL;
    *pixels_length = 0;
    shim_png_source src = {data, length, 0, info, 0};
    png_infop pinfo = NULL;
    uint8_t *volatile buffer = NULL;
    png_bytep *volatile rows = NULL;
    png_structp png = shim_png_create(&src, limits, &pinfo);
    if (!png) {
        snprintf(info->message, sizeof(info->message), "libpng could not start");
        return CGSHIM_ERROR;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        free(buffer);
        free(rows);
        return CGSHIM_ERROR;
    }
    png_read_info(png, pinfo);
    int status = shim_png_check(png, pinfo, limits, info);
    if (status != CGSHIM_OK) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        return status;
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, pinfo);
    size_t rowbytes = png_get_rowbytes(png, pinfo);
    size_t height = png_get_image_height(png, pinfo);
    size_t total = rowbytes * height;
    if ((limits && limits->max_memory_bytes > 0 && total > limits->max_memory_bytes) ||
        (height > 0 && total / height != rowbytes)) {
        snprintf(info->message, sizeof(info->message), "decoded image needs %zu bytes, over the limit", total);
        png_destroy_read_struct(&png, &pinfo, NULL);
        return CGSHIM_LIMIT;
    }
    // Zeroed: libpng leaves the bits after a row's last pixel (depths under 8) as the buffer held them.
    buffer = calloc(total > 0 ? total : 1, 1);
    rows = malloc((height > 0 ? height : 1) * sizeof(png_bytep));
    if (!buffer || !rows) {
        snprintf(info->message, sizeof(info->message), "out of memory for %zu bytes", total);
        png_destroy_read_struct(&png, &pinfo, NULL);
        free(buffer);
        free(rows);
        return CGSHIM_LIMIT;
    }
    for (size_t y = 0; y < height; y++) rows[y] = buffer + y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &pinfo, NULL);
    free(rows);
    *pixels = buffer;
    *pixels_length = total;
    return CGSHIM_OK;
}

uint32_t cgshim_crc32(uint32_t crc, const uint8_t *bytes, size_t length) {
    uLong value = crc;
    while (length > 0) {
        uInt chunk = length > 0x40000000u ? 0x40000000u : (uInt)length;
        value = crc32(value, bytes, chunk);
        bytes += chunk;
        length -= chunk;
    }
    return (uint32_t)value;
}

int cgshim_zlib_check(const uint8_t *bytes, size_t length, uint64_t max_output, uint8_t *head,
                      size_t head_capacity, uint64_t *output_length) {
    z_stream stream;
    memset(&stream, 0, sizeof(stream));
    *output_length = 0;
    if (inflateInit(&stream) != Z_OK) return CGSHIM_ERROR;
    uint8_t window[16384];
    size_t fed = 0;
    int status = Z_OK;
    while (status == Z_OK) {
        if (stream.avail_in == 0 && fed < length) {
            size_t chunk = length - fed > 0x40000000u ? 0x40000000u : length - fed;
            stream.next_in = (Bytef *)(bytes + fed);
            stream.avail_in = (uInt)chunk;
            fed += chunk;
        }
        stream.next_out = window;
        stream.avail_out = sizeof(window);
        status = inflate(&stream, Z_NO_FLUSH);
        size_t produced = sizeof(window) - stream.avail_out;
        if (*output_length < head_capacity) {
            size_t room = head_capacity - (size_t)*output_length;
            memcpy(head + *output_length, window, produced < room ? produced : room);
        }
        *output_length += produced;
        if (*output_length > max_output) {
            inflateEnd(&stream);
            return CGSHIM_LIMIT;
        }
        if (status == Z_BUF_ERROR && stream.avail_in == 0 && fed >= length) break;
        if (status == Z_BUF_ERROR) status = Z_OK;
    }
    inflateEnd(&stream);
    return status == Z_STREAM_END ? CGSHIM_OK : CGSHIM_ERROR;
}

int cgshim_zlib_compress(const uint8_t *bytes, size_t length, uint8_t *output, size_t *output_length) {
    uLongf produced = (uLongf)*output_length;
    int status = compress2(output, &produced, bytes, (uLong)length, 9);
    *output_length = (size_t)produced;
    return status == Z_OK ? CGSHIM_OK : CGSHIM_ERROR;
}

size_t cgshim_zlib_bound(size_t length) { return (size_t)compressBound((uLong)length); }
