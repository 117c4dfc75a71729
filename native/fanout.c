// The native fan-out (lib/core/native-writes.ts): one call writes the same frame to many TCP
// sockets, one write(2) each. Node's own path costs a stream, a write request and a binding call
// per socket (1.3x the syscall's CPU at 5 000 sockets here, bench/floors.js); this is the syscall
// alone. It never blocks (the sockets are libuv's, non-blocking) and never retries: what each
// write(2) returned goes back to JavaScript, which hands any rest to the socket's own stream.
#include <errno.h>
#include <node_api.h>
#include <unistd.h>

#define THROW(message) do { napi_throw_type_error(env, NULL, message); return NULL; } while (0)

// writeEach(fds: Int32Array, count: number, frame: Uint8Array, written: Int32Array): undefined.
// written[i] gets what write(fds[i], frame) returned: the bytes written, or -errno.
static napi_value write_each (napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4) THROW("writeEach(fds, count, frame, written)");
  napi_typedarray_type type;
  size_t fds_length, written_length, frame_length, offset;
  void *fds_data, *written_data, *frame_data;
  napi_value buffer;
  bool is_typed;
  napi_is_typedarray(env, argv[0], &is_typed);
  if (!is_typed || napi_get_typedarray_info(env, argv[0], &type, &fds_length, &fds_data, &buffer, &offset) != napi_ok || type != napi_int32_array) THROW("fds must be an Int32Array");
  napi_is_typedarray(env, argv[3], &is_typed);
  if (!is_typed || napi_get_typedarray_info(env, argv[3], &type, &written_length, &written_data, &buffer, &offset) != napi_ok || type != napi_int32_array) THROW("written must be an Int32Array");
  napi_is_typedarray(env, argv[2], &is_typed);
  if (!is_typed || napi_get_typedarray_info(env, argv[2], &type, &frame_length, &frame_data, &buffer, &offset) != napi_ok || type != napi_uint8_array) THROW("frame must be a Uint8Array");
  uint32_t count;
  if (napi_get_value_uint32(env, argv[1], &count) != napi_ok || count > fds_length || count > written_length) THROW("count must fit fds and written");
  const int32_t *fds = fds_data;
  int32_t *written = written_data;
  for (uint32_t i = 0; i < count; i++) {
    ssize_t result = write(fds[i], frame_data, frame_length);
    written[i] = result >= 0 ? (int32_t)result : -errno;
  }
  return NULL;
}

NAPI_MODULE_INIT () {
  napi_value fn;
  if (napi_create_function(env, "writeEach", NAPI_AUTO_LENGTH, write_each, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "writeEach", fn) != napi_ok) return NULL;
  return exports;
}
