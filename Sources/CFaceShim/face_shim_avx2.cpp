// The face detector for x86-64 processors with AVX2 and FMA (face_shim.cpp chooses it at run time): the same code
// as the generic one (face_detect_body.h), with dlib's templates compiled for AVX2, where dlib uses 8-wide float
// vectors in its HOG feature extraction and filters (the largest part of the detector's time). Debian builds for
// any x86-64, so the target is set for this file's dlib code alone (clang's attribute pragma), never with -mavx2 for
// the target: the C++ standard library's templates and this file's start-up code stay generic, and dlib's namespace
// is renamed here so that the generic detector can never be linked to an AVX2 copy of one of its templates.
#if defined(__x86_64__) && defined(__clang__)

#include "cgface.h"

#undef DEBUG
#undef _DEBUG
#undef ENABLE_ASSERTS
#ifndef DLIB_DISABLE_ASSERTS
#define DLIB_DISABLE_ASSERTS
#endif

// Every standard header dlib uses, first and outside the AVX2 region (their templates and inline functions are then
// compiled for any x86-64, exactly as in face_shim.cpp).
#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <istream>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>
#include <immintrin.h>

// dlib chooses its vector code from these (simd_check.h reads __AVX__ and the like, which the pragma does not set).
#define DLIB_HAVE_SSE2
#define DLIB_HAVE_SSE3
#define DLIB_HAVE_SSE41
#define DLIB_HAVE_AVX
#define DLIB_HAVE_AVX2
#define dlib cgface_avx2_dlib
#define CGFACE_VARIANT(name) cgface_avx2_##name

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms/interpolation.h>
#include "face_detect_body.h"
#pragma clang attribute pop

#endif
