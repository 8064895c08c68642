#include "common/h5.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <numeric>
#include <system_error>

// Rank 0 of a pool of up to 8 ranks runs tasks (which may read inputs) on a second thread
// beside the master (which writes the output), so the library must lock itself. Debian's HDF5
// is built thread-safe; refuse to build against one that is not.
#ifndef H5_HAVE_THREADSAFE
#error "poolcommon needs an HDF5 built with --enable-threadsafe (Debian's libhdf5-dev is)"
#endif

namespace h5 {

namespace {
std::atomic<bool> g_debug_errors{false};

std::string full_text(const std::string& call, const std::string& stack) {
  return call + ": " + (stack.empty() ? std::string("failed") : stack);
}
}  // namespace

void set_debug_errors(bool on) noexcept {
  g_debug_errors = on;
}

bool debug_errors() noexcept {
  return g_debug_errors;
}

std::string library_version() {
  unsigned major = 0, minor = 0, release = 0;
  H5_CHECK(H5get_libversion(&major, &minor, &release));
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release);
}

Error::Error(std::string call, std::string stack, std::string summary, int os_errno)
    : std::runtime_error(g_debug_errors || summary.empty() ? full_text(call, stack) : summary),
      call_(std::move(call)),
      stack_(std::move(stack)),
      summary_(summary.empty() ? full_text(call_, stack_) : std::move(summary)),
      os_errno_(os_errno) {}

Error::Error(const std::string& context, const Error& e)
    : std::runtime_error(context + ": " + e.what()),
      call_(e.call_),
      stack_(e.stack_),
      summary_(context + ": " + e.summary_),
      os_errno_(e.os_errno_) {}

namespace detail {

void silence_errors() noexcept {
  // Errors reach the user as exceptions; HDF5's own printing would only duplicate them.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

namespace {
// Done at load time as well, so even a call made before any File exists stays quiet.
// HDF5's exit handler is switched off too: after a write failed (a full disk), closing the file
// fails half-way, and the handler's second close of it at exit crashed (SIGSEGV in
// H5F__close_cb). Our files are closed by their owners; at exit only read-only inputs can
// still be open, and the OS closes those. Not checked: it fails only if HDF5 is already in use,
// and then the handler simply stays.
[[maybe_unused]] const bool silenced_at_startup = [] {
  H5dont_atexit();
  silence_errors();
  return true;
}();

struct Frames {
  std::string stack;
  std::string first;  // the outermost frame's description
  std::string last;   // the innermost one's
};

herr_t collect_frame(unsigned /*n*/, const H5E_error2_t* err, void* data) {
  auto* out = static_cast<Frames*>(data);
  if (!out->stack.empty()) out->stack.append("; ");
  std::string desc = err->desc ? err->desc : "(no description)";
  // The file driver's message holds a ctime() string, newline included: keep one line.
  for (char& c : desc)
    if (c == '\n' || c == '\r') c = ' ';
  out->stack.append(err->func_name ? err->func_name : "?").append("(): ").append(desc);
  if (out->first.empty()) out->first = desc;
  out->last = desc;
  return 0;
}
// HDF5's file driver puts its whole request in the message ("file write failed: time = ...,
// filename = '...', file descriptor = 17, errno = 28, error message = 'No space left on device',
// buf = 0x..., ..."): the one line keeps what failed, the system's reason and the file.
std::string condense_io_error(const std::string& desc) {
  const std::string key = "error message = '";
  const auto msg = desc.find(key);
  const auto colon = desc.find(':');
  if (msg == std::string::npos || colon == std::string::npos || colon > msg) return desc;
  const auto msg_end = desc.find('\'', msg + key.size());
  if (msg_end == std::string::npos) return desc;
  std::string out =
      desc.substr(0, colon) + ": " + desc.substr(msg + key.size(), msg_end - msg - key.size());
  const std::string fkey = "filename = '";
  const auto fn = desc.find(fkey);
  const auto fn_end = fn == std::string::npos ? fn : desc.find('\'', fn + fkey.size());
  if (fn_end != std::string::npos)
    out += " (" + desc.substr(fn + fkey.size(), fn_end - fn - fkey.size()) + ")";
  return out;
}
}  // namespace

void fail(const char* call_text) {
  Frames frames;
  // Outermost frame first: the API call, then down to the root cause (errno etc.).
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_frame, &frames);
  H5Eclear2(H5E_DEFAULT);
  // "H5Dread: can't read data: inflate() failed": the function called, not its C++ arguments.
  std::string_view call(call_text);
  std::string summary(call.substr(0, call.find('(')));
  if (!frames.first.empty()) summary += ": " + frames.first;
  if (frames.last != frames.first) summary += ": " + condense_io_error(frames.last);
  for (char& c : summary)
    if (c == '\n' || c == '\r') c = ' ';
  // The file driver's failures say "errno = N" (its own format, and h5_driver.cpp's).
  int os_errno = 0;
  if (const auto at = frames.last.find("errno = "); at != std::string::npos)
    os_errno = std::atoi(frames.last.c_str() + at + 8);
  throw Error(call_text, std::move(frames.stack), std::move(summary), os_errno);
}

}  // namespace detail

namespace {

void close_by_type(hid_t id, bool checked) {
  const H5I_type_t type = H5Iget_type(id);
  herr_t rc = 0;
  switch (type) {
    case H5I_FILE:
      rc = H5Fclose(id);
      break;
    case H5I_GROUP:
      rc = H5Gclose(id);
      break;
    case H5I_DATASET:
      rc = H5Dclose(id);
      break;
    case H5I_DATASPACE:
      rc = H5Sclose(id);
      break;
    case H5I_DATATYPE:
      rc = H5Tclose(id);
      break;
    case H5I_ATTR:
      rc = H5Aclose(id);
      break;
    case H5I_GENPROP_LST:
      rc = H5Pclose(id);
      break;
    default:
      return;  // already closed (e.g. by a strong file close) or not ours to close
  }
  if (rc < 0) {
    if (checked) detail::fail("H5*close(handle)");
    H5Eclear2(H5E_DEFAULT);
  }
}

hid_t file_type(Dtype dtype) {
  switch (dtype) {
    case Dtype::int8:
      return H5T_STD_I8LE;
    case Dtype::uint8:
      return H5T_STD_U8LE;
    case Dtype::int16:
      return H5T_STD_I16LE;
    case Dtype::uint16:
      return H5T_STD_U16LE;
    case Dtype::int32:
      return H5T_STD_I32LE;
    case Dtype::uint32:
      return H5T_STD_U32LE;
    case Dtype::int64:
      return H5T_STD_I64LE;
    case Dtype::uint64:
      return H5T_STD_U64LE;
    case Dtype::float32:
      return H5T_IEEE_F32LE;
    case Dtype::float64:
      return H5T_IEEE_F64LE;
    default:
      throw std::invalid_argument("h5: no fixed file type for dtype " +
                                  std::string(to_string(dtype)));
  }
}

// The file type for dtype, as an owned handle (strings need a fresh type).
Handle make_file_type(Dtype dtype) {
  if (dtype == Dtype::string) return vlen_string_type();
  return Handle(H5_CHECK(H5Tcopy(file_type(dtype))));
}

Dtype classify(hid_t type) {
  const H5T_class_t cls = H5Tget_class(type);
  if (cls == H5T_STRING) return Dtype::string;
  const std::size_t size = H5Tget_size(type);
  if (cls == H5T_FLOAT) {
    if (size == 4) return Dtype::float32;
    if (size == 8) return Dtype::float64;
    return Dtype::other;
  }
  if (cls == H5T_INTEGER) {
    const bool is_signed = H5_CHECK(H5Tget_sign(type)) == H5T_SGN_2;
    switch (size) {
      case 1:
        return is_signed ? Dtype::int8 : Dtype::uint8;
      case 2:
        return is_signed ? Dtype::int16 : Dtype::uint16;
      case 4:
        return is_signed ? Dtype::int32 : Dtype::uint32;
      case 8:
        return is_signed ? Dtype::int64 : Dtype::uint64;
      default:
        return Dtype::other;
    }
  }
  return Dtype::other;
}

Handle simple_space(const std::vector<hsize_t>& dims, const hsize_t* max_dims = nullptr) {
  return Handle(H5_CHECK(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), max_dims)));
}

hsize_t product(const std::vector<hsize_t>& dims) {
  return std::accumulate(dims.begin(), dims.end(), hsize_t{1}, std::multiplies<>());
}

// Reads n strings through `read(memtype, buffer)`, whatever the string flavour in the file.
std::vector<std::string> read_string_values(hid_t stored_type, std::size_t n,
                                            const std::function<void(hid_t, void*)>& read) {
  if (H5Tget_class(stored_type) != H5T_STRING)
    throw Error("read strings", "the stored type is not a string type");
  std::vector<std::string> out;
  out.reserve(n);
  if (H5_CHECK(H5Tis_variable_str(stored_type)) > 0) {
    Handle mem(H5_CHECK(H5Tcopy(stored_type)));
    std::vector<char*> ptrs(n, nullptr);
    read(mem.id(), ptrs.data());
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    const hsize_t dims[1] = {n};
    Handle space(H5_CHECK(H5Screate_simple(1, dims, nullptr)));
    H5_CHECK(H5Dvlen_reclaim(mem.id(), space.id(), H5P_DEFAULT, ptrs.data()));
  } else {
    Handle mem(H5_CHECK(H5Tcopy(stored_type)));
    const std::size_t size = H5Tget_size(stored_type);
    std::vector<char> buf(n * size);
    read(mem.id(), buf.data());
    for (std::size_t i = 0; i < n; ++i) {
      const char* p = buf.data() + i * size;
      out.emplace_back(p, strnlen(p, size));
    }
  }
  return out;
}

void fsync_path(const std::filesystem::path& p, int flags) {
  const int fd = ::open(p.c_str(), flags);
  if (fd < 0) return;  // best effort: durability, not correctness
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

// ---- Handle ----------------------------------------------------------------------------------

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.release();
  }
  return *this;
}

hid_t Handle::release() noexcept {
  const hid_t id = id_;
  id_ = H5I_INVALID_HID;
  return id;
}

void Handle::close() {
  if (id_ < 0) return;
  const hid_t id = release();
  close_by_type(id, true);
}

void Handle::reset() noexcept {
  if (id_ < 0) return;
  const hid_t id = release();
  try {
    close_by_type(id, false);
  } catch (...) {  // unreachable with checked == false; keeps noexcept honest
  }
}

// ---- types -----------------------------------------------------------------------------------

std::string_view to_string(Dtype dtype) noexcept {
  switch (dtype) {
    case Dtype::int8:
      return "int8";
    case Dtype::uint8:
      return "uint8";
    case Dtype::int16:
      return "int16";
    case Dtype::uint16:
      return "uint16";
    case Dtype::int32:
      return "int32";
    case Dtype::uint32:
      return "uint32";
    case Dtype::int64:
      return "int64";
    case Dtype::uint64:
      return "uint64";
    case Dtype::float32:
      return "float32";
    case Dtype::float64:
      return "float64";
    case Dtype::string:
      return "string";
    case Dtype::other:
      return "other";
  }
  return "other";
}

hid_t native_type(Dtype dtype) {
  switch (dtype) {
    case Dtype::int8:
      return H5T_NATIVE_INT8;
    case Dtype::uint8:
      return H5T_NATIVE_UINT8;
    case Dtype::int16:
      return H5T_NATIVE_INT16;
    case Dtype::uint16:
      return H5T_NATIVE_UINT16;
    case Dtype::int32:
      return H5T_NATIVE_INT32;
    case Dtype::uint32:
      return H5T_NATIVE_UINT32;
    case Dtype::int64:
      return H5T_NATIVE_INT64;
    case Dtype::uint64:
      return H5T_NATIVE_UINT64;
    case Dtype::float32:
      return H5T_NATIVE_FLOAT;
    case Dtype::float64:
      return H5T_NATIVE_DOUBLE;
    default:
      throw std::invalid_argument("h5: no native type for dtype " + std::string(to_string(dtype)));
  }
}

std::size_t size_of(Dtype dtype) {
  return H5Tget_size(native_type(dtype));  // a native type: cannot fail
}

Handle vlen_string_type() {
  Handle t(H5_CHECK(H5Tcopy(H5T_C_S1)));
  H5_CHECK(H5Tset_size(t.id(), H5T_VARIABLE));
  H5_CHECK(H5Tset_cset(t.id(), H5T_CSET_UTF8));
  return t;
}

// ---- Object ----------------------------------------------------------------------------------

std::string Object::path() const {
  const ssize_t len = H5_CHECK(H5Iget_name(id(), nullptr, 0));
  std::string name(static_cast<std::size_t>(len) + 1, '\0');
  H5_CHECK(H5Iget_name(id(), name.data(), name.size()));
  name.resize(static_cast<std::size_t>(len));
  return name;
}

namespace {
Handle replace_attr(hid_t obj, const std::string& name, hid_t type, hid_t space) {
  if (H5_CHECK(H5Aexists(obj, name.c_str())) > 0) H5_CHECK(H5Adelete(obj, name.c_str()));
  return Handle(H5_CHECK(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT)));
}
}  // namespace

void Object::set_attr(const std::string& name, std::string_view value) {
  Handle type = vlen_string_type();
  Handle space(H5_CHECK(H5Screate(H5S_SCALAR)));
  Handle attr = replace_attr(id(), name, type.id(), space.id());
  const std::string copy(value);  // NUL-terminated for HDF5
  const char* ptr = copy.c_str();
  H5_CHECK(H5Awrite(attr.id(), type.id(), &ptr));
}

void Object::set_attr(const std::string& name, std::span<const std::string> values) {
  Handle type = vlen_string_type();
  Handle space = simple_space({values.size()});
  Handle attr = replace_attr(id(), name, type.id(), space.id());
  std::vector<const char*> ptrs;
  ptrs.reserve(values.size());
  for (const auto& v : values) ptrs.push_back(v.c_str());
  H5_CHECK(H5Awrite(attr.id(), type.id(), ptrs.data()));
}

void Object::set_attr_raw(const std::string& name, Dtype dtype, const void* value) {
  Handle space(H5_CHECK(H5Screate(H5S_SCALAR)));
  Handle attr = replace_attr(id(), name, file_type(dtype), space.id());
  H5_CHECK(H5Awrite(attr.id(), native_type(dtype), value));
}

void Object::set_attr_array_raw(const std::string& name, Dtype dtype, std::size_t n,
                                const void* values) {
  Handle space = simple_space({n});
  Handle attr = replace_attr(id(), name, file_type(dtype), space.id());
  H5_CHECK(H5Awrite(attr.id(), native_type(dtype), values));
}

bool Object::has_attr(const std::string& name) const {
  return H5_CHECK(H5Aexists(id(), name.c_str())) > 0;
}

void Object::delete_attr(const std::string& name) {
  H5_CHECK(H5Adelete(id(), name.c_str()));
}

std::vector<std::string> Object::attr_names() const {
  std::vector<std::string> names;
  auto cb = [](hid_t, const char* attr_name, const H5A_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(attr_name);
    return 0;
  };
  H5_CHECK(H5Aiterate2(id(), H5_INDEX_NAME, H5_ITER_INC, nullptr, cb, &names));
  return names;
}

Dtype Object::attr_dtype(const std::string& name) const {
  Handle attr(H5_CHECK(H5Aopen(id(), name.c_str(), H5P_DEFAULT)));
  Handle type(H5_CHECK(H5Aget_type(attr.id())));
  return classify(type.id());
}

std::size_t Object::attr_size(const std::string& name) const {
  Handle attr(H5_CHECK(H5Aopen(id(), name.c_str(), H5P_DEFAULT)));
  Handle space(H5_CHECK(H5Aget_space(attr.id())));
  return static_cast<std::size_t>(H5_CHECK(H5Sget_simple_extent_npoints(space.id())));
}

void Object::read_attr_raw(const std::string& name, Dtype dtype, std::size_t n, void* out) const {
  Handle attr(H5_CHECK(H5Aopen(id(), name.c_str(), H5P_DEFAULT)));
  Handle space(H5_CHECK(H5Aget_space(attr.id())));
  const auto npoints = static_cast<std::size_t>(H5_CHECK(H5Sget_simple_extent_npoints(space.id())));
  if (npoints != n)
    throw Error("read attribute '" + name + "'",
                "holds " + std::to_string(npoints) + " values, expected " + std::to_string(n));
  H5_CHECK(H5Aread(attr.id(), native_type(dtype), out));
}

std::vector<std::string> Object::attr_strings(const std::string& name) const {
  Handle attr(H5_CHECK(H5Aopen(id(), name.c_str(), H5P_DEFAULT)));
  Handle type(H5_CHECK(H5Aget_type(attr.id())));
  Handle space(H5_CHECK(H5Aget_space(attr.id())));
  const auto n = static_cast<std::size_t>(H5_CHECK(H5Sget_simple_extent_npoints(space.id())));
  return read_string_values(type.id(), n,
                            [&](hid_t mem, void* buf) { H5_CHECK(H5Aread(attr.id(), mem, buf)); });
}

std::string Object::attr_string(const std::string& name) const {
  auto values = attr_strings(name);
  if (values.size() != 1)
    throw Error("read attribute '" + name + "'",
                "holds " + std::to_string(values.size()) + " strings, expected 1");
  return std::move(values.front());
}

// ---- Dataset ---------------------------------------------------------------------------------

std::vector<hsize_t> Dataset::shape() const {
  Handle space(H5_CHECK(H5Dget_space(id())));
  const int rank = H5_CHECK(H5Sget_simple_extent_ndims(space.id()));
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5_CHECK(H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr));
  return dims;
}

std::vector<hsize_t> Dataset::max_shape() const {
  Handle space(H5_CHECK(H5Dget_space(id())));
  const int rank = H5_CHECK(H5Sget_simple_extent_ndims(space.id()));
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  std::vector<hsize_t> max_dims(static_cast<std::size_t>(rank));
  H5_CHECK(H5Sget_simple_extent_dims(space.id(), dims.data(), max_dims.data()));
  return max_dims;
}

hsize_t Dataset::num_elements() const {
  Handle space(H5_CHECK(H5Dget_space(id())));
  return static_cast<hsize_t>(H5_CHECK(H5Sget_simple_extent_npoints(space.id())));
}

Dtype Dataset::dtype() const {
  Handle type(H5_CHECK(H5Dget_type(id())));
  return classify(type.id());
}

std::size_t Dataset::element_size() const {
  Handle type(H5_CHECK(H5Dget_type(id())));
  return H5Tget_size(type.id());
}

std::vector<hsize_t> Dataset::chunk_dims() const {
  Handle dcpl(H5_CHECK(H5Dget_create_plist(id())));
  if (H5_CHECK(H5Pget_layout(dcpl.id())) != H5D_CHUNKED) return {};
  std::vector<hsize_t> dims(ndim());
  H5_CHECK(H5Pget_chunk(dcpl.id(), static_cast<int>(dims.size()), dims.data()));
  return dims;
}

namespace {
// Fills cd_values of the first filter with id `filter`; false when the filter is absent.
bool find_filter(hid_t dcpl, H5Z_filter_t filter, unsigned* level) {
  const int n = H5_CHECK(H5Pget_nfilters(dcpl));
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0;
    unsigned filter_config = 0;
    std::size_t nelmts = 1;
    unsigned values[1] = {0};
    const H5Z_filter_t f = H5_CHECK(H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &nelmts,
                                                   values, 0, nullptr, &filter_config));
    if (f == filter) {
      if (level) *level = nelmts > 0 ? values[0] : 0;
      return true;
    }
  }
  return false;
}
}  // namespace

int Dataset::gzip_level() const {
  Handle dcpl(H5_CHECK(H5Dget_create_plist(id())));
  unsigned level = 0;
  return find_filter(dcpl.id(), H5Z_FILTER_DEFLATE, &level) ? static_cast<int>(level) : 0;
}

bool Dataset::shuffled() const {
  Handle dcpl(H5_CHECK(H5Dget_create_plist(id())));
  return find_filter(dcpl.id(), H5Z_FILTER_SHUFFLE, nullptr);
}

namespace {
// The file-side selection and matching memory space for a slab (or the whole dataset).
struct Selection {
  Handle file_space;
  Handle mem_space;
  hsize_t count = 0;
};

Selection select(hid_t dset, const std::vector<hsize_t>& offset,
                 const std::vector<hsize_t>& count) {
  Selection sel;
  sel.file_space = Handle(H5_CHECK(H5Dget_space(dset)));
  const int rank = H5_CHECK(H5Sget_simple_extent_ndims(sel.file_space.id()));
  if (offset.empty() && count.empty()) {
    sel.count = static_cast<hsize_t>(H5_CHECK(H5Sget_simple_extent_npoints(sel.file_space.id())));
  } else {
    if (offset.size() != static_cast<std::size_t>(rank) || count.size() != offset.size())
      throw std::invalid_argument("h5: hyperslab rank " + std::to_string(offset.size()) + "/" +
                                  std::to_string(count.size()) + " does not match dataset rank " +
                                  std::to_string(rank));
    sel.count = product(count);
    if (sel.count > 0)
      H5_CHECK(H5Sselect_hyperslab(sel.file_space.id(), H5S_SELECT_SET, offset.data(), nullptr,
                                   count.data(), nullptr));
  }
  // The memory space has the slab's own shape: against a 1-D memory space HDF5 cannot match
  // the two selections and copies an N-D slab element by element (~20 MB/s instead of memcpy).
  std::vector<hsize_t> mem_dims;
  if (offset.empty() && count.empty()) {
    mem_dims.resize(static_cast<std::size_t>(rank));
    if (rank > 0)
      H5_CHECK(H5Sget_simple_extent_dims(sel.file_space.id(), mem_dims.data(), nullptr));
  } else {
    mem_dims = count;
  }
  if (mem_dims.empty() || sel.count == 0) mem_dims = {sel.count};  // scalar, or nothing to move
  sel.mem_space = Handle(
      H5_CHECK(H5Screate_simple(static_cast<int>(mem_dims.size()), mem_dims.data(), nullptr)));
  return sel;
}

void check_count(const Selection& sel, std::size_t n) {
  if (sel.count != n)
    throw std::invalid_argument("h5: buffer holds " + std::to_string(n) +
                                " elements, selection needs " + std::to_string(sel.count));
}
}  // namespace

namespace {
// HDF5's automatic error printing is per thread where HDF5 is thread-safe: a thread that reads or
// writes a dataset that another thread opened (a task thread, say) silences it once for itself.
void silence_this_thread() noexcept {
  static thread_local const bool silenced = (detail::silence_errors(), true);
  (void)silenced;
}
}  // namespace

void Dataset::write_raw(Dtype mem, const std::vector<hsize_t>& offset,
                        const std::vector<hsize_t>& count, std::size_t n, const void* data) {
  silence_this_thread();
  Selection sel = select(id(), offset, count);
  check_count(sel, n);
  if (n == 0) return;
  H5_CHECK(
      H5Dwrite(id(), native_type(mem), sel.mem_space.id(), sel.file_space.id(), H5P_DEFAULT, data));
}

void Dataset::read_raw(Dtype mem, const std::vector<hsize_t>& offset,
                       const std::vector<hsize_t>& count, std::size_t n, void* out) const {
  silence_this_thread();
  Selection sel = select(id(), offset, count);
  check_count(sel, n);
  if (n == 0) return;
  H5_CHECK(
      H5Dread(id(), native_type(mem), sel.mem_space.id(), sel.file_space.id(), H5P_DEFAULT, out));
}

void Dataset::write_chunk(const std::vector<hsize_t>& offset,
                          std::span<const std::uint8_t> stored) {
  // Filter mask 0: every filter of the pipeline was applied.
  H5_CHECK(H5Dwrite_chunk(id(), H5P_DEFAULT, 0, offset.data(), stored.size(), stored.data()));
}

std::vector<std::filesystem::path> dataset_sources(const std::filesystem::path& file,
                                                   const std::string& dataset) {
  namespace fs = std::filesystem;
  std::vector<fs::path> out;
  std::error_code ec;
  const auto add = [&](const fs::path& p) {
    if (fs::equivalent(p, file, ec)) return;
    for (const auto& q : out)
      if (fs::equivalent(p, q, ec)) return;
    out.push_back(p);
  };
  File f = File::open(file);
  Dataset d = f.open_dataset(dataset);
  // The file the dataset object lives in: another one when an external link led there.
  Handle fid(H5_CHECK(H5Iget_file_id(d.id())));
  const ssize_t n = H5_CHECK(H5Fget_name(fid.id(), nullptr, 0));
  std::string home(static_cast<std::size_t>(n), '\0');
  H5_CHECK(H5Fget_name(fid.id(), home.data(), home.size() + 1));
  if (fs::exists(home, ec)) add(home);
  // A virtual dataset's sources ("." is the file itself).
  Handle dcpl(H5_CHECK(H5Dget_create_plist(d.id())));
  if (H5Pget_layout(dcpl.id()) == H5D_VIRTUAL) {
    std::size_t count = 0;
    H5_CHECK(H5Pget_virtual_count(dcpl.id(), &count));
    const fs::path dir = fs::path(home).parent_path();
    for (std::size_t i = 0; i < count; ++i) {
      const ssize_t len = H5_CHECK(H5Pget_virtual_filename(dcpl.id(), i, nullptr, 0));
      std::string name(static_cast<std::size_t>(len), '\0');
      H5_CHECK(H5Pget_virtual_filename(dcpl.id(), i, name.data(), name.size() + 1));
      if (name == ".") continue;
      fs::path p(name);
      if (p.is_relative() && fs::exists(dir / p, ec)) p = dir / p;
      if (fs::exists(p, ec)) add(p);
    }
  }
  return out;
}

std::vector<std::uint8_t> deflate_chunk(std::span<const std::uint8_t> raw, std::size_t element_size,
                                        bool shuffle, int level) {
  if (level < 1 || level > 9) throw std::invalid_argument("h5: deflate level must be 1..9");
  std::vector<std::uint8_t> shuffled;
  std::span<const std::uint8_t> in = raw;
  if (shuffle && element_size > 1 && raw.size() / element_size > 1) {
    // HDF5's shuffle filter: byte k of every element, then byte k + 1, ...; a tail of fewer
    // than element_size bytes stays at the end as it is.
    const std::size_t n = raw.size() / element_size;
    shuffled.resize(raw.size());
    for (std::size_t k = 0; k < element_size; ++k) {
      std::uint8_t* out = shuffled.data() + k * n;
      const std::uint8_t* src = raw.data() + k;
      for (std::size_t i = 0; i < n; ++i) out[i] = src[i * element_size];
    }
    std::copy(raw.begin() + static_cast<std::ptrdiff_t>(n * element_size), raw.end(),
              shuffled.begin() + static_cast<std::ptrdiff_t>(n * element_size));
    in = shuffled;
  }
  // HDF5's deflate filter is compress2() at the dataset's level: a zlib stream.
  uLongf size = compressBound(static_cast<uLong>(in.size()));
  std::vector<std::uint8_t> out(size);
  const int rc = compress2(out.data(), &size, in.data(), static_cast<uLong>(in.size()), level);
  if (rc != Z_OK)
    throw std::runtime_error("h5: zlib compress2 failed (" + std::to_string(rc) + ")");
  out.resize(size);
  return out;
}

void Dataset::write_strings(std::span<const std::string> data, hsize_t offset) {
  if (data.empty()) return;
  Selection sel = select(id(), {offset}, {data.size()});
  Handle stored(H5_CHECK(H5Dget_type(id())));
  if (H5_CHECK(H5Tis_variable_str(stored.id())) == 0) {
    // Fixed-length strings: no conversion path from variable-length ones, so pack them here.
    const std::size_t size = H5Tget_size(stored.id());
    std::vector<char> buf(size * data.size(), '\0');
    for (std::size_t i = 0; i < data.size(); ++i) {
      if (data[i].size() > size)
        throw std::invalid_argument("h5: '" + data[i] + "' is longer than " + std::to_string(size) +
                                    " bytes");
      std::memcpy(buf.data() + i * size, data[i].data(), data[i].size());
    }
    Handle mem(H5_CHECK(H5Tcopy(stored.id())));
    H5_CHECK(
        H5Dwrite(id(), mem.id(), sel.mem_space.id(), sel.file_space.id(), H5P_DEFAULT, buf.data()));
    return;
  }
  Handle type = vlen_string_type();
  std::vector<const char*> ptrs;
  ptrs.reserve(data.size());
  for (const auto& s : data) ptrs.push_back(s.c_str());
  H5_CHECK(
      H5Dwrite(id(), type.id(), sel.mem_space.id(), sel.file_space.id(), H5P_DEFAULT, ptrs.data()));
}

std::vector<std::string> Dataset::read_strings(hsize_t offset, hsize_t count) const {
  if (count == 0) return {};
  Selection sel = select(id(), {offset}, {count});
  Handle type(H5_CHECK(H5Dget_type(id())));
  return read_string_values(type.id(), count, [&](hid_t mem, void* buf) {
    H5_CHECK(H5Dread(id(), mem, sel.mem_space.id(), sel.file_space.id(), H5P_DEFAULT, buf));
  });
}

std::vector<std::string> Dataset::read_strings() const {
  const auto dims = shape();
  if (dims.size() > 1) throw std::invalid_argument("h5: read_strings needs a 0-D or 1-D dataset");
  if (dims.empty()) {  // scalar
    Handle type(H5_CHECK(H5Dget_type(id())));
    return read_string_values(type.id(), 1, [&](hid_t mem, void* buf) {
      H5_CHECK(H5Dread(id(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf));
    });
  }
  return read_strings(0, dims[0]);
}

void Dataset::resize(const std::vector<hsize_t>& dims) {
  H5_CHECK(H5Dset_extent(id(), dims.data()));
}

void Dataset::append_strings(std::span<const std::string> data) {
  if (data.empty()) return;
  const hsize_t n = num_elements();
  resize({n + data.size()});
  write_strings(data, n);
}

// ---- Group -----------------------------------------------------------------------------------

namespace {
// Link creation that makes missing intermediate groups ("a/b/c").
Handle intermediate_lcpl() {
  Handle lcpl(H5_CHECK(H5Pcreate(H5P_LINK_CREATE)));
  H5_CHECK(H5Pset_create_intermediate_group(lcpl.id(), 1));
  H5_CHECK(H5Pset_char_encoding(lcpl.id(), H5T_CSET_UTF8));
  return lcpl;
}
}  // namespace

Group Group::create_group(const std::string& name) {
  Handle lcpl = intermediate_lcpl();
  return Group(
      Handle(H5_CHECK(H5Gcreate2(id(), name.c_str(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT))));
}

Group Group::open_group(const std::string& name) const {
  return Group(Handle(H5_CHECK(H5Gopen2(id(), name.c_str(), H5P_DEFAULT))));
}

Group Group::require_group(const std::string& name) {
  return exists(name) ? open_group(name) : create_group(name);
}

bool Group::exists(const std::string& path) const {
  // H5Lexists fails (instead of answering false) when an intermediate link is missing, so walk
  // the path one component at a time.
  std::string prefix = path.starts_with('/') ? "/" : "";
  std::size_t pos = prefix.size();
  while (pos < path.size()) {
    std::size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    if (next > pos) {
      if (!prefix.empty() && prefix.back() != '/') prefix += '/';
      prefix.append(path, pos, next - pos);
      if (H5_CHECK(H5Lexists(id(), prefix.c_str(), H5P_DEFAULT)) <= 0) return false;
      if (next < path.size() && !is_group(prefix)) return false;
    }
    pos = next + 1;
  }
  return true;
}

bool Group::is_group(const std::string& name) const {
  Handle obj(H5_CHECK(H5Oopen(id(), name.c_str(), H5P_DEFAULT)));
  return H5Iget_type(obj.id()) == H5I_GROUP;
}

bool Group::is_dataset(const std::string& name) const {
  Handle obj(H5_CHECK(H5Oopen(id(), name.c_str(), H5P_DEFAULT)));
  return H5Iget_type(obj.id()) == H5I_DATASET;
}

std::vector<std::string> Group::member_names() const {
  std::vector<std::string> names;
  auto cb = [](hid_t, const char* link_name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(link_name);
    return 0;
  };
  H5_CHECK(H5Literate(id(), H5_INDEX_NAME, H5_ITER_INC, nullptr, cb, &names));
  return names;
}

void Group::unlink(const std::string& name) {
  H5_CHECK(H5Ldelete(id(), name.c_str(), H5P_DEFAULT));
}

Dataset Group::create_dataset(const std::string& name, Dtype dtype,
                              const std::vector<hsize_t>& dims, const DatasetOptions& options) {
  const std::size_t rank = dims.size();
  if (!options.max_dims.empty() && options.max_dims.size() != rank)
    throw std::invalid_argument("h5: max_dims rank does not match dims for '" + name + "'");
  if (!options.chunk.empty() && options.chunk.size() != rank)
    throw std::invalid_argument("h5: chunk rank does not match dims for '" + name + "'");
  if (options.gzip < 0 || options.gzip > 9)
    throw std::invalid_argument("h5: gzip level must be 0..9 for '" + name + "'");

  Handle type = make_file_type(dtype);
  if (dtype == Dtype::string && options.string_size > 0) {
    type = Handle(H5_CHECK(H5Tcopy(H5T_C_S1)));
    H5_CHECK(H5Tset_size(type.id(), options.string_size));
    H5_CHECK(H5Tset_strpad(type.id(), H5T_STR_NULLPAD));
    H5_CHECK(H5Tset_cset(type.id(), H5T_CSET_UTF8));
  }
  Handle space = simple_space(dims, options.max_dims.empty() ? nullptr : options.max_dims.data());
  Handle dcpl(H5_CHECK(H5Pcreate(H5P_DATASET_CREATE)));

  const bool extendible = std::any_of(options.max_dims.begin(), options.max_dims.end(),
                                      [&](hsize_t m) { return m == unlimited; }) ||
                          (!options.max_dims.empty() && options.max_dims != dims);
  const bool wants_chunks =
      !options.chunk.empty() || extendible || options.gzip > 0 || options.shuffle;
  if (wants_chunks && rank > 0) {
    std::vector<hsize_t> chunk = options.chunk;
    if (chunk.empty()) {
      // About 1 MiB per chunk: large enough for throughput, small enough for partial reads.
      const std::size_t element = dtype == Dtype::string ? sizeof(char*) : H5Tget_size(type.id());
      hsize_t inner = 1;
      chunk.assign(rank, 1);
      for (std::size_t i = 1; i < rank; ++i) {
        chunk[i] = std::max<hsize_t>(dims[i], 1);
        inner *= chunk[i];
      }
      const hsize_t target = std::max<hsize_t>(1, (hsize_t{1} << 20) / element / inner);
      chunk[0] = dims[0] > 0 && !extendible ? std::min(dims[0], target) : target;
    }
    H5_CHECK(H5Pset_chunk(dcpl.id(), static_cast<int>(rank), chunk.data()));
    if (options.shuffle) H5_CHECK(H5Pset_shuffle(dcpl.id()));
    if (options.gzip > 0) H5_CHECK(H5Pset_deflate(dcpl.id(), static_cast<unsigned>(options.gzip)));
  }
  Handle lcpl = intermediate_lcpl();
  return Dataset(Handle(H5_CHECK(
      H5Dcreate2(id(), name.c_str(), type.id(), space.id(), lcpl.id(), dcpl.id(), H5P_DEFAULT))));
}

Dataset Group::open_dataset(const std::string& name) const {
  return Dataset(Handle(H5_CHECK(H5Dopen2(id(), name.c_str(), H5P_DEFAULT))));
}

Dataset Group::write_strings(const std::string& name, std::span<const std::string> data,
                             const DatasetOptions& options) {
  Dataset d = create_dataset(name, Dtype::string, {data.size()}, options);
  d.write_strings(data);
  return d;
}

Dataset Group::write_string(const std::string& name, std::string_view value) {
  Handle type = vlen_string_type();
  Handle space(H5_CHECK(H5Screate(H5S_SCALAR)));
  Handle lcpl = intermediate_lcpl();
  Dataset d(Handle(H5_CHECK(
      H5Dcreate2(id(), name.c_str(), type.id(), space.id(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT))));
  const std::string copy(value);
  const char* ptr = copy.c_str();
  H5_CHECK(H5Dwrite(d.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &ptr));
  return d;
}

Dataset Group::write_scalar_raw(const std::string& name, Dtype dtype, const void* value) {
  Handle space(H5_CHECK(H5Screate(H5S_SCALAR)));
  Handle lcpl = intermediate_lcpl();
  Dataset d(Handle(H5_CHECK(H5Dcreate2(id(), name.c_str(), file_type(dtype), space.id(), lcpl.id(),
                                       H5P_DEFAULT, H5P_DEFAULT))));
  H5_CHECK(H5Dwrite(d.id(), native_type(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, value));
  return d;
}

// ---- File ------------------------------------------------------------------------------------

namespace detail {
// The file driver files opened for writing go through (h5_driver.cpp): HDF5's POSIX driver,
// except that it reserves disk space as HDF5 claims it and writes nothing more once a claim or
// a write failed.
hid_t writer_driver();
}  // namespace detail

namespace {
// The writer takes no HDF5 file lock: poolrun's own lock (common/lock.hpp) keeps one writer per
// output, and HDF5's exclusive lock would fail the run whenever a reader (h5py with swmr=True,
// poolreport --follow) has the file open at a reopen, at the start of SWMR writing or at a
// resume.
void no_file_lock(hid_t fapl) {
  H5_CHECK(H5Pset_file_locking(fapl, false, true));
}
}  // namespace

File File::create(const std::filesystem::path& path, bool strong_close, bool swmr_format) {
  detail::silence_errors();
  Handle fapl(H5_CHECK(H5Pcreate(H5P_FILE_ACCESS)));
  no_file_lock(fapl.id());
  H5_CHECK(H5Pset_driver(fapl.id(), detail::writer_driver(), nullptr));
  if (strong_close) H5_CHECK(H5Pset_fclose_degree(fapl.id(), H5F_CLOSE_STRONG));
  if (swmr_format) H5_CHECK(H5Pset_libver_bounds(fapl.id(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST));
  Handle f(H5_CHECK(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id())));
  return File(std::move(f), path);
}

File File::open(const std::filesystem::path& path, Access access, bool strong_close,
                OpenMode mode) {
  detail::silence_errors();
  unsigned flags = access == Access::read_write ? H5F_ACC_RDWR : H5F_ACC_RDONLY;
  Handle fapl(H5_CHECK(H5Pcreate(H5P_FILE_ACCESS)));
  if (access == Access::read_write) {
    no_file_lock(fapl.id());
    H5_CHECK(H5Pset_driver(fapl.id(), detail::writer_driver(), nullptr));
  }
  if (strong_close) H5_CHECK(H5Pset_fclose_degree(fapl.id(), H5F_CLOSE_STRONG));
  if (mode == OpenMode::swmr_read) {
    flags = H5F_ACC_RDONLY | H5F_ACC_SWMR_READ;
    // A SWMR reader retries metadata whose checksum fails (the writer may be rewriting it),
    // 100 times by default with growing sleeps: minutes on a damaged or truncated file. Twelve
    // tries wait about 4 s in all, ample for a live writer.
    H5_CHECK(H5Pset_metadata_read_attempts(fapl.id(), 12));
  } else if (mode == OpenMode::clear_write_flag) {
    // The file-access property h5clear sets; it exists in every file-access list. The latest
    // format keeps the file ready for SWMR writing. Read-only, it opens a file whose writer died
    // while it had it open without SWMR, and changes nothing in it.
    hbool_t clear = 1;
    H5_CHECK(H5Pset(fapl.id(), "clear_status_flags", &clear));
    H5_CHECK(H5Pset_libver_bounds(fapl.id(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST));
  }
  Handle f(H5_CHECK(H5Fopen(path.c_str(), flags, fapl.id())));
  return File(std::move(f), path);
}

void File::sync() {
  flush();
  void* handle = nullptr;
  H5_CHECK(H5Fget_vfd_handle(id(), H5P_DEFAULT, &handle));
  const int fd = *static_cast<int*>(handle);
  if (::fsync(fd) != 0) {
    const int err = errno;
    throw Error("fsync(" + path_.string() + ")", std::strerror(err), {}, err);
  }
}

void File::start_swmr() {
  H5_CHECK(H5Fstart_swmr_write(id()));
}

bool File::is_hdf5(const std::filesystem::path& path) {
  detail::silence_errors();
  const htri_t r = H5Fis_hdf5(path.c_str());
  if (r < 0) H5Eclear2(H5E_DEFAULT);
  return r > 0;
}

void File::flush() {
  H5_CHECK(H5Fflush(id(), H5F_SCOPE_GLOBAL));
}

void File::close() {
  h_.close();
}

// ---- PendingFile -----------------------------------------------------------------------------

std::filesystem::path PendingFile::partial_path_for(const std::filesystem::path& path) {
  std::filesystem::path p = path;
  p += ".partial";
  return p;
}

PendingFile::PendingFile(std::filesystem::path path)
    : path_(std::move(path)), file_(File::create(partial_path_for(path_), true)) {}

PendingFile PendingFile::create_swmr(std::filesystem::path path) {
  File f = File::create(partial_path_for(path), true, true);
  return PendingFile(std::move(path), std::move(f));
}

void PendingFile::reopen() {
  file_.close();
  file_ = File::open(partial_path(), Access::read_write, true, OpenMode::clear_write_flag);
}

void PendingFile::commit() {
  if (committed_) return;
  file_.flush();
  file_.close();
  const auto partial = partial_path();
  // Data on disk before the name appears, then the rename itself made durable.
  fsync_path(partial, O_RDONLY);
  std::error_code ec;
  std::filesystem::rename(partial, path_, ec);
  if (ec)
    throw std::system_error(ec, "cannot rename " + partial.string() + " to " + path_.string());
  auto dir = path_.parent_path();
  fsync_path(dir.empty() ? std::filesystem::path(".") : dir, O_RDONLY | O_DIRECTORY);
  committed_ = true;
}

}  // namespace h5
