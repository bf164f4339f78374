// The worker's seccomp allowlist. Everything not listed here kills the whole worker process (SIGSYS): opening,
// creating, renaming or deleting files, exec, fork, sockets, ptrace, signals to other processes, mounts, ioctls.
// The list was found by running a worker under `strace -f` through the test hooks (echo, copy, thread,
// allocate) and the Swift runtime's paths (malloc, futex-based locks, Hasher seeding, fatalError/abort).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "cgsandbox.h"

#define ALLOW(name, ...)                                                                              \
    do {                                                                                              \
        if (status == 0)                                                                              \
            status = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(name), __VA_ARGS__);              \
    } while (0)

int cgsandbox_install_filter(int socket_fd) {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (ctx == NULL) return -ENOMEM;
    int status = 0;
    const scmp_datum_t self = (scmp_datum_t)getpid();

    // Reading the descriptors a request passed (the media file), and their size.
    ALLOW(read, 0);
    ALLOW(readv, 0);
    ALLOW(pread64, 0);
    ALLOW(preadv, 0);
    ALLOW(lseek, 0);
    ALLOW(fstat, 0);
    // glibc >= 2.33 implements fstat() as fstatat(fd, "", buf, AT_EMPTY_PATH). Only calls with AT_EMPTY_PATH
    // pass; seccomp cannot read the path string, so a hostile caller could still stat (never open) a path by
    // name with that flag set: metadata of a file at most, never its bytes.
    ALLOW(newfstatat, 1, SCMP_A3_32(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
    // Writing the output descriptor a request passed (the sanitized file) and stderr (the Swift runtime's
    // fatal-error message, which the parent keeps as a diagnostic).
    ALLOW(write, 0);
    ALLOW(writev, 0);
    ALLOW(pwrite64, 0);
    ALLOW(pwritev, 0);
    ALLOW(ftruncate, 0);
    ALLOW(fsync, 0);
    ALLOW(fdatasync, 0);
    // The kernel copy of a video into the output descriptor (ISO-BMFF media is copied, then patched in place):
    // between two descriptors the request passed, no path involved.
    ALLOW(copy_file_range, 0);
    // Closing the descriptors of a finished request.
    ALLOW(close, 0);
    // Memory: malloc, Swift's allocator, libjpeg/libpng buffers. Never executable: no new code at run time. And
    // anonymous only: a handed file mapped shared and writable would let a worker change a verified copy after
    // it has closed the descriptor (the pool kills a worker that keeps a descriptor; this closes the other way).
    ALLOW(brk, 0);
    ALLOW(mmap, 2, SCMP_A2_32(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0),
          SCMP_A3_32(SCMP_CMP_MASKED_EQ, MAP_ANONYMOUS, MAP_ANONYMOUS));
    ALLOW(mprotect, 1, SCMP_A2_32(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    ALLOW(munmap, 0);
    ALLOW(mremap, 0);
    ALLOW(madvise, 0);
    // Locks (swift_once, Mutex, pthread), yielding in spin locks.
    ALLOW(futex, 0);
    ALLOW(sched_yield, 0);
    // Time (normally the vDSO; the system call where the vDSO is missing) and randomness (Hasher seeds,
    // SystemRandomNumberGenerator).
    ALLOW(clock_gettime, 0);
    ALLOW(clock_getres, 0);
    ALLOW(gettimeofday, 0);
    ALLOW(getrandom, 0);
    // Signals: returning from a handler, masks (abort() blocks signals), the alternate stack, restarting an
    // interrupted call; and signals to this process only (abort() and raise() use tgkill on themselves), so a
    // Swift runtime trap or an abort still shows as SIGTRAP/SIGILL/SIGABRT, not as a forbidden call.
    ALLOW(rt_sigreturn, 0);
    ALLOW(rt_sigprocmask, 0);
    ALLOW(rt_sigaction, 0);
    ALLOW(sigaltstack, 0);
    ALLOW(restart_syscall, 0);
    ALLOW(getpid, 0);
    ALLOW(gettid, 0);
    ALLOW(tgkill, 1, SCMP_A0_32(SCMP_CMP_EQ, self));
    ALLOW(kill, 1, SCMP_A0_32(SCMP_CMP_EQ, self));
    // Threads, in case a parser or library uses them: clone only with CLONE_THREAD (a thread shares this
    // filter and these limits; a new process, i.e. fork, is killed). clone3 passes its flags in memory, which
    // seccomp cannot read: it fails with ENOSYS, and glibc falls back to clone. New threads register rseq
    // and their robust futex list.
    ALLOW(clone, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    if (status == 0) status = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    ALLOW(rseq, 0);
    ALLOW(set_robust_list, 0);
    // Foundation's Thread reads and sets its thread's name; no other prctl (no_new_privs cannot be undone).
    ALLOW(prctl, 1, SCMP_A0_32(SCMP_CMP_EQ, PR_GET_NAME));
    ALLOW(prctl, 1, SCMP_A0_32(SCMP_CMP_EQ, PR_SET_NAME));
    // How many processors a thread may run on (AV1 pictures: libheif starts libdav1d with its thread count on
    // "automatic", which reads the affinity mask to size its pool): reads a CPU mask, changes nothing. Any pid:
    // the request may be served on a thread whose id is not the worker's pid.
    ALLOW(sched_getaffinity, 0);
    // The request socket, and no other.
    ALLOW(recvmsg, 1, SCMP_A0_32(SCMP_CMP_EQ, (scmp_datum_t)socket_fd));
    ALLOW(sendmsg, 1, SCMP_A0_32(SCMP_CMP_EQ, (scmp_datum_t)socket_fd));
    // The end.
    ALLOW(exit, 0);
    ALLOW(exit_group, 0);

    if (status == 0) status = seccomp_load(ctx);
    seccomp_release(ctx);
    return status < 0 ? status : (status > 0 ? -status : 0);
}
