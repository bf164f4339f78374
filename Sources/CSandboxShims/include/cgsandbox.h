#ifndef CGSANDBOX_H
#define CGSANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// The sandbox's system calls, for Sources/Sandbox: what Swift's Glibc module does not expose cleanly (prctl,
// setrlimit/prlimit with their enum-typed resources, SCM_RIGHTS control messages, posix_spawn file actions
// that close every other descriptor) and the seccomp filter itself. Every function returns 0 (or a count)
// on success and a negative errno on failure; none sets errno for the caller to read.

/// The limits a worker puts on itself before it reads any request. A value of 0 leaves that limit alone.
typedef struct {
    uint64_t address_space_bytes;  // RLIMIT_AS
    uint64_t open_files;           // RLIMIT_NOFILE
    uint64_t file_size_bytes;      // RLIMIT_FSIZE
    uint64_t cpu_seconds;          // RLIMIT_CPU soft limit (the parent raises it per request with prlimit)
} cgsandbox_limits;

/// setrlimit for each limit given, and RLIMIT_CORE 0 (a crashed worker never dumps media bytes to disk).
int cgsandbox_apply_limits(const cgsandbox_limits *limits);

/// prctl(PR_SET_NO_NEW_PRIVS, 1): no exec can ever gain privileges again (required for an unprivileged seccomp).
int cgsandbox_no_new_privs(void);

/// Loads the worker's seccomp allowlist (libseccomp; default action: kill the process). `socket_fd` is the
/// only descriptor sendmsg/recvmsg may use. Returns -EINVAL/-ENOSYS/-EOPNOTSUPP where the kernel has no
/// seccomp filters: the caller decides to run unsandboxed and says so.
int cgsandbox_install_filter(int socket_fd);

/// Sends `length` bytes (one sendmsg, MSG_NOSIGNAL) with up to 64 descriptors as SCM_RIGHTS. Returns the
/// number of bytes sent (possibly fewer than `length`: the caller sends the rest without descriptors).
ssize_t cgsandbox_send(int socket_fd, const void *bytes, size_t length, const int *fds, int fd_count, int flags);

/// Receives up to `capacity` bytes (one recvmsg) and any SCM_RIGHTS descriptors into `fds` (room for
/// `fd_capacity`), their count in `*fd_count`. Descriptors that did not fit are closed and -EMSGSIZE returned.
ssize_t cgsandbox_receive(int socket_fd, void *bytes, size_t capacity, int *fds, int fd_capacity, int *fd_count,
                          int flags);

/// posix_spawn of `path` with `argv`/`envp`: `socket_fd` becomes descriptor 3, /dev/null stdin and stdout,
/// `stderr_fd` descriptor 2, every other descriptor closed (closefrom 4). The new process id in `*pid`.
int cgsandbox_spawn(const char *path, char *const argv[], char *const envp[], int socket_fd, int stderr_fd,
                    pid_t *pid);

/// pipe2(O_CLOEXEC | O_NONBLOCK): the worker's stderr, which never blocks the worker nor the parent.
int cgsandbox_pipe(int fds[2]);

/// CPU seconds `pid` has used so far (clock_getcpuclockid); negative errno on failure.
double cgsandbox_cpu_seconds(pid_t pid);

/// prlimit(pid, RLIMIT_CPU): soft limit `soft_seconds`, hard limit unchanged. The parent calls it before each
/// request so that the CPU budget is per request although the worker lives long.
int cgsandbox_set_cpu_limit(pid_t pid, uint64_t soft_seconds);

/// Test hook: raise(SIGSEGV) in this process.
void cgsandbox_test_crash(void);

#endif
