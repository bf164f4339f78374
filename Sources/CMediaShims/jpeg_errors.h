// libjpeg's error and progress handling for every shim that decodes or encodes a JPEG: an error longjmps
// back to the shim (libjpeg's default handler would exit() the process), warnings are counted, and a
// progress monitor stops a progressive JPEG with more scans than the limit. Private to CMediaShims.
#ifndef CGSHIM_JPEG_ERRORS_H
#define CGSHIM_JPEG_ERRORS_H

#include "cgshim.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr base;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    cgshim_image_info *info;
    uint32_t max_scans;
    int limit_hit;
} shim_jpeg_error;

static void shim_jpeg_error_exit(j_common_ptr cinfo) {
    shim_jpeg_error *err = (shim_jpeg_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->info->message);
    longjmp(err->jump, 1);
}

static void shim_jpeg_emit_message(j_common_ptr cinfo, int level) {
    shim_jpeg_error *err = (shim_jpeg_error *)cinfo->err;
    if (level < 0) {  // a warning: corrupt data that libjpeg worked around
        if (err->info->warnings == 0) {
            (*cinfo->err->format_message)(cinfo, err->info->message);
        }
        err->info->warnings += 1;
        cinfo->err->num_warnings += 1;
    }
}

static void shim_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void shim_jpeg_progress(j_common_ptr cinfo) {
    if (!cinfo->is_decompressor) return;
    j_decompress_ptr dinfo = (j_decompress_ptr)cinfo;
    shim_jpeg_error *err = (shim_jpeg_error *)cinfo->err;
    if (err->max_scans > 0 && dinfo->input_scan_number > (int)err->max_scans) {
        snprintf(err->info->message, sizeof(err->info->message),
                 "more than %u progressive scans", err->max_scans);
        err->limit_hit = 1;
        longjmp(err->jump, 1);
    }
}

/// Installs the handlers into `*slot` (a decompressor's or compressor's `err`); `info` collects messages.
static void shim_jpeg_errors_init(struct jpeg_error_mgr **slot, shim_jpeg_error *err, const cgshim_limits *limits,
                                  cgshim_image_info *info) {
    *slot = jpeg_std_error(&err->base);
    err->base.error_exit = shim_jpeg_error_exit;
    err->base.emit_message = shim_jpeg_emit_message;
    err->base.output_message = shim_jpeg_output_message;
    err->info = info;
    err->max_scans = limits ? limits->max_scans : 0;
    err->limit_hit = 0;
    err->progress.progress_monitor = shim_jpeg_progress;
}

#endif
