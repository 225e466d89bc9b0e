// The C interface of the TorchScript measuring shim (jit_graph.cpp). Rust declares the same two
// functions in src/sources/jit_graph/ffi.rs; everything crossing the boundary is UTF-8 text.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

// Loads the TorchScript file at `path`, runs its forward once as `request` describes, and returns
// the record of that run as text (the line format is described at the top of jit_graph.cpp).
// Never throws and never aborts: every failure is reported as an `error` line. Returns NULL only
// when the result cannot be allocated. The caller frees the result with tchinfo_jit_free.
char* tchinfo_jit_measure(const char* path, const char* request);

void tchinfo_jit_free(char* text);

#ifdef __cplusplus
}
#endif
