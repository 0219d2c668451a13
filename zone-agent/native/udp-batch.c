/*
 * Batched UDP I/O for the .mesh resolver (Linux): one recvmmsg reads up to BATCH queries, one JS call answers
 * them all, one sendmmsg sends the answers. Node 20's dgram makes a system call and a JS callback per datagram
 * in, and a system call per datagram out; a CPU profile of the resolver under dnsperf put ~85 % of its busy time
 * in dgram's send path (README, Performance, DNS). Built by zone-agent/build.ts; loaded by src/dns/udp-batch.ts,
 * which falls back to dgram when this file is absent.
 *
 * The socket stays dgram's (bound, handed to the extra answering processes over IPC); this reads and writes a
 * duplicate of its descriptor, watched by libuv on the calling thread's loop (no threads here), after the JS side
 * has stopped dgram's own reading. Memory shared with JS, one ArrayBuffer:
 *   [0, BATCH*SLOT)                 queries, one SLOT each (64 KiB: any UDP datagram fits, as with dgram)
 *   [BATCH*SLOT, 2*BATCH*SLOT)      answers, written by JS into the slot of their query
 *   then BATCH sockaddr_storage     each query's sender (the answer's destination)
 *   then BATCH int32                each query's length
 *   then BATCH int32                each answer's length, set by JS (0: no answer)
 *   then one double                 answers the kernel refused (full send buffer, refused address), a running count
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define BATCH 64
#define SLOT 65536
/* The shared memory's layout and the exports: src/dns/udp-batch.ts refuses any other (a stale build). */
#define LAYOUT 1
/* Batches per readiness event before returning to the loop, so timers and IPC are never starved. */
#define ROUNDS 8

typedef struct batcher {
  napi_env env;
  uv_poll_t poll;
  int fd;
  int closed;
  /* Inside the JS call: a close() from it (a promise the batch settled) leaves the JS references to after it. */
  int in_js;
  /* Freed once both are true: libuv is done with the handle, and JS with the object (napi_wrap). */
  int handle_closed, finalized;
  napi_ref callback;
  napi_ref memory;
  napi_async_context context;
  char *in, *out;
  struct sockaddr_storage *addrs;
  int32_t *in_len, *out_len;
  double *send_dropped;
  struct mmsghdr recv_msgs[BATCH], send_msgs[BATCH];
  struct iovec recv_iov[BATCH], send_iov[BATCH];
} batcher_t;

static void release_js(batcher_t *b);

static void send_answers(batcher_t *b, int n) {
  int m = 0;
  for (int i = 0; i < n; i++) {
    int32_t len = b->out_len[i];
    if (len <= 0 || len > SLOT) continue;
    b->send_iov[m].iov_base = b->out + (size_t)i * SLOT;
    b->send_iov[m].iov_len = (size_t)len;
    memset(&b->send_msgs[m].msg_hdr, 0, sizeof(struct msghdr));
    b->send_msgs[m].msg_hdr.msg_name = &b->addrs[i];
    b->send_msgs[m].msg_hdr.msg_namelen = b->recv_msgs[i].msg_hdr.msg_namelen;
    b->send_msgs[m].msg_hdr.msg_iov = &b->send_iov[m];
    b->send_msgs[m].msg_hdr.msg_iovlen = 1;
    m++;
  }
  int at = 0;
  while (at < m) {
    int r = sendmmsg(b->fd, b->send_msgs + at, (unsigned)(m - at), MSG_DONTWAIT);
    if (r > 0) {
      at += r;
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      /* The send buffer is full: UDP may drop, as the kernel would; the clients retry. */
      *b->send_dropped += m - at;
      return;
    } else {
      /* This answer's destination was refused (e.g. EPERM, EINVAL): skip it, send the rest. */
      *b->send_dropped += 1;
      at++;
    }
  }
}

/* Calls the JS batch callback with the count; an exception (the JS side catches its own) is cleared, never fatal. */
static int call_js(batcher_t *b, int n) {
  napi_env env = b->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return 0;
  napi_value cb, recv, arg, result;
  /* napi_make_callback (which runs the microtasks and ticks the batch queued, as a dgram callback would) wants an object as `this`. */
  int ok = napi_get_reference_value(env, b->callback, &cb) == napi_ok && napi_get_global(env, &recv) == napi_ok &&
           napi_create_int32(env, n, &arg) == napi_ok;
  b->in_js = 1;
  napi_status status = ok ? napi_make_callback(env, b->context, recv, cb, 1, &arg, &result) : napi_ok;
  b->in_js = 0;
  if (ok && status != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
    ok = 0;
  }
  napi_close_handle_scope(env, scope);
  return ok;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  batcher_t *b = handle->data;
  (void)events;
  if (b->closed) return;
  if (status < 0) {
    /* libuv stops a poll handle on POLLERR: clear the socket's pending error and watch again, or the resolver
     * would stop reading for good. */
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    uv_poll_start(&b->poll, UV_READABLE, on_readable);
    return;
  }
  for (int round = 0; round < ROUNDS && !b->closed; round++) {
    for (int i = 0; i < BATCH; i++) b->recv_msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    int n = recvmmsg(b->fd, b->recv_msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return; /* EAGAIN: drained; any other error: the next readiness tries again */
    for (int i = 0; i < n; i++) {
      b->in_len[i] = (int32_t)b->recv_msgs[i].msg_len;
      b->out_len[i] = 0;
    }
    int answered = call_js(b, n);
    if (b->closed) {
      /* close() ran inside the JS call; what it left is released here, after it. */
      release_js(b);
      return;
    }
    if (!answered) return;
    send_answers(b, n);
    if (n < BATCH) return;
  }
}

static void on_closed(uv_handle_t *handle) {
  batcher_t *b = handle->data;
  b->handle_closed = 1;
  if (b->finalized) free(b);
}

static void on_finalized(napi_env env, void *data, void *hint) {
  batcher_t *b = data;
  (void)env;
  (void)hint;
  b->finalized = 1;
  if (b->handle_closed) free(b);
}

static batcher_t *unwrap(napi_env env, napi_callback_info info) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, NULL, NULL, &self, NULL) != napi_ok || napi_unwrap(env, self, &data) != napi_ok || !data) {
    napi_throw_error(env, NULL, "udp-batch: called without its batcher");
    return NULL;
  }
  return data;
}

static void release_js(batcher_t *b) {
  napi_delete_reference(b->env, b->callback);
  napi_delete_reference(b->env, b->memory);
  napi_async_destroy(b->env, b->context);
}

static void stop(batcher_t *b) {
  if (b->closed) return;
  b->closed = 1;
  uv_poll_stop(&b->poll);
  if (!b->in_js) release_js(b);
  /* uv_close drops the descriptor from epoll at once; closing it now (not in on_closed, a loop turn later)
   * frees the port by the time dgram's own close calls back, so the port can be bound again right after. */
  uv_close((uv_handle_t *)&b->poll, on_closed);
  close(b->fd);
}

/*
 * The thread's environment is going away (a worker thread ended or was terminated without close()). Node
 * unloads this library before the loop runs the last close callbacks, so none is given (a callback here
 * crashed the thread in a test): the struct is left to the process, a few KiB once per such thread.
 */
static void cleanup_hook(void *arg) {
  batcher_t *b = arg;
  if (b->closed) return;
  b->closed = 1;
  uv_close((uv_handle_t *)&b->poll, NULL);
  close(b->fd);
}

static napi_value throw_error(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

static napi_value batcher_close(napi_env env, napi_callback_info info) {
  batcher_t *b = unwrap(env, info);
  if (b && !b->closed) {
    napi_remove_env_cleanup_hook(env, cleanup_hook, b);
    stop(b);
  }
  return NULL;
}

/* open(fd, onBatch): starts reading a duplicate of fd; returns { memory, close() }. */
static napi_value batcher_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) return throw_error(env, "open(fd, onBatch): two arguments expected");
  int32_t fd;
  napi_valuetype t;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return throw_error(env, "open: fd must be a non-negative integer");
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) return throw_error(env, "open: onBatch must be a function");
  struct uv_loop_s *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return throw_error(env, "open: no event loop");

  int dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dupfd < 0) return throw_error(env, "open: cannot duplicate the socket's descriptor");
  batcher_t *b = calloc(1, sizeof(batcher_t));
  if (!b) {
    close(dupfd);
    return throw_error(env, "open: out of memory");
  }
  b->env = env;
  b->fd = dupfd;

  size_t total = 2 * (size_t)BATCH * SLOT + BATCH * sizeof(struct sockaddr_storage) + 2 * BATCH * sizeof(int32_t) + sizeof(double);
  void *mem;
  napi_value memory, result, fn, name;
  if (napi_create_arraybuffer(env, total, &mem, &memory) != napi_ok) {
    close(dupfd);
    free(b);
    return throw_error(env, "open: cannot allocate the batch buffers");
  }
  b->in = mem;
  b->out = b->in + (size_t)BATCH * SLOT;
  b->addrs = (struct sockaddr_storage *)(b->out + (size_t)BATCH * SLOT);
  b->in_len = (int32_t *)(b->addrs + BATCH);
  b->out_len = b->in_len + BATCH;
  b->send_dropped = (double *)(b->out_len + BATCH);
  for (int i = 0; i < BATCH; i++) {
    b->recv_iov[i].iov_base = b->in + (size_t)i * SLOT;
    b->recv_iov[i].iov_len = SLOT;
    b->recv_msgs[i].msg_hdr.msg_name = &b->addrs[i];
    b->recv_msgs[i].msg_hdr.msg_iov = &b->recv_iov[i];
    b->recv_msgs[i].msg_hdr.msg_iovlen = 1;
  }

  napi_create_string_utf8(env, "ursa:udp-batch", NAPI_AUTO_LENGTH, &name);
  if (uv_poll_init(loop, &b->poll, dupfd) != 0) {
    close(dupfd);
    free(b);
    return throw_error(env, "open: libuv cannot watch the descriptor");
  }
  b->poll.data = b;
  napi_create_reference(env, argv[1], 1, &b->callback);
  napi_create_reference(env, memory, 1, &b->memory);
  napi_async_init(env, NULL, name, &b->context);
  napi_add_env_cleanup_hook(env, cleanup_hook, b);
  uv_poll_start(&b->poll, UV_READABLE, on_readable);

  napi_create_object(env, &result);
  napi_wrap(env, result, b, on_finalized, NULL, NULL);
  napi_set_named_property(env, result, "memory", memory);
  napi_create_function(env, "close", NAPI_AUTO_LENGTH, batcher_close, NULL, &fn);
  napi_set_named_property(env, result, "close", fn);
  return result;
}

static napi_value constant(napi_env env, int32_t v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "open", NAPI_AUTO_LENGTH, batcher_open, NULL, &fn);
  napi_set_named_property(env, exports, "open", fn);
  napi_set_named_property(env, exports, "LAYOUT", constant(env, LAYOUT));
  napi_set_named_property(env, exports, "BATCH", constant(env, BATCH));
  napi_set_named_property(env, exports, "SLOT", constant(env, SLOT));
  napi_set_named_property(env, exports, "ADDR", constant(env, (int32_t)sizeof(struct sockaddr_storage)));
  return exports;
}
