#ifndef CGSYS_H
#define CGSYS_H

/// renameat2(RENAME_NOREPLACE): renames only when nothing exists at the new name. Returns 0, or -1 with errno
/// set (EEXIST when something is there; EINVAL or ENOSYS where the filesystem or kernel cannot do it).
int cgsys_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

/// openat(O_PATH | O_NOFOLLOW | O_CLOEXEC): a descriptor on the entry itself, whatever it is (a link, a FIFO, a
/// device), never followed and never opened for reading; for fstat. Returns it, or -1 with errno.
int cgsys_open_entry(int dirfd, const char *name);

/// Tells glibc to keep freed large blocks in the heap instead of returning them to the kernel, so a
/// batch that allocates one whole-file buffer per file does not pay fresh page faults for every file.
void cgsys_keep_freed_memory(void);

/// copy_file_range(2) (a GNU extension the Swift Glibc module does not show); -1 with errno when unavailable.
long cgsys_copy_file_range(int in_fd, long long *in_offset, int out_fd, long long *out_offset, unsigned long length);

/// sync_file_range(SYNC_FILE_RANGE_WRITE) over the whole file: starts writing its dirty pages to the disk and
/// returns without waiting for them (a head start for a later fsync, never a substitute). 0, or -1 with errno.
int cgsys_start_writeback(int fd);

/// statfs(2)'s f_type (the file system's magic number) for `path`; -1 with errno when it cannot be had.
long long cgsys_fs_type(const char *path);

#endif
