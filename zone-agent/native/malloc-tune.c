/*
 * glibc's mmap threshold, settable from JavaScript (src/malloc-tune.ts).
 *
 * glibc serves an allocation above the threshold with its own mmap, returned to the system on free, but raises
 * the threshold to the size of every such block freed (up to 32 MB). The agent allocates and frees response
 * buffers of 100 KB-1.3 MB by the thousand on a cold start, so after the first ones they come from the heap
 * arenas instead, and the freed memory stays in the process: 2,000 proxies left 3.2 GB of RSS for a 93 MB JS
 * heap (bench/xds.ts). Setting the threshold with mallopt fixes it and turns the raising off. Smaller blocks
 * (per-resource encodings, protobuf and HTTP/2 buffers) still leave free memory inside the arenas after a cold
 * start; `trim` hands it back (src/malloc-tune.ts calls it when a lot is free).
 */
#include <malloc.h>
#include <node_api.h>

static napi_value set_mmap_threshold(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t bytes = 0;
  napi_value out;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_int32(env, argv[0], &bytes) != napi_ok || bytes <= 0) {
    napi_throw_type_error(env, NULL, "setMmapThreshold: bytes must be a positive 32-bit integer");
    return NULL;
  }
  napi_get_boolean(env, mallopt(M_MMAP_THRESHOLD, bytes) == 1, &out);
  return out;
}

/* Bytes free inside the heap arenas (held by the process, not in use): what `trim` could give back. */
static napi_value free_bytes(napi_env env, napi_callback_info info) {
  (void)info;
  struct mallinfo2 mi = mallinfo2();
  napi_value out;
  napi_create_double(env, (double)mi.fordblks, &out);
  return out;
}

/* Gives free arena memory back to the system (the top of each arena, and whole free pages inside them). */
static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_get_boolean(env, malloc_trim(0) == 1, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "freeBytes", NAPI_AUTO_LENGTH, free_bytes, NULL, &fn);
  napi_set_named_property(env, exports, "freeBytes", fn);
  napi_create_function(env, "trim", NAPI_AUTO_LENGTH, trim, NULL, &fn);
  napi_set_named_property(env, exports, "trim", fn);
  napi_create_function(env, "setMmapThreshold", NAPI_AUTO_LENGTH, set_mmap_threshold, NULL, &fn);
  napi_set_named_property(env, exports, "setMmapThreshold", fn);
  return exports;
}
