// AF_PACKET socket for ARP, polled on the main libuv loop. Moves raw Ethernet
// frames only: encoding and decoding live in TypeScript (src/net/).
//
// Lifetime: an open handle is pinned by a strong reference, like Node's own
// sockets, so a responder nobody holds on to keeps answering instead of going
// silent at some later GC. close() unpins it and the napi_wrap finalizer frees
// it; if the environment (a worker, the process) ends without close(), an async
// cleanup hook and the finalizer close the poll handle and the fd.

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#define _GNU_SOURCE

#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <linux/filter.h>
#include <errno.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define ETH_MIN_FRAME 60 // without FCS
#define RECV_BUF_LEN 65536
// uv_poll is level-triggered: bounding one wake-up keeps an ARP flood from
// starving timers and other I/O; the rest is read on the next loop turn.
#define MAX_FRAMES_PER_WAKEUP 256

static const napi_type_tag kHandleTag = {0x6261726c62706b74ULL, 0x736f636b65740001ULL};

// Separate from psock_t so the close callback never touches a psock_t that the
// finalizer may already have freed.
typedef struct {
  uv_poll_t poll; // poll.data: the psock_t, NULL once closing
  napi_async_cleanup_hook_handle hook;
} poll_box_t;

typedef struct {
  napi_env env;
  int fd; // -1 once closed
  int ifindex;
  char ifname[IFNAMSIZ];
  bool kernel_filters_outgoing;
  poll_box_t *box;
  napi_ref self; // strong while open
  napi_ref on_frame;
  napi_ref on_error;
  napi_async_context async;
  uint8_t *buf;
} psock_t;

#define NAPI_OK(call)                                                                              \
  do {                                                                                             \
    if ((call) != napi_ok) return NULL;                                                            \
  } while (0)

// ---- errors -----------------------------------------------------------------

static napi_value errno_error(napi_env env, int err, const char *syscall, const char *fmt, ...) {
  char what[256];
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  const char *name = uv_err_name(uv_translate_sys_error(err));
  const char *hint = (err == EPERM || err == EACCES) ? "; CAP_NET_RAW is required" : "";
  snprintf(msg, sizeof msg, "%s: %s (%s)%s", what, strerror(err), name, hint);

  napi_value code, message, error, sc;
  NAPI_OK(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code));
  NAPI_OK(napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message));
  NAPI_OK(napi_create_error(env, code, message, &error)); // also sets error.code
  NAPI_OK(napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc));
  NAPI_OK(napi_set_named_property(env, error, "syscall", sc));
  return error;
}

static void throw_value(napi_env env, napi_value error) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending && error != NULL) napi_throw(env, error);
}

// ---- closing ----------------------------------------------------------------

static void on_box_closed(uv_handle_t *h) {
  poll_box_t *box = (poll_box_t *)h;
  // Unregisters the hook, or tells a running teardown that we are done.
  napi_remove_async_cleanup_hook(box->hook);
  free(box);
}

// libuv and fd work only: safe from the async cleanup hook during teardown.
static void close_io(psock_t *s) {
  if (s->fd < 0) return;
  poll_box_t *box = s->box;
  s->box = NULL;
  box->poll.data = NULL;
  uv_poll_stop(&box->poll);
  uv_close((uv_handle_t *)&box->poll, on_box_closed);
  close(s->fd);
  s->fd = -1;
}

static void release_js(psock_t *s) {
  if (s->on_frame != NULL) napi_delete_reference(s->env, s->on_frame);
  if (s->on_error != NULL) napi_delete_reference(s->env, s->on_error);
  if (s->async != NULL) napi_async_destroy(s->env, s->async);
  s->on_frame = s->on_error = NULL;
  s->async = NULL;
}

static void on_env_teardown(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  poll_box_t *box = arg;
  psock_t *s = box->poll.data;
  if (s != NULL) close_io(s); // its close callback completes the hook
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  psock_t *s = data;
  close_io(s);
  release_js(s);
  if (s->self != NULL) napi_delete_reference(s->env, s->self);
  free(s->buf);
  free(s);
}

// ---- receiving --------------------------------------------------------------

// Calls into JS from a libuv callback; an exception becomes 'uncaughtException',
// as it would from any Node socket callback.
static void invoke(psock_t *s, napi_value recv, napi_ref fn_ref, napi_value arg) {
  napi_env env = s->env;
  napi_value fn;
  if (fn_ref == NULL || napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return;
  napi_make_callback(env, s->async, recv, fn, 1, &arg, NULL);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
}

static void report(psock_t *s, napi_value recv, int err, const char *syscall) {
  napi_value error;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_ifindex = s->ifindex;
  if (err == ENETDOWN && ioctl(s->fd, SIOCGIFNAME, &ifr) < 0 && errno == ENODEV) {
    // The kernel unbinds the socket for good: the caller has to reopen. Best
    // effort: the error is raised on the way down, a moment before the device
    // is unlisted, so a fast wake-up can still see it and report ENETDOWN.
    error = errno_error(s->env, ENODEV, syscall, "network interface \"%s\" (index %d) was removed",
                        s->ifname, s->ifindex);
  } else {
    error = errno_error(s->env, err, syscall, "packet socket on \"%s\"", s->ifname);
  }
  if (error != NULL) invoke(s, recv, s->on_error, error);
}

static void drain(psock_t *s, napi_value recv) {
  napi_env env = s->env;
  for (int i = 0; i < MAX_FRAMES_PER_WAKEUP && s->fd >= 0; i++) {
    struct sockaddr_ll from;
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(s->fd, s->buf, RECV_BUF_LEN, MSG_TRUNC, (struct sockaddr *)&from, &from_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) report(s, recv, errno, "recvfrom");
      return;
    }
    // Needed only without PACKET_IGNORE_OUTGOING: our own (and the host's) sends.
    if (from.sll_pkttype == PACKET_OUTGOING) continue;
    if (n > RECV_BUF_LEN) continue; // truncated; cannot happen for ARP

    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    napi_value frame;
    if (napi_create_buffer_copy(env, (size_t)n, s->buf, NULL, &frame) == napi_ok) {
      invoke(s, recv, s->on_frame, frame);
    }
    napi_close_handle_scope(env, scope);
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  psock_t *s = h->data;
  if (s == NULL) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value recv; // keeps the handle alive even if a callback closes it
  if (napi_get_reference_value(env, s->self, &recv) != napi_ok || recv == NULL) goto out;

  if (status < 0) {
    // libuv stops the watcher on POLLERR and says EBADF. For a packet socket
    // that is a one-shot sk_err (ENETDOWN on link down; the kernel rebinds on
    // link up), so report the real error and keep polling.
    int err = 0;
    socklen_t len = sizeof err;
    if (status == UV_EBADF && getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
      report(s, recv, err, "poll");
      if (s->box != NULL) uv_poll_start(&s->box->poll, UV_READABLE, on_poll);
    } else {
      report(s, recv, -status, "poll");
    }
    goto out;
  }
  drain(s, recv);
out:
  napi_close_handle_scope(env, scope);
}

// ---- argument helpers -------------------------------------------------------

static bool get_ifname(napi_env env, napi_value v, char out[IFNAMSIZ]) {
  napi_valuetype t;
  size_t len = 0;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "interface name must be a string");
    return false;
  }
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  if (len == 0 || len >= IFNAMSIZ) {
    throw_value(env, errno_error(env, EINVAL, "open", "invalid network interface name (1 to %d bytes)",
                                 IFNAMSIZ - 1));
    return false;
  }
  napi_get_value_string_utf8(env, v, out, IFNAMSIZ, &len);
  if (strlen(out) != len) {
    throw_value(env, errno_error(env, EINVAL, "open", "network interface name contains a NUL byte"));
    return false;
  }
  return true;
}

static psock_t *get_handle(napi_env env, napi_value v) {
  bool ok = false;
  napi_valuetype t;
  void *data = NULL;
  if (napi_typeof(env, v, &t) == napi_ok && t == napi_object &&
      napi_check_object_type_tag(env, v, &kHandleTag, &ok) == napi_ok && ok &&
      napi_unwrap(env, v, &data) == napi_ok) {
    return data;
  }
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "not a packet socket handle");
  return NULL;
}

// ---- exports ----------------------------------------------------------------

// open(ifname, onFrame, onError, kernelOutgoingFilter = true, ethertype = ARP, filter?)
// filter: a classic BPF program as struct sock_filter array bytes (8 bytes an instruction).
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char ifname[IFNAMSIZ];
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "open(ifname, onFrame, onError) takes 3 arguments");
    return NULL;
  }
  if (!get_ifname(env, argv[0], ifname)) return NULL;
  for (int i = 1; i <= 2; i++) {
    napi_valuetype t;
    NAPI_OK(napi_typeof(env, argv[i], &t));
    if (t != napi_function) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "onFrame and onError must be functions");
      return NULL;
    }
  }
  bool want_kernel_filter = true;
  if (argc >= 4) {
    napi_valuetype t;
    NAPI_OK(napi_typeof(env, argv[3], &t));
    if (t == napi_boolean) NAPI_OK(napi_get_value_bool(env, argv[3], &want_kernel_filter));
  }
  // The EtherType to receive: ARP unless told (the speakers' heartbeats use their own).
  uint32_t ethertype = ETH_P_ARP;
  if (argc >= 5) {
    napi_valuetype t;
    NAPI_OK(napi_typeof(env, argv[4], &t));
    if (t == napi_number) NAPI_OK(napi_get_value_uint32(env, argv[4], &ethertype));
    if (t != napi_undefined && (t != napi_number || ethertype == 0 || ethertype > 0xffff)) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "ethertype must be an integer from 1 to 65535");
      return NULL;
    }
  }

  // A kernel-side filter, so a socket bound to a busy EtherType (IPv6) wakes us only for the
  // frames we want (NDP), not for every data packet.
  struct sock_fprog prog = {0, NULL};
  if (argc >= 6) {
    napi_valuetype t;
    NAPI_OK(napi_typeof(env, argv[5], &t));
    if (t != napi_undefined) {
      bool is_buf = false;
      void *data = NULL;
      size_t len = 0;
      if (napi_is_buffer(env, argv[5], &is_buf) != napi_ok || !is_buf ||
          napi_get_buffer_info(env, argv[5], &data, &len) != napi_ok) {
        napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "filter must be a Buffer of struct sock_filter");
        return NULL;
      }
      if (len == 0 || len % sizeof(struct sock_filter) != 0 || len / sizeof(struct sock_filter) > BPF_MAXINSNS) {
        napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "filter must hold 1 to 4096 instructions of 8 bytes");
        return NULL;
      }
      prog.len = (unsigned short)(len / sizeof(struct sock_filter));
      prog.filter = data;
    }
  }

  // Protocol 0: the socket receives nothing until bind() names the interface.
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_value(env, errno_error(env, errno, "socket", "cannot open packet socket on \"%s\"", ifname));
    return NULL;
  }

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, ifname, strlen(ifname));
  if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
    int err = errno;
    close(fd);
    if (err == ENODEV) {
      throw_value(env, errno_error(env, err, "ioctl", "no network interface named \"%s\"", ifname));
    } else {
      throw_value(env, errno_error(env, err, "ioctl", "cannot look up network interface \"%s\"", ifname));
    }
    return NULL;
  }
  int ifindex = ifr.ifr_ifindex;

  // Belt and braces: a socket bound to ETH_P_ARP gets no outgoing frames today
  // (the kernel's transmit taps are ETH_P_ALL only), but "never see our own
  // sends" should not hinge on that. Kernel >= 4.20; without it recvfrom's
  // PACKET_OUTGOING check does the job.
  int one = 1;
  bool kernel_filter = want_kernel_filter &&
                       setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) == 0;

  // Before bind: no unfiltered frame is ever queued.
  if (prog.len > 0 && setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) {
    int err = errno;
    close(fd);
    throw_value(env, errno_error(env, err, "setsockopt", "cannot attach the packet filter on \"%s\"", ifname));
    return NULL;
  }

  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons((uint16_t)ethertype);
  sll.sll_ifindex = ifindex;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
    int err = errno;
    close(fd);
    throw_value(env, errno_error(env, err, "bind", "cannot bind packet socket to \"%s\"", ifname));
    return NULL;
  }

  psock_t *s = calloc(1, sizeof *s);
  poll_box_t *box = calloc(1, sizeof *box);
  uint8_t *buf = malloc(RECV_BUF_LEN);
  uv_loop_t *loop = NULL;
  if (s == NULL || box == NULL || buf == NULL || napi_get_uv_event_loop(env, &loop) != napi_ok ||
      uv_poll_init(loop, &box->poll, fd) != 0) {
    free(s);
    free(box);
    free(buf);
    close(fd);
    napi_throw_error(env, "ENOMEM", "cannot set up packet socket");
    return NULL;
  }
  s->env = env;
  s->fd = fd;
  s->ifindex = ifindex;
  memcpy(s->ifname, ifname, sizeof s->ifname);
  s->kernel_filters_outgoing = kernel_filter;
  s->box = box;
  s->buf = buf;
  box->poll.data = s;

  napi_value handle, flag, name;
  if (napi_create_object(env, &handle) != napi_ok ||
      napi_type_tag_object(env, handle, &kHandleTag) != napi_ok ||
      napi_wrap(env, handle, s, finalize, NULL, NULL) != napi_ok) {
    // No finalizer owns s yet: undo by hand.
    box->poll.data = NULL;
    uv_close((uv_handle_t *)&box->poll, on_box_closed); // hook still NULL: just frees
    close(fd);
    free(buf);
    free(s);
    return NULL;
  }
  // From here on the finalizer cleans up whatever a failure leaves behind.
  if (napi_create_reference(env, handle, 1, &s->self) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &s->on_frame) != napi_ok ||
      napi_create_reference(env, argv[2], 1, &s->on_error) != napi_ok ||
      napi_create_string_utf8(env, "barelb:PacketSocket", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      // No resource object: one would be held strongly and pin the handle.
      napi_async_init(env, NULL, name, &s->async) != napi_ok ||
      napi_get_boolean(env, kernel_filter, &flag) != napi_ok ||
      napi_set_named_property(env, handle, "kernelFiltersOutgoing", flag) != napi_ok) {
    close_io(s);
    release_js(s);
    if (s->self != NULL) napi_reference_unref(env, s->self, NULL);
    return NULL;
  }
  if (napi_add_async_cleanup_hook(env, on_env_teardown, box, &box->hook) != napi_ok) {
    box->hook = NULL;
  }
  int rc = uv_poll_start(&box->poll, UV_READABLE, on_poll);
  if (rc != 0) {
    close_io(s);
    release_js(s);
    napi_reference_unref(env, s->self, NULL);
    throw_value(env, errno_error(env, -rc, "uv_poll_start", "cannot poll packet socket on \"%s\"", ifname));
    return NULL;
  }
  return handle;
}

// send(handle, frame)
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  psock_t *s = get_handle(env, argc > 0 ? argv[0] : NULL);
  if (s == NULL) return NULL;

  bool is_ta = false;
  napi_typedarray_type type;
  size_t len = 0;
  void *data = NULL;
  if (argc < 2 || napi_is_typedarray(env, argv[1], &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, argv[1], &type, &len, &data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "frame must be a Buffer or Uint8Array");
    return NULL;
  }
  if (len < ETH_HLEN) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "frame is shorter than an Ethernet header (14 bytes)");
    return NULL;
  }
  if (s->fd < 0) {
    throw_value(env, errno_error(env, EBADF, "sendto", "packet socket on \"%s\" is closed", s->ifname));
    return NULL;
  }

  uint8_t padded[ETH_MIN_FRAME];
  const uint8_t *frame = data;
  if (len < ETH_MIN_FRAME) {
    memset(padded, 0, sizeof padded);
    memcpy(padded, data, len);
    frame = padded;
    len = ETH_MIN_FRAME;
  }

  struct sockaddr_ll to;
  memset(&to, 0, sizeof to);
  to.sll_family = AF_PACKET;
  to.sll_ifindex = s->ifindex;
  memcpy(&to.sll_protocol, frame + 12, 2); // already network order
  to.sll_halen = ETH_ALEN;
  memcpy(to.sll_addr, frame, ETH_ALEN);

  ssize_t n;
  do {
    n = sendto(s->fd, frame, len, 0, (struct sockaddr *)&to, sizeof to);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    throw_value(env, errno_error(env, errno, "sendto", "cannot send on \"%s\"", s->ifname));
  }
  return NULL;
}

// close(handle): idempotent.
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  psock_t *s = get_handle(env, argc > 0 ? argv[0] : NULL);
  if (s == NULL || s->fd < 0) return NULL;
  close_io(s);
  release_js(s);
  napi_reference_unref(env, s->self, NULL); // collectable from now on
  return NULL;
}

static napi_value set_ref(napi_env env, napi_callback_info info, bool ref) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  psock_t *s = get_handle(env, argc > 0 ? argv[0] : NULL);
  if (s == NULL || s->box == NULL) return NULL;
  if (ref) {
    uv_ref((uv_handle_t *)&s->box->poll);
  } else {
    uv_unref((uv_handle_t *)&s->box->poll);
  }
  return NULL;
}

static napi_value js_ref(napi_env env, napi_callback_info info) { return set_ref(env, info, true); }
static napi_value js_unref(napi_env env, napi_callback_info info) { return set_ref(env, info, false); }

// interfaceInfo(ifname): plain ioctls on a datagram socket; no capability needed.
static napi_value js_interface_info(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char ifname[IFNAMSIZ];
  if (argc < 1) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "interfaceInfo(ifname) takes 1 argument");
    return NULL;
  }
  if (!get_ifname(env, argv[0], ifname)) return NULL;

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_value(env, errno_error(env, errno, "socket", "cannot query network interface \"%s\"", ifname));
    return NULL;
  }
  struct ifreq ifr;
  static const struct {
    unsigned long req;
    const char *name;
  } reqs[] = {{SIOCGIFINDEX, "SIOCGIFINDEX"},
              {SIOCGIFHWADDR, "SIOCGIFHWADDR"},
              {SIOCGIFFLAGS, "SIOCGIFFLAGS"},
              {SIOCGIFMTU, "SIOCGIFMTU"}};
  int index = 0, flags = 0, mtu = 0;
  uint8_t mac[ETH_ALEN];
  for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, ifname, strlen(ifname));
    if (ioctl(fd, reqs[i].req, &ifr) < 0) {
      int err = errno;
      close(fd);
      if (err == ENODEV) {
        throw_value(env, errno_error(env, err, "ioctl", "no network interface named \"%s\"", ifname));
      } else {
        throw_value(env, errno_error(env, err, "ioctl", "%s on network interface \"%s\" failed",
                                     reqs[i].name, ifname));
      }
      return NULL;
    }
    switch (i) {
    case 0: index = ifr.ifr_ifindex; break;
    case 1: memcpy(mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN); break;
    case 2: flags = ifr.ifr_flags; break;
    case 3: mtu = ifr.ifr_mtu; break;
    }
  }
  close(fd);

  napi_value result, v;
  NAPI_OK(napi_create_object(env, &result));
  NAPI_OK(napi_create_int32(env, index, &v));
  NAPI_OK(napi_set_named_property(env, result, "index", v));
  NAPI_OK(napi_create_buffer_copy(env, ETH_ALEN, mac, NULL, &v));
  NAPI_OK(napi_set_named_property(env, result, "mac", v));
  NAPI_OK(napi_get_boolean(env, (flags & IFF_UP) != 0, &v));
  NAPI_OK(napi_set_named_property(env, result, "up", v));
  NAPI_OK(napi_get_boolean(env, (flags & IFF_RUNNING) != 0, &v));
  NAPI_OK(napi_set_named_property(env, result, "carrier", v));
  NAPI_OK(napi_create_int32(env, mtu, &v));
  NAPI_OK(napi_set_named_property(env, result, "mtu", v));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ref", NULL, js_ref, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unref", NULL, js_unref, NULL, NULL, NULL, napi_enumerable, NULL},
      {"interfaceInfo", NULL, js_interface_info, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  NAPI_OK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
