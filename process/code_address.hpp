// Naming code and constants across processes that run the same program: a module (the
// executable or a shared library, by the name the dynamic linker gave it), its identity
// (GNU build-id, else file identity), and an offset from its load address.
// See include/weft/detail/process_entry.hpp for why this is safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace weft::rt::process {

struct CodeAddress {
  std::string module;    // "" for the executable
  std::string identity;  // build-id in hex, or "file:<dev>:<ino>:<size>:<mtime>"
  std::uint64_t offset = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(module, identity, offset);
  }
};

// Where p lies in this process. Throws std::invalid_argument if no loaded module holds it.
CodeAddress locate(const void* p);

enum class Expect { data, code };

// The address in this process of what `where` names, `size` bytes of readable data or the
// start of executable code. The module is loaded (dlopen) if it is not yet. Returns null and
// sets `why` when the module is missing or differs, or the range is outside it.
const void* resolve(const CodeAddress& where, std::size_t size, Expect expect, std::string& why);

}  // namespace weft::rt::process
