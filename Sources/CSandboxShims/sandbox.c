#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "cgsandbox.h"

static int set_limit(int resource, uint64_t value) {
    struct rlimit limit = {.rlim_cur = (rlim_t)value, .rlim_max = (rlim_t)value};
    return setrlimit(resource, &limit) == 0 ? 0 : -errno;
}

int cgsandbox_apply_limits(const cgsandbox_limits *limits) {
    int status = set_limit(RLIMIT_CORE, 0);
    if (status == 0 && limits->address_space_bytes > 0) status = set_limit(RLIMIT_AS, limits->address_space_bytes);
    if (status == 0 && limits->open_files > 0) status = set_limit(RLIMIT_NOFILE, limits->open_files);
    if (status == 0 && limits->file_size_bytes > 0) status = set_limit(RLIMIT_FSIZE, limits->file_size_bytes);
    if (status == 0 && limits->cpu_seconds > 0) {
        // Soft limit only: the parent moves it forward before each request; the hard limit stays where it is.
        struct rlimit cpu;
        if (getrlimit(RLIMIT_CPU, &cpu) != 0) return -errno;
        cpu.rlim_cur = (rlim_t)limits->cpu_seconds;
        if (cpu.rlim_max != RLIM_INFINITY && cpu.rlim_cur > cpu.rlim_max) cpu.rlim_cur = cpu.rlim_max;
        if (setrlimit(RLIMIT_CPU, &cpu) != 0) return -errno;
    }
    return status;
}

int cgsandbox_no_new_privs(void) { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : -errno; }

#define MAX_FDS 64

ssize_t cgsandbox_send(int socket_fd, const void *bytes, size_t length, const int *fds, int fd_count, int flags) {
    if (fd_count < 0 || fd_count > MAX_FDS) return -EINVAL;
    struct iovec vector = {.iov_base = (void *)bytes, .iov_len = length};
    union {
        char buffer[CMSG_SPACE(sizeof(int) * MAX_FDS)];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = {.msg_iov = &vector, .msg_iovlen = 1};
    if (fd_count > 0) {
        message.msg_control = control.buffer;
        message.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)fd_count);
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)fd_count);
        memcpy(CMSG_DATA(header), fds, sizeof(int) * (size_t)fd_count);
    }
    ssize_t sent;
    do {
        sent = sendmsg(socket_fd, &message, MSG_NOSIGNAL | flags);
    } while (sent < 0 && errno == EINTR);
    return sent < 0 ? -errno : sent;
}

ssize_t cgsandbox_receive(int socket_fd, void *bytes, size_t capacity, int *fds, int fd_capacity, int *fd_count,
                          int flags) {
    *fd_count = 0;
    struct iovec vector = {.iov_base = bytes, .iov_len = capacity};
    union {
        char buffer[CMSG_SPACE(sizeof(int) * MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct msghdr message = {.msg_iov = &vector, .msg_iovlen = 1, .msg_control = control.buffer,
                             .msg_controllen = sizeof control.buffer};
    ssize_t received;
    do {
        received = recvmsg(socket_fd, &message, MSG_CMSG_CLOEXEC | flags);
    } while (received < 0 && errno == EINTR);
    if (received < 0) return -errno;
    int overflow = (message.msg_flags & MSG_CTRUNC) != 0;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header != NULL; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int *passed = (int *)CMSG_DATA(header);
        for (size_t index = 0; index < count; index++) {
            if (*fd_count < fd_capacity) {
                fds[(*fd_count)++] = passed[index];
            } else {
                close(passed[index]);
                overflow = 1;
            }
        }
    }
    return overflow ? -EMSGSIZE : received;
}

int cgsandbox_spawn(const char *path, char *const argv[], char *const envp[], int socket_fd, int stderr_fd,
                    pid_t *pid) {
    // Copies above 9 first, so that the dup2 onto 2 and 3 below cannot overwrite one another.
    int socket_copy = fcntl(socket_fd, F_DUPFD_CLOEXEC, 10);
    if (socket_copy < 0) return -errno;
    int stderr_copy = fcntl(stderr_fd, F_DUPFD_CLOEXEC, 10);
    if (stderr_copy < 0) {
        int error = errno;
        close(socket_copy);
        return -error;
    }
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
    int status = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (status == 0) status = posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    if (status == 0) status = posix_spawn_file_actions_adddup2(&actions, stderr_copy, 2);
    if (status == 0) status = posix_spawn_file_actions_adddup2(&actions, socket_copy, 3);
    // Nothing else crosses into the worker, whatever other threads of the parent have open without CLOEXEC.
    if (status == 0) status = posix_spawn_file_actions_addclosefrom_np(&actions, 4);
    // Default signal dispositions and an empty mask, whatever the parent ignores or blocks; its own process
    // group, so that a terminal's Ctrl-C reaches the parent, which then ends its workers.
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    if (status == 0) status = posix_spawnattr_setsigdefault(&attributes, &all);
    if (status == 0) status = posix_spawnattr_setsigmask(&attributes, &none);
    if (status == 0) status = posix_spawnattr_setpgroup(&attributes, 0);
    if (status == 0)
        status = posix_spawnattr_setflags(&attributes,
                                          POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
    if (status == 0) status = posix_spawn(pid, path, &actions, &attributes, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    close(socket_copy);
    close(stderr_copy);
    return -status;
}

int cgsandbox_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0 ? 0 : -errno; }

double cgsandbox_cpu_seconds(pid_t pid) {
    clockid_t clock;
    int status = clock_getcpuclockid(pid, &clock);
    if (status != 0) return -(double)status;
    struct timespec used;
    if (clock_gettime(clock, &used) != 0) return -(double)errno;
    return (double)used.tv_sec + (double)used.tv_nsec / 1e9;
}

int cgsandbox_set_cpu_limit(pid_t pid, uint64_t soft_seconds) {
    struct rlimit current;
    if (prlimit(pid, RLIMIT_CPU, NULL, &current) != 0) return -errno;
    current.rlim_cur = (rlim_t)soft_seconds;
    if (current.rlim_max != RLIM_INFINITY && current.rlim_cur > current.rlim_max) current.rlim_cur = current.rlim_max;
    return prlimit(pid, RLIMIT_CPU, &current, NULL) == 0 ? 0 : -errno;
}

void cgsandbox_test_crash(void) { raise(SIGSEGV); }
