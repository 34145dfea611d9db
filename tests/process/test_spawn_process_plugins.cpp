// A function in a library loaded with dlopen after the start runs in the worker too (the
// worker loads the library by the same name); a library file replaced on disk since (a
// rebuild) is refused with process_error(unavailable), never run under the wrong code.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace fs = std::filesystem;

namespace {

using Triple = int (*)(int);

Triple load(const std::string& path) {
  void* lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  REQUIRE_MESSAGE(lib != nullptr, ::dlerror());
  auto fn = reinterpret_cast<Triple>(::dlsym(lib, "weft_plugin_triple"));
  REQUIRE(static_cast<bool>(fn));
  return fn;
}

std::string scratch_copy(const char* from, const char* name) {
  const fs::path dir = fs::temp_directory_path() / ("weft_plugins_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path to = dir / name;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  return to.string();
}

}  // namespace

TEST_CASE("a dlopen'ed library's function runs in a worker process") {
  const Triple triple = load(scratch_copy(WEFT_TEST_PLUGIN_A, "libsame.so"));
  CHECK(triple(5) == 15);
  CHECK(weft::spawn_process(triple, 5).get() == 15);
}

TEST_CASE("a library rebuilt on disk since it was loaded is refused, not run") {
  const std::string path = scratch_copy(WEFT_TEST_PLUGIN_A, "librebuilt.so");
  const Triple triple = load(path);
  // The rebuild: a new file under the same name (as a linker writes it).
  const std::string fresh = scratch_copy(WEFT_TEST_PLUGIN_B, "librebuilt.so.new");
  fs::rename(fresh, path);
  try {
    weft::spawn_process(triple, 5).get();
    FAIL("ran code from the rebuilt library");
  } catch (const weft::process_error& e) {
    MESSAGE(std::string(e.what()));
    CHECK(e.code() == weft::process_errc::unavailable);
    CHECK(std::string(e.what()).find("librebuilt.so") != std::string::npos);
  }
  // The pool is fine afterwards.
  CHECK(weft::spawn_process([](int x) { return x - 1; }, 5).get() == 4);
}
