// ConsentGate's C shim over libjpeg and libpng.
//
// Both libraries report errors with longjmp (libjpeg's default handler even calls exit()), which
// Swift cannot catch. Every call that can fail goes through a function here that installs its own
// handlers, catches the jump and returns a status code with a message instead.
#ifndef CGSHIM_H
#define CGSHIM_H

#include <stddef.h>
#include <stdint.h>

#define CGSHIM_OK 0
#define CGSHIM_ERROR 1
#define CGSHIM_LIMIT 2
#define CGSHIM_UNSUPPORTED 3  // cgshim_jpeg_gray: a JPEG without luma (RGB, CMYK, YCCK), for the RGB path

typedef struct {
    uint32_t width;
    uint32_t height;
    int32_t components;   // JPEG: num_components; PNG: channels
    int32_t color_space;  // JPEG: J_COLOR_SPACE of the file; PNG: colour type
    int32_t bit_depth;    // JPEG: data_precision; PNG: bit depth
    int32_t progressive;  // JPEG: progressive mode; PNG: interlaced
    int32_t warnings;     // warnings the library raised (corrupt data it worked around)
    char message[256];    // the error, or else the first warning
} cgshim_image_info;

typedef struct {
    uint64_t max_pixels;        // width * height
    uint64_t max_memory_bytes;  // working memory the decoder may allocate
    uint32_t max_scans;         // JPEG progressive scans (a CPU bomb otherwise)
} cgshim_limits;

/// Reads the JPEG header (up to the first scan) with libjpeg.
int cgshim_jpeg_read_header(const uint8_t *data, size_t length, const cgshim_limits *limits,
                            cgshim_image_info *info);

/// Decodes the whole JPEG with libjpeg into a malloc'd buffer (free with cgshim_free).
int cgshim_jpeg_decode(const uint8_t *data, size_t length, const cgshim_limits *limits,
                       cgshim_image_info *info, uint8_t **pixels, size_t *pixels_length);

/// Reads the PNG header (IHDR and the chunks before the first IDAT) with libpng.
int cgshim_png_read_header(const uint8_t *data, size_t length, const cgshim_limits *limits,
                           cgshim_image_info *info);

/// Decodes the whole PNG with libpng (rows as stored, no transforms) into a malloc'd buffer.
int cgshim_png_decode(const uint8_t *data, size_t length, const cgshim_limits *limits,
                      cgshim_image_info *info, uint8_t **pixels, size_t *pixels_length);

void cgshim_free(void *pointer);

/// zlib's CRC-32, as PNG uses it.
uint32_t cgshim_crc32(uint32_t crc, const uint8_t *bytes, size_t length);

/// Inflates a complete zlib stream (adler-32 checked) without keeping it: returns CGSHIM_OK when the
/// stream is whole and inflates to at most max_output bytes, copying its first head_capacity bytes
/// into head. CGSHIM_LIMIT when it would inflate to more; CGSHIM_ERROR when it is corrupt or cut short.
int cgshim_zlib_check(const uint8_t *bytes, size_t length, uint64_t max_output, uint8_t *head,
                      size_t head_capacity, uint64_t *output_length);

/// Inflates a zlib stream from the start of bytes until it ends, keeping nothing: CGSHIM_OK when it ends, with
/// *consumed the bytes it spans (what follows no decoder reads) and *output_length what it inflates to;
/// CGSHIM_LIMIT as soon as it inflates to more than max_output; CGSHIM_ERROR when it is corrupt or cut short.
int cgshim_zlib_stream_end(const uint8_t *bytes, size_t length, uint64_t max_output, uint64_t *consumed,
                           uint64_t *output_length);

/// A Huffman table as libjpeg derives it: code lengths and symbols of the codes up to 9 bits by lookup, the
/// largest code of each length and the symbol offset for longer ones.
typedef struct {
    uint8_t look_length[512];
    uint8_t look_symbol[512];
    int32_t max_code[18];
    int32_t value_offset[18];
    uint8_t values[256];
} cgshim_huffman;

/// Builds a table from a DHT's 16 counts and count symbols; CGSHIM_ERROR for what libjpeg calls a bogus table.
int cgshim_huffman_build(cgshim_huffman *table, const uint8_t *counts, const uint8_t *values, size_t count,
                         int is_dc);

/// The standard table (ITU T.81 Annex K.3) libjpeg-turbo uses for slot 0 or 1 when no DHT defines it.
int cgshim_huffman_build_standard(cgshim_huffman *table, int is_dc, int slot);

typedef struct {
    const cgshim_huffman *dc;  // NULL when the scan does not use one
    const cgshim_huffman *ac;
    int32_t blocks;            // blocks of this component in one MCU
    uint64_t *nonzero;         // progressive AC scans: per block, which coefficients 1...63 are non-zero
} cgshim_scan_component;

typedef struct {
    int32_t ss, se, ah, al, progressive;
} cgshim_scan_parameters;

/// Walks mcus MCUs of a restart interval whose data starts at data[start] (data[end] is where the scan's data
/// ends) as libjpeg decodes them: *used_end is where the bytes the decoder uses end, *data_ran_out set when the
/// data ran out first. CGSHIM_ERROR for a code no table holds.
int cgshim_jpeg_walk_interval(const uint8_t *data, size_t start, size_t end,
                              const cgshim_scan_component *components, int count,
                              const cgshim_scan_parameters *parameters, size_t first_mcu, size_t mcus,
                              size_t *used_end, int *data_ran_out);

/// zlib's compress2 at level 9 into output (capacity *output_length, at least cgshim_zlib_bound(length));
/// *output_length is set to the bytes written.
int cgshim_zlib_compress(const uint8_t *bytes, size_t length, uint8_t *output, size_t *output_length);
size_t cgshim_zlib_bound(size_t length);

#endif

// Previews for the review page (preview_shim.c): pixels only, never a metadata byte of the original.

/// Decodes a JPEG at the largest libjpeg scale (1/8, 1/4, 1/2) that keeps max_side pixels on its long side,
/// box-averaged to at most max_side a side: 8-bit RGB in a malloc'd buffer (free with cgshim_free).
int cgshim_jpeg_preview(const uint8_t *data, size_t length, const cgshim_limits *limits, uint32_t max_side,
                        cgshim_image_info *info, uint8_t **rgb, uint32_t *width, uint32_t *height);

/// The face detector's working picture: a YCbCr or grey JPEG's luma alone, decoded at the largest libjpeg reduction
/// (1/8, 1/4, 1/2) that keeps max_side pixels on its long side and box-averaged to at most max_side a side (the preview's size): 8-bit
/// grey in a malloc'd buffer (free with cgshim_free). CGSHIM_UNSUPPORTED for an RGB, CMYK or YCCK JPEG.
int cgshim_jpeg_gray(const uint8_t *data, size_t length, const cgshim_limits *limits, uint32_t max_side,
                     cgshim_image_info *info, uint8_t **gray, uint32_t *width, uint32_t *height);

/// Decodes a PNG row by row (whole only when interlaced), alpha over white, box-averaged to at most max_side a
/// side: 8-bit RGB in a malloc'd buffer (free with cgshim_free).
int cgshim_png_preview(const uint8_t *data, size_t length, const cgshim_limits *limits, uint32_t max_side,
                       cgshim_image_info *info, uint8_t **rgb, uint32_t *width, uint32_t *height);

/// Encodes 8-bit RGB as a baseline JPEG with no JFIF, Adobe or any other marker (free *out with cgshim_free).
int cgshim_jpeg_encode_rgb(const uint8_t *rgb, uint32_t width, uint32_t height, int quality,
                           cgshim_image_info *info, uint8_t **out, size_t *out_length);
