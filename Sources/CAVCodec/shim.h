// libavcodec (decoders only), libavutil and libswscale, for counting the faces in video frames, WebP and GIF
// (Sources/CVideoShim): the pipeline parses containers itself and hands the decoder one compressed sample at a time.
#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
