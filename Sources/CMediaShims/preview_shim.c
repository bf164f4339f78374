// Small previews for the review page: a JPEG decoded at 1/2, 1/4 or 1/8 scale by libjpeg, or a PNG read row by
// row by libpng, box-averaged down to at most max_side pixels a side into 8-bit RGB, and that RGB encoded
// again as a baseline JPEG with no markers but the picture's own. Only pixels cross from the original to the
// preview, never a metadata byte. Every libjpeg and libpng call that can fail jumps back here (setjmp/longjmp,
// as in jpeg_shim.c and png_shim.c) and becomes a status code with a message.
#include "cgshim.h"
#include "box_size.h"
#include "jpeg_errors.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <png.h>

// MARK: - Box downscaling

typedef struct {
    uint32_t src_width, src_height, width, height;
    uint64_t *sums;    // width * height * 3
    uint32_t *counts;  // width * height
} preview_box;

static int preview_box_start(preview_box *box, uint32_t src_width, uint32_t src_height, uint32_t max_side,
                             cgshim_image_info *info) {
    memset(box, 0, sizeof(*box));
    box->src_width = src_width;
    box->src_height = src_height;
    cgshim_box_size(src_width, src_height, max_side, &box->width, &box->height);
    size_t cells = (size_t)box->width * (size_t)box->height;
    box->sums = calloc(cells * 3, sizeof(uint64_t));
    box->counts = calloc(cells, sizeof(uint32_t));
    if (!box->sums || !box->counts) {
        snprintf(info->message, sizeof(info->message), "out of memory for a %ux%u preview", box->width,
                 box->height);
        return CGSHIM_LIMIT;
    }
    return CGSHIM_OK;
}

// Adds one source row of `components` samples per pixel: 1 grey, 3 RGB, 4 RGBA (alpha over white) or, with
// `cmyk`, 4 CMYK (inverted as Adobe writes it when `inverted`).
static void preview_box_add_row(preview_box *box, uint32_t y, const uint8_t *row, int components, int cmyk,
                                int inverted) {
    uint32_t ty = (uint32_t)((uint64_t)y * box->height / box->src_height);
    uint64_t *sums = box->sums + (size_t)ty * box->width * 3;
    uint32_t *counts = box->counts + (size_t)ty * box->width;
    for (uint32_t x = 0; x < box->src_width; x++) {
        uint32_t tx = (uint32_t)((uint64_t)x * box->width / box->src_width);
        const uint8_t *p = row + (size_t)x * (size_t)components;
        uint32_t r, g, b;
        if (components == 1) {
            r = g = b = p[0];
        } else if (cmyk) {
            uint32_t c = inverted ? p[0] : 255u - p[0], m = inverted ? p[1] : 255u - p[1];
            uint32_t yy = inverted ? p[2] : 255u - p[2], k = inverted ? p[3] : 255u - p[3];
            r = c * k / 255u;
            g = m * k / 255u;
            b = yy * k / 255u;
        } else if (components == 4) {
            uint32_t a = p[3];
            r = (p[0] * a + 255u * (255u - a)) / 255u;
            g = (p[1] * a + 255u * (255u - a)) / 255u;
            b = (p[2] * a + 255u * (255u - a)) / 255u;
        } else {
            r = p[0];
            g = p[1];
            b = p[2];
        }
        sums[(size_t)tx * 3] += r;
        sums[(size_t)tx * 3 + 1] += g;
        sums[(size_t)tx * 3 + 2] += b;
        counts[tx] += 1;
    }
}

// The averaged RGB (malloc'd, free with cgshim_free); frees the sums.
static uint8_t *preview_box_finish(preview_box *box) {
    size_t cells = (size_t)box->width * (size_t)box->height;
    uint8_t *rgb = malloc(cells * 3 > 0 ? cells * 3 : 1);
    if (rgb) {
        for (size_t i = 0; i < cells; i++) {
            uint32_t n = box->counts[i] ? box->counts[i] : 1;
            for (int c = 0; c < 3; c++) rgb[i * 3 + c] = (uint8_t)(box->sums[i * 3 + c] / n);
        }
    }
    free(box->sums);
    free(box->counts);
    box->sums = NULL;
    box->counts = NULL;
    return rgb;
}

static void preview_box_free(preview_box *box) {
    free(box->sums);
    free(box->counts);
}

// MARK: - JPEG in (libjpeg's error handling is jpeg_errors.h, shared with jpeg_shim.c)

int cgshim_jpeg_preview(const uint8_t *data, size_t length, const cgshim_limits *limits, uint32_t max_side,
                        cgshim_image_info *info, uint8_t **rgb, uint32_t *width, uint32_t *height) {
    struct jpeg_decompress_struct cinfo;
    shim_jpeg_error err;
    preview_box box;
    uint8_t *volatile row = NULL;
    volatile int box_started = 0;
    memset(info, 0, sizeof(*info));
    memset(&box, 0, sizeof(box));
    *rgb = NULL;
    *width = 0;
    *height = 0;
    shim_jpeg_errors_init(&cinfo.err, &err, limits, info);
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(row);
        if (box_started) preview_box_free(&box);
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
    int status = cgshim_check_pixels(cinfo.image_width, cinfo.image_height, limits, info);
    if (status != CGSHIM_OK) {
        jpeg_destroy_decompress(&cinfo);
        return status;
    }
    cinfo.scale_num = 1;
    cinfo.scale_denom = cgshim_jpeg_scale_denom(cinfo.image_width, cinfo.image_height, max_side);
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    if (cmyk) {
        cinfo.out_color_space = JCS_CMYK;
    } else if (cinfo.num_components == 1) {
        cinfo.out_color_space = JCS_GRAYSCALE;
    } else {
        cinfo.out_color_space = JCS_RGB;
    }
    jpeg_start_decompress(&cinfo);
    int components = cinfo.output_components;
    if (components != 1 && components != 3 && components != 4) {
        snprintf(info->message, sizeof(info->message), "%d output components", components);
        jpeg_destroy_decompress(&cinfo);
        return CGSHIM_ERROR;
    }
    status = preview_box_start(&box, cinfo.output_width, cinfo.output_height, max_side, info);
    box_started = 1;
    if (status != CGSHIM_OK) {
        jpeg_destroy_decompress(&cinfo);
        preview_box_free(&box);
        return status;
    }
    row = malloc((size_t)cinfo.output_width * (size_t)components);
    if (!row) {
        snprintf(info->message, sizeof(info->message), "out of memory for a row");
        jpeg_destroy_decompress(&cinfo);
        preview_box_free(&box);
        return CGSHIM_LIMIT;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW rowp = row;
        JDIMENSION y = cinfo.output_scanline;
        if (jpeg_read_scanlines(&cinfo, &rowp, 1) != 1) break;
        preview_box_add_row(&box, y, row, components, cmyk, cinfo.saw_Adobe_marker);
    }
    jpeg_abort_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    row = NULL;
    box_started = 0;
    *width = box.width;
    *height = box.height;
    *rgb = preview_box_finish(&box);
    if (!*rgb) {
        snprintf(info->message, sizeof(info->message), "out of memory for the preview");
        return CGSHIM_LIMIT;
    }
    return CGSHIM_OK;
}

// MARK: - PNG in

typedef struct {
    const uint8_t *data;
    size_t length;
    size_t position;
    cgshim_image_info *info;
} preview_png_source;

static void preview_png_error(png_structp png, png_const_charp message) {
    preview_png_source *src = (preview_png_source *)png_get_error_ptr(png);
    snprintf(src->info->message, sizeof(src->info->message), "%s", message);
    png_longjmp(png, 1);
}

static void preview_png_warning(png_structp png, png_const_charp message) {
    preview_png_source *src = (preview_png_source *)png_get_error_ptr(png);
    if (src->info->warnings == 0) snprintf(src->info->message, sizeof(src->info->message), "%s", message);
    src->info->warnings += 1;
}

static void preview_png_read(png_structp png, png_bytep out, size_t count) {
    preview_png_source *src = (preview_png_source *)png_get_io_ptr(png);
    if (count > src->length - src->position) png_error(png, "unexpected end of file");
    memcpy(out, src->data + src->position, count);
    src->position += count;
}

int cgshim_png_preview(const uint8_t *data, size_t length, const cgshim_limits *limits, uint32_t max_side,
                       cgshim_image_info *info, uint8_t **rgb, uint32_t *width, uint32_t *height) {
    memset(info, 0, sizeof(*info));
    *rgb = NULL;
    *width = 0;
    *height = 0;
    preview_png_source src = {data, length, 0, info};
    preview_box box;
    memset(&box, 0, sizeof(box));
    volatile int box_started = 0;
    uint8_t *volatile image = NULL;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, preview_png_error, preview_png_warning);
    png_infop pinfo = png ? png_create_info_struct(png) : NULL;
    if (!png || !pinfo) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(info->message, sizeof(info->message), "libpng could not start");
        return CGSHIM_ERROR;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        free(image);
        if (box_started) preview_box_free(&box);
        return CGSHIM_ERROR;
    }
    png_set_read_fn(png, &src, preview_png_read);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_set_chunk_cache_max(png, 10000);
    png_set_chunk_malloc_max(png, limits && limits->max_memory_bytes ? (png_alloc_size_t)limits->max_memory_bytes
                                                                      : (png_alloc_size_t)64 * 1024 * 1024);
    // Text, EXIF and the colour/time chunks this decode does not apply are never read: the preview and the face
    // detector need pixels only, and a warning about one of them (libpng's "iCCP: known incorrect sRGB profile",
    // common in real files) says nothing about the pixels, so it must not count as damage.
    static const png_byte ignored[] =
        "tEXt\0zTXt\0iTXt\0eXIf\0iCCP\0sRGB\0gAMA\0cHRM\0tIME\0pHYs\0sBIT\0bKGD\0hIST\0sPLT\0oFFs\0pCAL\0sCAL\0";
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, ignored, 17);
    png_read_info(png, pinfo);
    uint32_t src_width = png_get_image_width(png, pinfo), src_height = png_get_image_height(png, pinfo);
    info->width = src_width;
    info->height = src_height;
    info->color_space = png_get_color_type(png, pinfo);
    info->bit_depth = png_get_bit_depth(png, pinfo);
    int status = cgshim_check_pixels(src_width, src_height, limits, info);
    if (status != CGSHIM_OK) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        return status;
    }
    // Every colour type and depth becomes 8-bit grey, grey+alpha, RGB or RGBA; grey+alpha then RGBA.
    png_set_expand(png);
    png_set_strip_16(png);
    png_set_gray_to_rgb(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, pinfo);
    int components = png_get_channels(png, pinfo);
    size_t rowbytes = png_get_rowbytes(png, pinfo);
    if ((components != 3 && components != 4) || rowbytes != (size_t)src_width * (size_t)components) {
        snprintf(info->message, sizeof(info->message), "unexpected layout after expansion");
        png_destroy_read_struct(&png, &pinfo, NULL);
        return CGSHIM_ERROR;
    }
    // Interlaced rows are complete only after the last pass, so those need the whole image at once.
    size_t rows_held = passes > 1 ? src_height : 1;
    size_t total = rowbytes * rows_held;
    if (total / rows_held != rowbytes || (limits && limits->max_memory_bytes > 0 && total > limits->max_memory_bytes)) {
        snprintf(info->message, sizeof(info->message), "decoded image needs %zu bytes, over the limit", total);
        png_destroy_read_struct(&png, &pinfo, NULL);
        return CGSHIM_LIMIT;
    }
    image = calloc(total, 1);
    status = image ? preview_box_start(&box, src_width, src_height, max_side, info) : CGSHIM_LIMIT;
    box_started = 1;
    if (status != CGSHIM_OK) {
        if (!image) snprintf(info->message, sizeof(info->message), "out of memory for %zu bytes", total);
        png_destroy_read_struct(&png, &pinfo, NULL);
        free(image);
        preview_box_free(&box);
        return status;
    }
    for (int pass = 0; pass < passes; pass++) {
        for (uint32_t y = 0; y < src_height; y++) {
            uint8_t *target = passes > 1 ? image + (size_t)y * rowbytes : image;
            png_read_row(png, target, NULL);
            if (passes == 1) preview_box_add_row(&box, y, target, components, 0, 0);
        }
    }
    if (passes > 1) {
        for (uint32_t y = 0; y < src_height; y++)
            preview_box_add_row(&box, y, image + (size_t)y * rowbytes, components, 0, 0);
    }
    png_destroy_read_struct(&png, &pinfo, NULL);
    free(image);
    image = NULL;
    box_started = 0;
    *width = box.width;
    *height = box.height;
    *rgb = preview_box_finish(&box);
    if (!*rgb) {
        snprintf(info->message, sizeof(info->message), "out of memory for the preview");
        return CGSHIM_LIMIT;
    }
    return CGSHIM_OK;
}

// MARK: - JPEG out

int cgshim_jpeg_encode_rgb(const uint8_t *rgb, uint32_t width, uint32_t height, int quality,
                           cgshim_image_info *info, uint8_t **out, size_t *out_length) {
    struct jpeg_compress_struct cinfo;
    shim_jpeg_error err;
    // libjpeg grows the output buffer itself and keeps this pointer current; after an error it is ours to free.
    // Thread-local, not a local: a local changed between setjmp and longjmp is indeterminate after the jump.
    static __thread unsigned char *target;
    static __thread unsigned long size;
    target = NULL;
    size = 0;
    memset(info, 0, sizeof(*info));
    *out = NULL;
    *out_length = 0;
    shim_jpeg_errors_init(&cinfo.err, &err, NULL, info);
    if (setjmp(err.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(target);
        target = NULL;
        return CGSHIM_ERROR;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &target, &size);
    cinfo.image_width = width;
    cinfo.image_height = height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    // No JFIF header and no other marker: the preview is SOI, tables, frame, scan, EOI.
    cinfo.write_JFIF_header = FALSE;
    cinfo.write_Adobe_marker = FALSE;
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)cinfo.next_scanline * width * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = target;
    *out_length = size;
    target = NULL;
    return CGSHIM_OK;
}
