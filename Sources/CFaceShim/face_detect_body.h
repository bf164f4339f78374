// The detection itself, compiled twice into this target: face_shim.cpp for any x86-64 (or another architecture)
// and face_shim_avx2.cpp for processors with AVX2 and FMA, where dlib's templates use 8-wide float vectors. Each
// includes this file after dlib's headers with CGFACE_VARIANT(name) naming its own C entry points; the AVX2 one
// renames dlib's namespace, so that no template instance is shared between the two (the linker would keep one copy
// of each, perhaps the AVX2 one, for both). Private to CFaceShim.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <mutex>
#include <new>
#include <sstream>
#include <string>
#include <vector>

namespace {

// dlib's object_detector keeps scratch space between calls: one caller at a time.
std::mutex variant_lock;
dlib::frontal_face_detector *variant_detector = nullptr;

void variant_say(char *message, size_t size, const char *what) {
    if (message && size > 0) std::snprintf(message, size, "%s", what);
}

}  // namespace

// Loads this variant's copy of the detector from dlib's own serialization of it (what cgface_prepare makes once
// from the model compiled into libdlib).
extern "C" int CGFACE_VARIANT(load)(const char *serialized, size_t size) {
    try {
        std::lock_guard<std::mutex> hold(variant_lock);
        if (variant_detector) return CGFACE_OK;
        std::istringstream in(std::string(serialized, size));
        auto *loaded = new dlib::frontal_face_detector();
        dlib::deserialize(*loaded, in);
        variant_detector = loaded;
        return CGFACE_OK;
    } catch (...) {
        return CGFACE_ERROR;
    }
}

extern "C" int CGFACE_VARIANT(detect)(const uint8_t *gray, uint32_t width, uint32_t height, uint32_t upsample,
                                      double threshold, uint64_t max_pixels, cgface_box *boxes, size_t capacity,
                                      size_t *found, char *message, size_t message_size) {
    if (found) *found = 0;
    if (!gray || width == 0 || height == 0) {
        variant_say(message, message_size, "no pixels");
        return CGFACE_ERROR;
    }
    if (upsample > 2) upsample = 2;
    const uint64_t factor = uint64_t(1) << (2 * upsample);
    if (uint64_t(width) * uint64_t(height) * factor > max_pixels) {
        variant_say(message, message_size, "the picture is over the face detector's working size");
        return CGFACE_LIMIT;
    }
    try {
        dlib::array2d<unsigned char> image;
        image.set_size(static_cast<long>(height), static_cast<long>(width));
        for (uint32_t y = 0; y < height; y++) {
            const uint8_t *row = gray + size_t(y) * width;
            std::copy(row, row + width, &image[y][0]);
        }
        for (uint32_t i = 0; i < upsample; i++) dlib::pyramid_up(image);
        std::vector<dlib::rect_detection> detections;
        {
            std::lock_guard<std::mutex> hold(variant_lock);
            if (!variant_detector) {
                variant_say(message, message_size, "the face detector was not loaded");
                return CGFACE_ERROR;
            }
            (*variant_detector)(image, detections, threshold);
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
        variant_say(message, message_size, "out of memory in the face detector");
        return CGFACE_LIMIT;
    } catch (const std::exception &error) {
        variant_say(message, message_size, error.what());
        return CGFACE_ERROR;
    } catch (...) {
        variant_say(message, message_size, "the face detector failed");
        return CGFACE_ERROR;
    }
}
