// See cgvideo.h. libavcodec decodes; this file only maps codecs, keeps to one thread, refuses what the decoder
// papers over (AV_EF_EXPLODE, frames marked corrupt) and converts the held frame to grey with libswscale.
#include "cgvideo.h"

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <string.h>

struct cgvideo_decoder {
    AVCodecContext *context;
    AVPacket *packet;
    AVFrame *frame;
    struct SwsContext *scaler;
    uint64_t max_pixels;
    int held;
};

static void say(char *message, size_t size, const char *what, int code) {
    if (!message || size == 0) return;
    if (code < 0) {
        char reason[128];
        av_strerror(code, reason, sizeof reason);
        snprintf(message, size, "%s: %s", what, reason);
    } else {
        snprintf(message, size, "%s", what);
    }
}

static void quiet(void *unused, int level, const char *format, va_list arguments) {
    (void)unused; (void)level; (void)format; (void)arguments;
}

void cgvideo_prepare(void) {
    av_log_set_level(AV_LOG_QUIET);
    av_log_set_callback(quiet);
}

static enum AVCodecID codec_id(const char *codec) {
    if (!strcmp(codec, "avc1") || !strcmp(codec, "avc3")) return AV_CODEC_ID_H264;
    if (!strcmp(codec, "hvc1") || !strcmp(codec, "hev1")) return AV_CODEC_ID_HEVC;
    if (!strcmp(codec, "av01")) return AV_CODEC_ID_AV1;
    if (!strcmp(codec, "vp09")) return AV_CODEC_ID_VP9;
    if (!strcmp(codec, "vp08")) return AV_CODEC_ID_VP8;
    if (!strcmp(codec, "mp4v")) return AV_CODEC_ID_MPEG4;
    if (!strcmp(codec, "s263") || !strcmp(codec, "h263")) return AV_CODEC_ID_H263;
    if (!strcmp(codec, "jpeg")) return AV_CODEC_ID_MJPEG;
    if (!strcmp(codec, "webp")) return AV_CODEC_ID_WEBP;
    if (!strcmp(codec, "gif")) return AV_CODEC_ID_GIF;
    return AV_CODEC_ID_NONE;
}

int cgvideo_open(const char *codec, const uint8_t *extradata, size_t extradata_size, uint64_t max_pixels,
                 cgvideo_decoder **out, char *message, size_t message_size) {
    *out = NULL;
    enum AVCodecID id = codec_id(codec);
    const AVCodec *decoder = id == AV_CODEC_ID_NONE ? NULL : avcodec_find_decoder(id);
    if (!decoder) {
        say(message, message_size, "no decoder for this codec", 0);
        return CGVIDEO_ERROR;
    }
    cgvideo_decoder *d = av_mallocz(sizeof *d);
    if (!d) { say(message, message_size, "out of memory", 0); return CGVIDEO_LIMIT; }
    d->max_pixels = max_pixels;
    d->context = avcodec_alloc_context3(decoder);
    d->packet = av_packet_alloc();
    d->frame = av_frame_alloc();
    if (!d->context || !d->packet || !d->frame) {
        cgvideo_close(d);
        say(message, message_size, "out of memory", 0);
        return CGVIDEO_LIMIT;
    }
    // One thread: the worker's seccomp filter allows no new thread, and one core is what the cost is measured on.
    d->context->thread_count = 1;
    d->context->thread_type = 0;
    d->context->err_recognition |= AV_EF_EXPLODE;
    d->context->max_pixels = (int64_t)(max_pixels > INT64_MAX ? INT64_MAX : max_pixels);
    if (extradata_size > 0) {
        if (extradata_size > (1u << 24)) {
            cgvideo_close(d);
            say(message, message_size, "codec configuration over 16 MiB", 0);
            return CGVIDEO_LIMIT;
        }
        d->context->extradata = av_mallocz(extradata_size + AV_INPUT_BUFFER_PADDING_SIZE);
        if (!d->context->extradata) { cgvideo_close(d); say(message, message_size, "out of memory", 0); return CGVIDEO_LIMIT; }
        memcpy(d->context->extradata, extradata, extradata_size);
        d->context->extradata_size = (int)extradata_size;
    }
    int status = avcodec_open2(d->context, decoder, NULL);
    if (status < 0) {
        cgvideo_close(d);
        say(message, message_size, "the decoder refused the codec configuration", status);
        return CGVIDEO_ERROR;
    }
    *out = d;
    return CGVIDEO_OK;
}

int cgvideo_send(cgvideo_decoder *d, const uint8_t *data, size_t size, int64_t pts, char *message,
                 size_t message_size) {
    int status;
    if (data) {
        if (size > INT32_MAX - AV_INPUT_BUFFER_PADDING_SIZE) { say(message, message_size, "sample too large", 0); return CGVIDEO_LIMIT; }
        av_packet_unref(d->packet);
        status = av_new_packet(d->packet, (int)size);
        if (status < 0) { say(message, message_size, "out of memory", status); return CGVIDEO_LIMIT; }
        memcpy(d->packet->data, data, size);
        d->packet->pts = pts;
        d->packet->dts = AV_NOPTS_VALUE;
        status = avcodec_send_packet(d->context, d->packet);
        av_packet_unref(d->packet);
    } else {
        status = avcodec_send_packet(d->context, NULL);
        if (status == AVERROR_EOF) status = 0;
    }
    if (status < 0) {
        say(message, message_size, "a sample could not be decoded", status);
        return status == AVERROR(ENOMEM) ? CGVIDEO_LIMIT : CGVIDEO_ERROR;
    }
    return CGVIDEO_OK;
}

int cgvideo_receive(cgvideo_decoder *d, int64_t *pts, uint32_t *width, uint32_t *height, char *message,
                    size_t message_size) {
    av_frame_unref(d->frame);
    d->held = 0;
    int status = avcodec_receive_frame(d->context, d->frame);
    if (status == AVERROR(EAGAIN) || status == AVERROR_EOF) return CGVIDEO_AGAIN;
    if (status < 0) {
        say(message, message_size, "a frame could not be decoded", status);
        return status == AVERROR(ENOMEM) ? CGVIDEO_LIMIT : CGVIDEO_ERROR;
    }
    if (d->frame->decode_error_flags || (d->frame->flags & AV_FRAME_FLAG_CORRUPT)) {
        say(message, message_size, "a frame was decoded with errors (damaged or missing data)", 0);
        return CGVIDEO_ERROR;
    }
    if (d->frame->width <= 0 || d->frame->height <= 0 ||
        (uint64_t)d->frame->width * (uint64_t)d->frame->height > d->max_pixels) {
        say(message, message_size, "a frame is larger than the pixel limit", 0);
        return CGVIDEO_LIMIT;
    }
    d->held = 1;
    *pts = d->frame->pts != AV_NOPTS_VALUE ? d->frame->pts : d->frame->best_effort_timestamp;
    *width = (uint32_t)d->frame->width;
    *height = (uint32_t)d->frame->height;
    return CGVIDEO_OK;
}

int cgvideo_gray(cgvideo_decoder *d, uint32_t width, uint32_t height, uint8_t *gray, char *message,
                 size_t message_size) {
    if (!d->held || width == 0 || height == 0 || width > (uint32_t)d->frame->width ||
        height > (uint32_t)d->frame->height) {
        say(message, message_size, "no frame at that size", 0);
        return CGVIDEO_ERROR;
    }
    d->scaler = sws_getCachedContext(d->scaler, d->frame->width, d->frame->height, d->frame->format, (int)width,
                                     (int)height, AV_PIX_FMT_GRAY8, SWS_AREA, NULL, NULL, NULL);
    if (!d->scaler) {
        say(message, message_size, "the frame's pixel format cannot be converted to grey", 0);
        return CGVIDEO_ERROR;
    }
    // An aligned buffer for libswscale, copied row by row into the caller's.
    int stride = (int)((width + 63) & ~63u);
    uint8_t *rows = av_malloc((size_t)stride * height);
    if (!rows) { say(message, message_size, "out of memory", 0); return CGVIDEO_LIMIT; }
    uint8_t *planes[4] = {rows, NULL, NULL, NULL};
    int strides[4] = {stride, 0, 0, 0};
    int done = sws_scale(d->scaler, (const uint8_t *const *)d->frame->data, d->frame->linesize, 0, d->frame->height,
                         planes, strides);
    if (done != (int)height) {
        av_free(rows);
        say(message, message_size, "the frame could not be converted to grey", done < 0 ? done : 0);
        return CGVIDEO_ERROR;
    }
    for (uint32_t y = 0; y < height; y++) memcpy(gray + (size_t)y * width, rows + (size_t)y * stride, width);
    av_free(rows);
    return CGVIDEO_OK;
}

void cgvideo_close(cgvideo_decoder *d) {
    if (!d) return;
    sws_freeContext(d->scaler);
    av_frame_free(&d->frame);
    av_packet_free(&d->packet);
    avcodec_free_context(&d->context);
    av_free(d);
}
