// The conformance registry: every shim in shims/manifest/manifest.def must have a
// conformance case (WEFT_CONFORMS(name) in a case file), or this executable does not link. At run time,
// each name must resolve to weft's shim, not libc's.
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

}  // namespace

TEST_CASE("every shim in the manifest has a conformance case and is interposed") {
  for (const Entry& e : kManifest) {
    INFO(e.name);
    CHECK(*e.covered == 1);
    void* seen = ::dlsym(RTLD_DEFAULT, e.name);
    REQUIRE(seen != nullptr);
    Dl_info info{};
    REQUIRE(::dladdr(seen, &info) != 0);
    // Shared build: libweft.so; static build: the test executable itself.
    const std::string object = info.dli_fname != nullptr ? info.dli_fname : "";
    CHECK_MESSAGE(object.find("libc.so") == std::string::npos,
                  e.name << " resolves to libc (" << object << "), not to weft's shim");
  }
}
