// libheif, for counting the faces in HEIC, HEIF and AVIF pictures (Sources/CVideoShim/heif_shim.c).
#include <libheif/heif.h>
