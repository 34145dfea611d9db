// How values cross a process boundary (spawn_process arguments and results): a compact
// binary form, written and read by the same program, so it needs no versioning and no
// byte-order care.
//
// Out of the box: arithmetic and enum types, trivially copyable structs and arrays,
// std::string, std::vector, std::array, std::map, std::unordered_map, std::set,
// std::unordered_set, std::optional, std::pair and std::tuple, nested freely.
//
// Your own types: one customization point, the shape cereal and Boost.Serialization use,
// so a type already written for cereal works as is. Either a member
//
//     template <class Archive> void serialize(Archive& ar) { ar(name, scores, limit); }
//
// or, for a type you cannot change, a free function found by argument-dependent lookup:
//
//     template <class Archive> void serialize(Archive& ar, Point& p) { ar(p.x, p.y); }
//
// The same function writes and reads: `ar(...)` saves the members when sending and loads
// them, in the same order, when receiving. The type must be default-constructible (it is
// built empty, then loaded). A serialize function wins over the trivially-copyable rule,
// so a struct holding a pointer can say what the pointer stands for.
//
// Pointers (raw or inside a trivially copyable struct) mean nothing in another process.
// Raw pointers are refused at compile time; a struct that hides one must define serialize.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace weft {

// The bytes being read do not match what the type's serialize reads: a serialize function
// that saves and loads different things, or data cut short.
class serialization_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

class OutArchive;
class InArchive;

namespace detail::wire {

template <class T, template <class...> class Tmpl>
inline constexpr bool is_instance = false;
template <template <class...> class Tmpl, class... A>
inline constexpr bool is_instance<Tmpl<A...>, Tmpl> = true;

template <class T>
inline constexpr bool is_std_array = false;
template <class T, std::size_t N>
inline constexpr bool is_std_array<std::array<T, N>> = true;

template <class T>
concept has_member_serialize = requires(T& v, OutArchive& out, InArchive& in) {
  v.serialize(out);
  v.serialize(in);
};

template <class T>
concept has_free_serialize = requires(T& v, OutArchive& out, InArchive& in) {
  serialize(out, v);
  serialize(in, v);
};

template <class T>
concept user_serializable =
    (has_member_serialize<T> || has_free_serialize<T>)&&std::is_default_constructible_v<T>;

// Plain bytes: nothing in the type refers to memory of the process it came from (as far as
// the type system can tell; see the note on pointers above).
template <class T>
concept plain_bytes = std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> &&
                      !std::is_member_pointer_v<T> && !std::is_null_pointer_v<T> &&
                      !(std::is_array_v<T> && std::is_pointer_v<std::remove_all_extents_t<T>>);

template <class T>
struct codec_of;  // the case that applies to T (see serializable below)

}  // namespace detail::wire

// True when T can cross a process boundary.
template <class T>
concept serializable = requires { detail::wire::codec_of<std::remove_cv_t<T>>::supported; } &&
                       detail::wire::codec_of<std::remove_cv_t<T>>::supported;

// Writes values into a byte string.
class OutArchive {
 public:
  explicit OutArchive(std::string& bytes) : bytes_(bytes) {}

  template <class... T>
  void operator()(const T&... values) {
    (save(values), ...);
  }

  void write_bytes(const void* data, std::size_t size) {
    if (size == 0) return;  // data may be null (an empty vector's)
    bytes_.append(static_cast<const char*>(data), size);
  }
  void write_size(std::size_t n) {
    const std::uint64_t v = n;
    write_bytes(&v, sizeof v);
  }

 private:
  template <class T>
  void save(const T& value);

  std::string& bytes_;
};

// Reads values back, in the order they were written. Throws serialization_error when the
// bytes run out or a length is impossible.
class InArchive {
 public:
  InArchive(const char* data, std::size_t size) : at_(data), end_(data + size) {}
  explicit InArchive(std::string_view bytes) : InArchive(bytes.data(), bytes.size()) {}

  template <class... T>
  void operator()(T&... values) {
    (load(values), ...);
  }

  void read_bytes(void* into, std::size_t size) {
    if (size > remaining()) throw serialization_error("weft: serialized data ends too soon");
    if (size == 0) return;  // `into` may be null (an empty vector's)
    std::memcpy(into, at_, size);
    at_ += size;
  }
  // A count of elements of `element_size` bytes at least each, checked against what is
  // left, so a corrupt length cannot make a reader allocate without bound.
  std::size_t read_size(std::size_t element_size) {
    std::uint64_t v = 0;
    read_bytes(&v, sizeof v);
    if (element_size != 0 && v > remaining() / element_size) {
      throw serialization_error("weft: serialized length larger than the data");
    }
    return static_cast<std::size_t>(v);
  }
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - at_); }

 private:
  template <class T>
  void load(T& value);

  const char* at_;
  const char* end_;
};

namespace detail::wire {

template <class T>
struct codec_of {
  // Reached for a type none of the cases below takes. The static_assert names T in the
  // compiler's "required from" notes.
  static constexpr bool supported = false;
};

template <class T>
  requires user_serializable<T>
struct codec_of<T> {
  static constexpr bool supported = true;
  static void save(OutArchive& ar, const T& v) {
    auto& mut = const_cast<T&>(v);  // serialize is one function for both directions
    if constexpr (has_member_serialize<T>) {
      mut.serialize(ar);
    } else {
      serialize(ar, mut);
    }
  }
  static void load(InArchive& ar, T& v) {
    if constexpr (has_member_serialize<T>) {
      v.serialize(ar);
    } else {
      serialize(ar, v);
    }
  }
};

template <class T>
  requires(!user_serializable<T> && plain_bytes<T>)
struct codec_of<T> {
  static constexpr bool supported = true;
  static void save(OutArchive& ar, const T& v) { ar.write_bytes(&v, sizeof v); }
  static void load(InArchive& ar, T& v) { ar.read_bytes(&v, sizeof v); }
};

template <class C>
concept string_like = is_instance<C, std::basic_string> && plain_bytes<typename C::value_type>;

template <class C>
  requires(!user_serializable<C> && string_like<C>)
struct codec_of<C> {
  static constexpr bool supported = true;
  using Char = typename C::value_type;
  static void save(OutArchive& ar, const C& s) {
    ar.write_size(s.size());
    ar.write_bytes(s.data(), s.size() * sizeof(Char));
  }
  static void load(InArchive& ar, C& s) {
    s.resize(ar.read_size(sizeof(Char)));
    ar.read_bytes(s.data(), s.size() * sizeof(Char));
  }
};

// vector: one copy for plain elements (a 100 MB buffer crosses as one block).
template <class T, class A>
  requires(!user_serializable<std::vector<T, A>> && serializable<T>)
struct codec_of<std::vector<T, A>> {
  static constexpr bool supported = true;
  static constexpr bool bulk = plain_bytes<T> && !user_serializable<T> && !std::is_same_v<T, bool>;
  static void save(OutArchive& ar, const std::vector<T, A>& v) {
    ar.write_size(v.size());
    if constexpr (bulk) {
      ar.write_bytes(v.data(), v.size() * sizeof(T));
    } else {
      for (const auto& e : v) ar(static_cast<const T&>(e));
    }
  }
  static void load(InArchive& ar, std::vector<T, A>& v) {
    const std::size_t n = ar.read_size(bulk ? sizeof(T) : 0);
    v.clear();
    if constexpr (bulk) {
      v.resize(n);
      ar.read_bytes(v.data(), n * sizeof(T));
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        T e{};
        ar(e);
        v.push_back(std::move(e));
      }
    }
  }
};

template <class T, std::size_t N>
  requires(!user_serializable<std::array<T, N>> && !plain_bytes<std::array<T, N>> &&
           serializable<T>)
struct codec_of<std::array<T, N>> {
  static constexpr bool supported = true;
  static void save(OutArchive& ar, const std::array<T, N>& a) {
    for (const auto& e : a) ar(e);
  }
  static void load(InArchive& ar, std::array<T, N>& a) {
    for (auto& e : a) ar(e);
  }
};

// Maps and sets: a count, then the elements in iteration order, inserted one by one.
template <class C>
inline constexpr bool associative =
    is_instance<C, std::map> || is_instance<C, std::unordered_map> || is_instance<C, std::set> ||
    is_instance<C, std::unordered_set>;

template <class C>
concept associative_of_serializable =
    associative<C> && serializable<typename C::key_type> &&
    (!requires { typename C::mapped_type; } || serializable<typename C::mapped_type>);

template <class C>
  requires(!user_serializable<C> && associative_of_serializable<C>)
struct codec_of<C> {
  static constexpr bool supported = true;
  static void save(OutArchive& ar, const C& c) {
    ar.write_size(c.size());
    for (const auto& e : c) {
      if constexpr (requires { e.second; }) {
        ar(e.first, e.second);
      } else {
        ar(e);
      }
    }
  }
  static void load(InArchive& ar, C& c) {
    const std::size_t n = ar.read_size(0);
    c.clear();
    for (std::size_t i = 0; i < n; ++i) {
      typename C::key_type k{};
      ar(k);
      if constexpr (requires { typename C::mapped_type; }) {
        typename C::mapped_type m{};
        ar(m);
        c.emplace(std::move(k), std::move(m));
      } else {
        c.insert(std::move(k));
      }
    }
  }
};

template <class T>
  requires(!user_serializable<std::optional<T>> && !plain_bytes<std::optional<T>> &&
           serializable<T>)
struct codec_of<std::optional<T>> {
  static constexpr bool supported = true;
  static void save(OutArchive& ar, const std::optional<T>& o) {
    const bool engaged = o.has_value();
    ar(engaged);
    if (engaged) ar(*o);
  }
  static void load(InArchive& ar, std::optional<T>& o) {
    bool engaged = false;
    ar(engaged);
    if (engaged) {
      T v{};
      ar(v);
      o = std::move(v);
    } else {
      o.reset();
    }
  }
};

template <class A, class B>
  requires(!user_serializable<std::pair<A, B>> && !plain_bytes<std::pair<A, B>> &&
           serializable<A> && serializable<B>)
struct codec_of<std::pair<A, B>> {
  static constexpr bool supported = true;
  static void save(OutArchive& ar, const std::pair<A, B>& p) { ar(p.first, p.second); }
  static void load(InArchive& ar, std::pair<A, B>& p) { ar(p.first, p.second); }
};

template <class... T>
  requires(!user_serializable<std::tuple<T...>> && !plain_bytes<std::tuple<T...>> &&
           (serializable<T> && ...))
struct codec_of<std::tuple<T...>> {
  static constexpr bool supported = true;
  static void save(OutArchive& ar, const std::tuple<T...>& t) {
    std::apply([&](const auto&... e) { ar(e...); }, t);
  }
  static void load(InArchive& ar, std::tuple<T...>& t) {
    std::apply([&](auto&... e) { ar(e...); }, t);
  }
};

// Fails the build with a message that says what to do; T appears in the notes below it.
template <class T>
constexpr void require_serializable() {
  static_assert(serializable<T>,
                "weft: this type cannot cross a process boundary. Supported: arithmetic and "
                "enum types, trivially copyable structs without pointers, std::string, "
                "std::vector, std::array, std::map, std::unordered_map, std::set, "
                "std::unordered_set, std::optional, std::pair, std::tuple of supported types. "
                "For your own type add `template <class Archive> void serialize(Archive& ar) "
                "{ ar(member1, member2); }` and a default constructor (see <weft/serialize.hpp>).");
}

}  // namespace detail::wire

template <class T>
void OutArchive::save(const T& value) {
  detail::wire::require_serializable<T>();
  if constexpr (serializable<T>) detail::wire::codec_of<std::remove_cv_t<T>>::save(*this, value);
}

template <class T>
void InArchive::load(T& value) {
  detail::wire::require_serializable<T>();
  if constexpr (serializable<T>) detail::wire::codec_of<std::remove_cv_t<T>>::load(*this, value);
}

}  // namespace weft
