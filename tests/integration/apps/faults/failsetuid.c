/* LD_PRELOAD shim: setuid()/setresuid()/setreuid() to the uid in FAILSETUID_UID fail with
 * EAGAIN (as a failing RLIMIT_NPROC check would); other uids go through to libc, so Apache's
 * own children still switch to their user. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

static int target(uid_t uid) {
    const char *text = getenv("FAILSETUID_UID");
    return text != NULL && uid != (uid_t)-1 && (uid_t)strtoul(text, NULL, 10) == uid;
}

int setuid(uid_t uid) {
    if (target(uid)) {
        errno = EAGAIN;
        return -1;
    }
    int (*real)(uid_t) = (int (*)(uid_t))dlsym(RTLD_NEXT, "setuid");
    return real(uid);
}

int setresuid(uid_t r, uid_t e, uid_t s) {
    if (target(r) || target(e) || target(s)) {
        errno = EAGAIN;
        return -1;
    }
    int (*real)(uid_t, uid_t, uid_t) = (int (*)(uid_t, uid_t, uid_t))dlsym(RTLD_NEXT, "setresuid");
    return real(r, e, s);
}

int setreuid(uid_t r, uid_t e) {
    if (target(r) || target(e)) {
        errno = EAGAIN;
        return -1;
    }
    int (*real)(uid_t, uid_t) = (int (*)(uid_t, uid_t))dlsym(RTLD_NEXT, "setreuid");
    return real(r, e);
}
