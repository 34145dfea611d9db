// Thread-locals on the scheduling fast path. In a shared library the default TLS model
// makes every access a call to __tls_get_addr; the initial-exec model makes it one
// %fs-relative load. Its cost: libweft cannot be dlopen()ed into a process whose static
// TLS space is already used up, which is acceptable for a runtime linked at start-up.
#pragma once

#define WEFT_TLS thread_local __attribute__((tls_model("initial-exec")))
