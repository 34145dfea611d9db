// The conformance registry: every shim in shims/manifest/manifest.def must have a
// conformance case (WEFT_CONFORMS(name) in a case file), or this executable does not link.
// At run time, each name must resolve to weft's shim, not libc's; so must each hook of
// manifest_hooks.def (exit, __libc_start_main), whose behaviour their own tests check.
#include <dlfcn.h>

#include <doctest/doctest.h>

#include <string>

#define WEFT_SHIM(family, ret, name, params) extern "C" const int weft_conformance_##name;
#include "manifest.def"
#undef WEFT_SHIM

namespace {

struct Entry {
  const char* name;
  const char* family;
  const int* covered;
};

constexpr Entry kManifest[] = {
#define WEFT_SHIM(family, ret, name, params) {#name, #family, &weft_conformance_##name},
#include "manifest.def"
#undef WEFT_SHIM
};

constexpr const char* kHooks[] = {
#define WEFT_HOOK(layer, ret, name, params) #name,
#include "manifest_hooks.def"
#undef WEFT_HOOK
};

// Shared build: libweft.so; static build: the test executable itself. Never libc.
void check_interposed(const char* name) {
  INFO(name);
  void* seen = ::dlsym(RTLD_DEFAULT, name);
  REQUIRE(seen != nullptr);
  Dl_info info{};
  REQUIRE(::dladdr(seen, &info) != 0);
  const std::string object = info.dli_fname != nullptr ? info.dli_fname : "";
  CHECK_MESSAGE(object.find("libc.so") == std::string::npos,
                name << " resolves to libc (" << object << "), not to weft's");
}

}  // namespace

TEST_CASE("every shim in the manifest has a conformance case and is interposed") {
  for (const Entry& e : kManifest) {
    INFO(e.name);
    CHECK(*e.covered == 1);
    check_interposed(e.name);
  }
}

TEST_CASE("every hook in the manifest is interposed") {
  for (const char* name : kHooks) check_interposed(name);
}
