#ifndef CGSYS_H
#define CGSYS_H

/// renameat2(RENAME_NOREPLACE): renames only when nothing exists at the new name. Returns 0, or -1 with errno
/// set (EEXIST when something is there; EINVAL or ENOSYS where the filesystem or kernel cannot do it).
int cgsys_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

#endif
