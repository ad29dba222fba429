"""Reports what a WSGIDaemonProcess option changed in the process serving the request, as JSON.

PATH_INFO picks the probe:
  /pid          os.getpid() as text
  /limits       pid, RLIMIT_DATA, RLIMIT_AS, RLIMIT_CPU (soft, hard), the nice value and
                sys.getswitchinterval()
  /alloc?N      tries bytearray(N): "ok" or "MemoryError"
  /stack        this request thread's stack size (pthread_getattr_np on pthread_self)
  /spin?S       burns S seconds of this thread's CPU time (at most 10 s of wall time)
  /sleep?S      sleeps S seconds (at most 10), then reports the pid
  /buffers      SO_SNDBUF and SO_RCVBUF of the process's connected UNIX stream sockets
                (the connection this request came on among them)
"""

import ctypes
import json
import os
import resource
import socket
import sys
import time

_libc = ctypes.CDLL(None, use_errno=True)
_libc.pthread_self.restype = ctypes.c_ulong
_libc.pthread_getattr_np.argtypes = [ctypes.c_ulong, ctypes.c_void_p]
_libc.pthread_attr_getstacksize.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]
_libc.pthread_attr_destroy.argtypes = [ctypes.c_void_p]


def thread_stack_size():
    attr = ctypes.create_string_buffer(128)  # >= sizeof(pthread_attr_t) (56 on x86-64)
    rc = _libc.pthread_getattr_np(_libc.pthread_self(), attr)
    if rc != 0:
        raise OSError(rc, os.strerror(rc))
    size = ctypes.c_size_t()
    try:
        rc = _libc.pthread_attr_getstacksize(attr, ctypes.byref(size))
        if rc != 0:
            raise OSError(rc, os.strerror(rc))
    finally:
        _libc.pthread_attr_destroy(attr)
    return size.value


def probe(path, query):
    if path == "/pid":
        return str(os.getpid())
    if path == "/limits":
        return {
            "pid": os.getpid(),
            "data": resource.getrlimit(resource.RLIMIT_DATA),
            "as": resource.getrlimit(resource.RLIMIT_AS),
            "cpu": resource.getrlimit(resource.RLIMIT_CPU),
            "priority": os.getpriority(os.PRIO_PROCESS, 0),
            "switch_interval": sys.getswitchinterval(),
        }
    if path == "/alloc":
        try:
            block = bytearray(int(query))
        except MemoryError:
            return "MemoryError"
        del block
        return "ok"
    if path == "/stack":
        return {"pid": os.getpid(), "stack_size": thread_stack_size()}
    if path == "/spin":
        wanted = float(query or "4")
        cpu_start = time.thread_time()
        wall_end = time.monotonic() + 10
        while time.thread_time() - cpu_start < wanted and time.monotonic() < wall_end:
            sum(range(10000))
        return {"pid": os.getpid(), "cpu": time.thread_time() - cpu_start}
    if path == "/buffers":
        found = []
        for name in os.listdir("/proc/self/fd"):
            try:
                sock = socket.socket(fileno=os.dup(int(name)))
            except OSError:
                continue  # not a socket
            with sock:
                if (sock.family == socket.AF_UNIX and sock.type == socket.SOCK_STREAM
                        and not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)):
                    found.append([sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
                                  sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)])
        return found
    if path == "/sleep":
        time.sleep(min(float(query or "1"), 10))
        return str(os.getpid())
    return None


def application(environ, start_response):
    result = probe(environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""))
    if result is None:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"unknown probe"]
    if isinstance(result, str):
        body, kind = result.encode(), "text/plain"
    else:
        body, kind = json.dumps(result).encode(), "application/json"
    start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
    return [body]
