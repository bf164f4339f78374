// dlib's HOG frontal face detector (get_frontal_face_detector: a model compiled into libdlib, so the sandboxed worker
// opens no file). Only boxes and scores leave this file. No exception crosses the C interface.
//
// Two builds of the same detection code (face_detect_body.h): this file's, for any processor, and
// face_shim_avx2.cpp's, for x86-64 processors with AVX2 and FMA; cgface_detect takes the AVX2 one where the
// processor has it (about a third less time; the boxes are the same, FaceDetectorSpeedTests).
#include "cgface.h"

// libdlib is built without its debug checks; a debug build of this shim (SwiftPM defines DEBUG) must not turn them
// on, or its headers ask for a symbol the library lacks (dlib FAQ 1), and the detector would crawl.
#undef DEBUG
#undef _DEBUG
#undef ENABLE_ASSERTS
#ifndef DLIB_DISABLE_ASSERTS
#define DLIB_DISABLE_ASSERTS
#endif

#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms/interpolation.h>

#define CGFACE_VARIANT(name) cgface_generic_##name
#include "face_detect_body.h"

#if defined(__x86_64__) && defined(__clang__)
#define CGFACE_HAS_AVX2_VARIANT 1
extern "C" int cgface_avx2_load(const char *serialized, size_t size);
extern "C" int cgface_avx2_detect(const uint8_t *gray, uint32_t width, uint32_t height, uint32_t upsample,
                                  double threshold, uint64_t max_pixels, cgface_box *boxes, size_t capacity,
                                  size_t *found, char *message, size_t message_size);
#endif

namespace {

std::once_flag prepared;
int prepared_status = CGFACE_ERROR;

bool processor_has_avx2() {
#if defined(CGFACE_HAS_AVX2_VARIANT)
    __builtin_cpu_init();
    // Both also tell that the kernel saves the AVX registers (the check reads XCR0).
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

// The detector from the model compiled into libdlib, given to each variant this processor can run.
void prepare_once() {
    try {
        std::ostringstream out;
        {
            dlib::frontal_face_detector model = dlib::get_frontal_face_detector();
            dlib::serialize(model, out);
        }
        const std::string serialized = out.str();
        int status = cgface_generic_load(serialized.data(), serialized.size());
#if defined(CGFACE_HAS_AVX2_VARIANT)
        if (status == CGFACE_OK && processor_has_avx2())
            status = cgface_avx2_load(serialized.data(), serialized.size());
#endif
        prepared_status = status;
    } catch (...) {
        prepared_status = CGFACE_ERROR;
    }
}

}  // namespace

extern "C" int cgface_prepare(void) {
    std::call_once(prepared, prepare_once);
    return prepared_status;
}

extern "C" int cgface_path(void) { return processor_has_avx2() ? CGFACE_PATH_AVX2 : CGFACE_PATH_GENERIC; }

extern "C" int cgface_detect_path(int path, const uint8_t *gray, uint32_t width, uint32_t height, uint32_t upsample,
                                  double threshold, uint64_t max_pixels, cgface_box *boxes, size_t capacity,
                                  size_t *found, char *message, size_t message_size) {
    if (found) *found = 0;
    if (cgface_prepare() != CGFACE_OK) {
        if (message && message_size > 0) std::snprintf(message, message_size, "the face detector could not be built");
        return CGFACE_ERROR;
    }
    if (path == CGFACE_PATH_GENERIC)
        return cgface_generic_detect(gray, width, height, upsample, threshold, max_pixels, boxes, capacity, found,
                                     message, message_size);
#if defined(CGFACE_HAS_AVX2_VARIANT)
    if (path == CGFACE_PATH_AVX2 && processor_has_avx2())
        return cgface_avx2_detect(gray, width, height, upsample, threshold, max_pixels, boxes, capacity, found,
                                  message, message_size);
#endif
    if (message && message_size > 0) std::snprintf(message, message_size, "this processor cannot run that detector");
    return CGFACE_ERROR;
}

extern "C" int cgface_detect(const uint8_t *gray, uint32_t width, uint32_t height, uint32_t upsample,
                             double threshold, uint64_t max_pixels, cgface_box *boxes, size_t capacity, size_t *found,
                             char *message, size_t message_size) {
    return cgface_detect_path(cgface_path(), gray, width, height, upsample, threshold, max_pixels, boxes, capacity,
                              found, message, message_size);
}
