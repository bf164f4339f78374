// Where a zlib stream ends (PNG image data): inflated without keeping the output.
#include "cgshim.h"

#include <string.h>
#include <zlib.h>

int cgshim_zlib_stream_end(const uint8_t *bytes, size_t length, uint64_t max_output, uint64_t *consumed,
                           uint64_t *output_length) {
    z_stream stream;
    memset(&stream, 0, sizeof(stream));
    *consumed = 0;
    *output_length = 0;
    if (inflateInit(&stream) != Z_OK) return CGSHIM_ERROR;
    uint8_t window[32768];
    size_t fed = 0;
    int status = Z_OK;
    int result = CGSHIM_ERROR;
    for (;;) {
        if (stream.avail_in == 0 && fed < length) {
            size_t chunk = length - fed > 0x40000000u ? 0x40000000u : length - fed;
            stream.next_in = (Bytef *)(bytes + fed);
            stream.avail_in = (uInt)chunk;
            fed += chunk;
        }
        stream.next_out = window;
        stream.avail_out = sizeof(window);
        status = inflate(&stream, Z_NO_FLUSH);
        *output_length += sizeof(window) - stream.avail_out;
        *consumed = (uint64_t)(fed - stream.avail_in);
        if (*output_length > max_output) {
            result = CGSHIM_LIMIT;
            break;
        }
        if (status == Z_STREAM_END) {
            result = CGSHIM_OK;
            break;
        }
        if (status == Z_BUF_ERROR && stream.avail_in == 0 && fed >= length) break;  // cut short
        if (status != Z_OK && status != Z_BUF_ERROR) break;                          // corrupt
    }
    inflateEnd(&stream);
    return result;
}
