// dlib's HOG frontal face detector (get_frontal_face_detector: a model compiled into libdlib, so the sandboxed worker
// opens no file). Only boxes and scores leave this file. No exception crosses the C interface.
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

#include <algorithm>
#include <cstdio>
#include <exception>
#include <mutex>
#include <new>
#include <vector>

namespace {

// dlib's object_detector keeps scratch space between calls: one caller at a time.
std::mutex detector_lock;

dlib::frontal_face_detector &detector() {
    static dlib::frontal_face_detector instance = dlib::get_frontal_face_detector();
    return instance;
}

void say(char *message, size_t size, const char *what) {
    if (message && size > 0) std::snprintf(message, size, "%s", what);
}

}  // namespace

extern "C" int cgface_prepare(void) {
    try {
        (void)detector();
        return CGFACE_OK;
    } catch (...) {
        return CGFACE_ERROR;
    }
}

extern "C" int cgface_detect(const uint8_t *gray, uint32_t width, uint32_t height, uint32_t upsample,
                             double threshold, uint64_t max_pixels, cgface_box *boxes, size_t capacity, size_t *found,
                             char *message, size_t message_size) {
    if (found) *found = 0;
    if (!gray || width == 0 || height == 0) {
        say(message, message_size, "no pixels");
        return CGFACE_ERROR;
    }
    if (upsample > 2) upsample = 2;
    const uint64_t factor = uint64_t(1) << (2 * upsample);
    if (uint64_t(width) * uint64_t(height) * factor > max_pixels) {
        say(message, message_size, "the picture is over the face detector's working size");
        return CGFACE_LIMIT;
    }
    try {
        dlib::array2d<unsigned char> image;
        image.set_size(static_cast<long>(height), static_cast<long>(width));
        for (uint32_t y = 0; y < height; y++) {
            const uint8_t *row = gray + size_t(y) * width;
            for (uint32_t x = 0; x < width; x++) image[y][x] = row[x];
        }
        for (uint32_t i = 0; i < upsample; i++) dlib::pyramid_up(image);
        std::vector<dlib::rect_detection> detections;
        {
            std::lock_guard<std::mutex> hold(detector_lock);
            detector()(image, detections, threshold);
        }
        std::sort(detections.begin(), detections.end(),
                  [](const dlib::rect_detection &a, const dlib::rect_detection &b) {
                      return a.detection_confidence > b.detection_confidence;
                  });
        const double scale = double(uint64_t(1) << upsample);
        size_t written = 0;
        for (const auto &detection : detections) {
            if (written >= capacity) break;
            const dlib::rectangle r = detection.rect;
            long left = std::max(0L, long(r.left() / scale)), top = std::max(0L, long(r.top() / scale));
            long right = std::min(long(width) - 1, long(r.right() / scale));
            long bottom = std::min(long(height) - 1, long(r.bottom() / scale));
            if (right < left || bottom < top) continue;
            boxes[written].left = int32_t(left);
            boxes[written].top = int32_t(top);
            boxes[written].width = int32_t(right - left + 1);
            boxes[written].height = int32_t(bottom - top + 1);
            boxes[written].score = detection.detection_confidence;
            written++;
        }
        if (found) *found = written;
        return CGFACE_OK;
    } catch (const std::bad_alloc &) {
        say(message, message_size, "out of memory in the face detector");
        return CGFACE_LIMIT;
    } catch (const std::exception &error) {
        say(message, message_size, error.what());
        return CGFACE_ERROR;
    } catch (...) {
        say(message, message_size, "the face detector failed");
        return CGFACE_ERROR;
    }
}
