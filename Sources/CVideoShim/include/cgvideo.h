// Decoding compressed video samples (and WebP / GIF pictures) to grey pixels for the face detector, through
// libavcodec on one thread. The caller parses the container (our ISO-BMFF reader) and hands over one sample at a
// time with its codec configuration (avcC, hvcC, av1C) as extradata. Only pixels come out: nothing else.
#ifndef CGVIDEO_H
#define CGVIDEO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CGVIDEO_OK 0
#define CGVIDEO_ERROR 1
#define CGVIDEO_LIMIT 2
/// No frame yet: send the next sample (or, after the last, nothing more will come).
#define CGVIDEO_AGAIN 3

typedef struct cgvideo_decoder cgvideo_decoder;

/// Opens a single-threaded decoder for `codec` (a sample entry's four characters: avc1, avc3, hvc1, hev1, av01, vp08,
/// vp09, mp4v (MPEG-4 Visual), s263/h263, jpeg (Motion JPEG); or "webp", "gif" for those pictures), with `extradata` (may be empty). Frames over `max_pixels` are refused.
int cgvideo_open(const char *codec, const uint8_t *extradata, size_t extradata_size, uint64_t max_pixels,
                 cgvideo_decoder **decoder, char *message, size_t message_size);

/// Hands the decoder one compressed sample with its presentation time (any unit); `data` NULL: no more samples
/// (the decoder gives out the frames it still holds).
int cgvideo_send(cgvideo_decoder *decoder, const uint8_t *data, size_t size, int64_t pts, char *message,
                 size_t message_size);

/// The next decoded frame, held until the next call: its presentation time and size. CGVIDEO_AGAIN when the
/// decoder needs more input (or has given out everything after the last sample). A frame the decoder marks
/// corrupt is an error.
int cgvideo_receive(cgvideo_decoder *decoder, int64_t *pts, uint32_t *width, uint32_t *height, char *message,
                    size_t message_size);

/// The held frame in 8-bit grey, reduced (area average) to `width` x `height`, row by row into `gray`.
int cgvideo_gray(cgvideo_decoder *decoder, uint32_t width, uint32_t height, uint8_t *gray, char *message,
                 size_t message_size);

void cgvideo_close(cgvideo_decoder *decoder);

/// Silences libav's log (it would write to stderr) and registers nothing else; call once before the sandbox.
void cgvideo_prepare(void);

/// A HEIC, HEIF or AVIF picture's primary image through libheif, upright (its irot/imir/clap applied), in grey (its
/// luma), box-averaged so that its longer side is at most `max_side`. `*gray` (free with cgheif_free) is `*width` x
/// `*height`; `*original_width` x `*original_height` is the upright picture's size. A picture wider or higher than
/// `max_dimension` is refused.
int cgheif_decode_gray(const uint8_t *data, size_t size, uint32_t max_side, uint32_t max_dimension, uint8_t **gray,
                       uint32_t *width, uint32_t *height, uint32_t *original_width, uint32_t *original_height,
                       char *message, size_t message_size);
void cgheif_free(uint8_t *gray);

/// The primary image's size as the file declares it (no decoding): what the working size is planned from.
int cgheif_size(const uint8_t *data, size_t size, uint32_t *width, uint32_t *height, char *message,
                size_t message_size);

/// Initialises libheif (its built-in decoders; any plugin folder is read here, before the sandbox).
void cgheif_prepare(void);

#ifdef __cplusplus
}
#endif

#endif
