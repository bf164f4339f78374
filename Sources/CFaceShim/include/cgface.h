// Face detection for the consent check (how many people are visible): dlib's built-in HOG frontal face detector,
// behind a C interface. Detection only: boxes and scores, never a descriptor, landmarks or anything that could
// recognise a person. Every C++ exception stays inside the shim and becomes a status with a message.
#ifndef CGFACE_H
#define CGFACE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t left, top, width, height;
    double score;
} cgface_box;

#define CGFACE_OK 0
#define CGFACE_ERROR 1
#define CGFACE_LIMIT 2

/// Finds frontal faces in `gray` (8-bit grey, `width` x `height`, row by row) scored at least `threshold` (dlib's
/// detection confidence; 0 is dlib's own default). `upsample`: how many times the picture is doubled first (each
/// halves the smallest face found, about 80 pixels a side without). At most `capacity` boxes are written to `boxes`
/// (best first); `*found` is how many were written. A picture over `max_pixels` after doubling is refused.
int cgface_detect(const uint8_t *gray, uint32_t width, uint32_t height, uint32_t upsample, double threshold,
                  uint64_t max_pixels, cgface_box *boxes, size_t capacity, size_t *found, char *message,
                  size_t message_size);

#define CGFACE_PATH_GENERIC 0
#define CGFACE_PATH_AVX2 1

/// Which build of the detector `cgface_detect` runs on this processor: CGFACE_PATH_AVX2 on an x86-64 processor with
/// AVX2 and FMA, CGFACE_PATH_GENERIC otherwise.
int cgface_path(void);

/// `cgface_detect` with the build of the detector named (a test compares them): CGFACE_ERROR, with a message, for one
/// this processor cannot run.
int cgface_detect_path(int path, const uint8_t *gray, uint32_t width, uint32_t height, uint32_t upsample,
                       double threshold, uint64_t max_pixels, cgface_box *boxes, size_t capacity, size_t *found,
                       char *message, size_t message_size);

/// Builds the detector now (it is deserialized from data compiled into dlib: no file is read), so that the first
/// request does not pay for it. Returns CGFACE_OK or CGFACE_ERROR.
int cgface_prepare(void);

#ifdef __cplusplus
}
#endif

#endif
