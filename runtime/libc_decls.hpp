// Declarations of everything named in shims/manifest/manifest.def, including the
// _FORTIFY_SOURCE entry points glibc declares only when fortification is on.
#pragma once

#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

extern "C" {
ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen);
ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void* buf, size_t n, size_t buflen, int flags,
                       struct sockaddr* addr, socklen_t* len);
int __poll_chk(struct pollfd* fds, nfds_t nfds, int timeout, size_t fdslen);
int fcntl64(int fd, int cmd, ...);
char* __fgets_chk(char* s, size_t size, int n, FILE* stream);
size_t __fread_chk(void* ptr, size_t ptrlen, size_t size, size_t n, FILE* stream);
[[noreturn]] void __chk_fail();
}
