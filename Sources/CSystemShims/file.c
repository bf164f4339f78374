#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>
#include "cgsys.h"

#if defined(__linux__)
#include <fcntl.h>
#endif

int cgsys_start_writeback(int fd) {
#if defined(__linux__)
    return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd;
    errno = ENOSYS;
    return -1;
#endif
}

#if defined(__linux__)
/* In glibc since 2.27; declared here because the module cache may hide the _GNU_SOURCE declaration. */
extern ssize_t copy_file_range(int, off_t *, int, off_t *, size_t, unsigned int);
#endif

long cgsys_copy_file_range(int in_fd, long long *in_offset, int out_fd, long long *out_offset, unsigned long length) {
#if defined(__linux__)
    off_t in = (off_t)*in_offset, out = (off_t)*out_offset;
    ssize_t copied = copy_file_range(in_fd, &in, out_fd, &out, (size_t)length, 0);
    *in_offset = (long long)in;
    *out_offset = (long long)out;
    return (long)copied;
#else
    (void)in_fd; (void)in_offset; (void)out_fd; (void)out_offset; (void)length;
    errno = ENOSYS;
    return -1;
#endif
}

#if defined(__GLIBC__)
#include <malloc.h>
void cgsys_keep_freed_memory(void) {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
}
#else
void cgsys_keep_freed_memory(void) {}
#endif
