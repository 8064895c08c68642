// A checked, RAII wrapper over the HDF5 1.10 C API: just what the apps need.
//
// Every HDF5 call goes through H5_CHECK, which turns a negative return into h5::Error carrying
// the call text and the HDF5 error stack; HDF5's own stderr printing is switched off. Objects
// own their hid_t (move-only) and close it with the H5*close matching its type.
#pragma once

#include <hdf5.h>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace h5 {

// A failed HDF5 call. what() is summary(), one line without C++ source text; with
// set_debug_errors(true) it is "<call>: <HDF5 error stack, innermost cause included>".
class Error : public std::runtime_error {
 public:
  // summary: empty means "<call>: <stack>" (for errors raised here, not by HDF5). os_errno: the
  // system's error number when the system refused a request (a full disk, an I/O error).
  Error(std::string call, std::string stack, std::string summary = {}, int os_errno = 0);
  // The same error with `context` (the file and dataset, say) in front of what() and summary().
  Error(const std::string& context, const Error& e);
  const std::string& call() const noexcept { return call_; }
  const std::string& stack() const noexcept { return stack_; }
  // "<HDF5 function>: <what it could not do>: <innermost cause>".
  const std::string& summary() const noexcept { return summary_; }
  // errno of the file system request that failed (ENOSPC, EIO, ...); 0 when HDF5 failed for a
  // reason of its own (a damaged file, a wrong type).
  int os_errno() const noexcept { return os_errno_; }

 private:
  std::string call_;
  std::string stack_;
  std::string summary_;
  int os_errno_ = 0;
};

// Whether what() of the errors made from now on holds the call text and the whole HDF5 stack
// (poolrun --debug). Off by default.
void set_debug_errors(bool on) noexcept;
bool debug_errors() noexcept;

// The HDF5 library this program runs with ("1.10.8").
std::string library_version();

namespace detail {
// Switches HDF5's automatic error printing off (idempotent; also done at static init).
void silence_errors() noexcept;
[[noreturn]] void fail(const char* call_text);
template <class R>
inline R check(R result, const char* call_text) {
  if constexpr (std::is_enum_v<R>) {  // H5T_sign_t, H5D_layout_t, ...: error is -1
    static_assert(std::is_signed_v<std::underlying_type_t<R>>, "HDF5 errors are negative");
    if (static_cast<std::underlying_type_t<R>>(result) < 0) fail(call_text);
  } else {
    static_assert(std::is_signed_v<R>, "HDF5 reports errors as negative values");
    if (result < 0) fail(call_text);
  }
  return result;
}
}  // namespace detail

// The one place where HDF5 return values are checked.
#define H5_CHECK(call) ::h5::detail::check((call), #call)

// Owns one hid_t and closes it with the H5*close that matches its identifier type.
class Handle {
 public:
  Handle() noexcept = default;
  explicit Handle(hid_t id) noexcept : id_(id) {}
  Handle(Handle&& other) noexcept : id_(other.release()) {}
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  hid_t id() const noexcept { return id_; }
  bool valid() const noexcept { return id_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }
  hid_t release() noexcept;
  // Closes now and reports a failed close (a file close flushes, so it can fail).
  void close();
  // Closes now, ignoring errors (destructors).
  void reset() noexcept;

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// Element types the wrapper reads and writes. Files always store little-endian standard types.
enum class Dtype {
  int8,
  uint8,
  int16,
  uint16,
  int32,
  uint32,
  int64,
  uint64,
  float32,
  float64,
  string,
  other
};
std::string_view to_string(Dtype dtype) noexcept;

template <class T>
concept Numeric = (std::integral<T> || std::floating_point<T>)&&!std::same_as<T, bool> &&
                  !std::same_as<T, char> && !std::same_as<T, wchar_t> &&
                  !std::same_as<T, char8_t> && !std::same_as<T, char16_t> &&
                  !std::same_as<T, char32_t> && sizeof(T) <= 8;

template <Numeric T>
constexpr Dtype dtype_of() {
  if constexpr (std::floating_point<T>) {
    static_assert(sizeof(T) == 4 || sizeof(T) == 8, "only float and double");
    return sizeof(T) == 4 ? Dtype::float32 : Dtype::float64;
  } else if constexpr (std::is_signed_v<T>) {
    return sizeof(T) == 1   ? Dtype::int8
           : sizeof(T) == 2 ? Dtype::int16
           : sizeof(T) == 4 ? Dtype::int32
                            : Dtype::int64;
  } else {
    return sizeof(T) == 1   ? Dtype::uint8
           : sizeof(T) == 2 ? Dtype::uint16
           : sizeof(T) == 4 ? Dtype::uint32
                            : Dtype::uint64;
  }
}

// The predefined in-memory (native) type for a numeric dtype; not owned, never closed.
hid_t native_type(Dtype dtype);
// Bytes of one element of a numeric type in memory.
std::size_t size_of(Dtype dtype);
// A new variable-length UTF-8 string type.
Handle vlen_string_type();

inline constexpr hsize_t unlimited = H5S_UNLIMITED;

struct DatasetOptions {
  std::vector<hsize_t> chunk;  // empty: contiguous, or automatic when max_dims needs chunking
  std::vector<hsize_t>
      max_dims;          // empty: fixed at dims; h5::unlimited makes a dimension extendible
  int gzip = 0;          // deflate level 1..9; 0 is off
  bool shuffle = false;  // byte shuffle before deflate (helps numeric data)
  // Strings: 0 stores variable-length strings; N stores fixed N-byte strings (NUL-padded), the
  // only kind a SWMR reader can read while the file is written.
  std::size_t string_size = 0;
};

class Object {
 public:
  hid_t id() const noexcept { return h_.id(); }
  bool valid() const noexcept { return h_.valid(); }
  // The object's path in its file ("/result").
  std::string path() const;

  // Attributes replace an existing one of the same name. Strings are variable-length UTF-8.
  void set_attr(const std::string& name, std::string_view value);
  void set_attr(const std::string& name, const char* value) {
    set_attr(name, std::string_view(value));
  }
  void set_attr(const std::string& name, const std::string& value) {
    set_attr(name, std::string_view(value));
  }
  void set_attr(const std::string& name, std::span<const std::string> values);  // 1-D string array
  template <Numeric T>
  void set_attr(const std::string& name, T value) {
    set_attr_raw(name, dtype_of<T>(), &value);
  }
  template <Numeric T>
  void set_attr(const std::string& name, std::span<const T> values) {
    set_attr_array_raw(name, dtype_of<T>(), values.size(), values.data());
  }

  bool has_attr(const std::string& name) const;
  void delete_attr(const std::string& name);
  std::vector<std::string> attr_names() const;
  Dtype attr_dtype(const std::string& name) const;
  // Reads a scalar string attribute, variable- or fixed-length.
  std::string attr_string(const std::string& name) const;
  std::vector<std::string> attr_strings(const std::string& name) const;
  // Reads a scalar numeric attribute, converting to T (HDF5 conversion rules).
  template <Numeric T>
  T attr(const std::string& name) const {
    T value{};
    read_attr_raw(name, dtype_of<T>(), 1, &value);
    return value;
  }
  template <Numeric T>
  std::vector<T> attr_array(const std::string& name) const {
    std::vector<T> values(attr_size(name));
    read_attr_raw(name, dtype_of<T>(), values.size(), values.data());
    return values;
  }
  std::size_t attr_size(const std::string& name) const;  // number of elements

 protected:
  Object() = default;
  explicit Object(Handle h) noexcept : h_(std::move(h)) {}
  void set_attr_raw(const std::string& name, Dtype dtype, const void* value);
  void set_attr_array_raw(const std::string& name, Dtype dtype, std::size_t n, const void* values);
  void read_attr_raw(const std::string& name, Dtype dtype, std::size_t n, void* out) const;

  Handle h_;
};

class Dataset : public Object {
 public:
  Dataset() = default;
  explicit Dataset(Handle h) noexcept : Object(std::move(h)) {}

  std::vector<hsize_t> shape() const;
  std::vector<hsize_t> max_shape() const;
  std::size_t ndim() const { return shape().size(); }
  hsize_t num_elements() const;
  Dtype dtype() const;
  std::size_t element_size() const;         // bytes in the file
  std::vector<hsize_t> chunk_dims() const;  // empty when not chunked
  int gzip_level() const;                   // 0 when not deflated
  bool shuffled() const;

  // Whole dataset. The span holds num_elements() values in C (row-major) order.
  template <Numeric T>
  void write(std::span<const T> data) {
    write_raw(dtype_of<T>(), {}, {}, data.size(), data.data());
  }
  template <Numeric T>
  void write(const std::vector<T>& data) {
    write(std::span<const T>(data));
  }
  template <Numeric T>
  void read(std::span<T> out) const {
    read_raw(dtype_of<T>(), {}, {}, out.size(), out.data());
  }
  template <Numeric T>
  std::vector<T> read() const {
    std::vector<T> out(num_elements());
    read(std::span<T>(out));
    return out;
  }

  // A hyperslab: offset and count per dimension.
  template <Numeric T>
  void write_slab(const std::vector<hsize_t>& offset, const std::vector<hsize_t>& count,
                  std::span<const T> data) {
    write_raw(dtype_of<T>(), offset, count, data.size(), data.data());
  }
  template <Numeric T>
  void read_slab(const std::vector<hsize_t>& offset, const std::vector<hsize_t>& count,
                 std::span<T> out) const {
    read_raw(dtype_of<T>(), offset, count, out.size(), out.data());
  }

  // Stores one chunk's bytes, already through the dataset's filters (deflate_chunk), as they
  // are: HDF5's direct chunk write. offset is the chunk's first element, on the chunk grid.
  void write_chunk(const std::vector<hsize_t>& offset, std::span<const std::uint8_t> stored);

  // 1-D string datasets (variable- or fixed-length in the file; written variable-length).
  void write_strings(std::span<const std::string> data, hsize_t offset = 0);
  std::vector<std::string> read_strings() const;
  std::vector<std::string> read_strings(hsize_t offset, hsize_t count) const;

  // Grows (or shrinks) an extendible dataset.
  void resize(const std::vector<hsize_t>& dims);
  // 1-D: extends by data.size() and writes at the old end.
  template <Numeric T>
  void append(std::span<const T> data) {
    const hsize_t n = num_elements();
    resize({n + data.size()});
    write_slab<T>({n}, {data.size()}, data);
  }
  void append_strings(std::span<const std::string> data);

  // A slab of n elements of type `mem` (the element type known only at run time).
  void write_raw(Dtype mem, const std::vector<hsize_t>& offset, const std::vector<hsize_t>& count,
                 std::size_t n, const void* data);
  void read_raw(Dtype mem, const std::vector<hsize_t>& offset, const std::vector<hsize_t>& count,
                std::size_t n, void* out) const;
};

// The files other than `file` that the dataset FILE:DATASET reads its data from: the file an
// HDF5 external link on its path leads to, and the source files of a virtual dataset (relative
// names resolved as HDF5 does by default: beside the file that names them, else from the
// current directory). Empty for a plain dataset. A change in any of them changes the data.
std::vector<std::filesystem::path> dataset_sources(const std::filesystem::path& file,
                                                   const std::string& dataset);

// What HDF5's shuffle (when shuffle) then deflate filters make of one whole chunk's raw bytes
// (elements of element_size bytes, edge chunks padded with the fill value by the caller): the
// same bytes HDF5 would store, so any reader inflates them. Lets a worker compress its own
// chunks, which the writer then stores with Dataset::write_chunk.
std::vector<std::uint8_t> deflate_chunk(std::span<const std::uint8_t> raw, std::size_t element_size,
                                        bool shuffle, int level);

class Group : public Object {
 public:
  Group() = default;
  explicit Group(Handle h) noexcept : Object(std::move(h)) {}

  Group create_group(const std::string& name);
  Group open_group(const std::string& name) const;
  Group require_group(const std::string& name);  // open, or create when missing
  // True when every component of a relative or absolute path exists.
  bool exists(const std::string& path) const;
  bool is_group(const std::string& name) const;
  bool is_dataset(const std::string& name) const;
  std::vector<std::string> member_names() const;  // in creation/name order as HDF5 lists them
  void unlink(const std::string& name);

  Dataset create_dataset(const std::string& name, Dtype dtype, const std::vector<hsize_t>& dims,
                         const DatasetOptions& options = {});
  Dataset open_dataset(const std::string& name) const;

  // Convenience: a 1-D dataset holding data.
  template <Numeric T>
  Dataset write_dataset(const std::string& name, std::span<const T> data,
                        const DatasetOptions& options = {}) {
    Dataset d = create_dataset(name, dtype_of<T>(), {data.size()}, options);
    d.write(data);
    return d;
  }
  template <Numeric T>
  Dataset write_dataset(const std::string& name, const std::vector<T>& data,
                        const DatasetOptions& options = {}) {
    return write_dataset(name, std::span<const T>(data), options);
  }
  template <Numeric T>
  Dataset write_scalar(const std::string& name, T value) {
    return write_scalar_raw(name, dtype_of<T>(), &value);
  }
  Dataset write_strings(const std::string& name, std::span<const std::string> data,
                        const DatasetOptions& options = {});
  Dataset write_strings(const std::string& name, const std::vector<std::string>& data,
                        const DatasetOptions& options = {}) {
    return write_strings(name, std::span<const std::string>(data), options);
  }
  Dataset write_string(const std::string& name, std::string_view value);  // scalar string

 private:
  Dataset write_scalar_raw(const std::string& name, Dtype dtype, const void* value);
};

enum class Access { read_only, read_write };

// How File::open treats a file a writer may still hold or left behind after a crash.
enum class OpenMode {
  plain,
  // Read a file that a SWMR writer holds, or left flagged "open for write" when it died.
  swmr_read,
  // Open for writing although a dead SWMR writer left its flag (what `h5clear -s` does). Only
  // when the caller's own lock says no writer is alive.
  clear_write_flag,
};

class File : public Group {
 public:
  File() = default;
  // Creates (truncating) a file. With strong_close, closing the file also closes every object
  // still open in it, so close() really ends all I/O (PendingFile relies on that).
  // With swmr_format, the file uses the latest format, which start_swmr() needs.
  static File create(const std::filesystem::path& path, bool strong_close = false,
                     bool swmr_format = false);
  static File open(const std::filesystem::path& path, Access access = Access::read_only,
                   bool strong_close = false, OpenMode mode = OpenMode::plain);
  static bool is_hdf5(const std::filesystem::path& path);

  const std::filesystem::path& filename() const noexcept { return path_; }
  void flush();
  // Flushes, then fsync()s the file: H5Fflush only hands the data to the kernel.
  void sync();
  // Single-writer/multiple-reader mode: from here on the file on disk stays readable (with
  // OpenMode::swmr_read) whenever this process dies. Every object must exist already; no
  // attribute may be written until the file is closed.
  void start_swmr();
  void close();

 private:
  File(Handle h, std::filesystem::path path) noexcept
      : Group(std::move(h)), path_(std::move(path)) {}
  std::filesystem::path path_;
};

// Created as "<path>.partial" and renamed to path only by commit(), so a reader never sees a
// half-written file under the final name. Destroyed uncommitted, it closes and leaves the
// ".partial" file in place (useful for post-mortems) without touching path.
class PendingFile {
 public:
  static std::filesystem::path partial_path_for(const std::filesystem::path& path);
  explicit PendingFile(std::filesystem::path path);
  PendingFile(PendingFile&&) noexcept = default;
  PendingFile& operator=(PendingFile&&) noexcept = default;
  ~PendingFile() = default;

  File& file() noexcept { return file_; }
  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path partial_path() const { return partial_path_for(path_); }
  // Flushes, closes and atomically renames to path (replacing an existing file).
  void commit();
  // Closes the file (ending SWMR mode) and opens it again for plain writing.
  void reopen();
  bool committed() const noexcept { return committed_; }

 private:
  PendingFile(std::filesystem::path path, File file) noexcept
      : path_(std::move(path)), file_(std::move(file)) {}
  std::filesystem::path path_;
  File file_;
  bool committed_ = false;

 public:
  // Wraps an already open ".partial" file of path (used to resume).
  static PendingFile adopt(std::filesystem::path path, File file) {
    return PendingFile(std::move(path), std::move(file));
  }
  // Creates the ".partial" file in the latest format (File::create with swmr_format).
  static PendingFile create_swmr(std::filesystem::path path);
};

}  // namespace h5
