// The file driver that outputs are written through (h5.cpp opens every file it writes with it):
// HDF5's POSIX driver (sec2) with two rules of its own, so that a write that fails (a full disk)
// leaves the file as a crash at that moment would, one that the next --resume finishes.
//
// HDF5 1.10 writes a file without ordering outside SWMR, and carries on after a write failed: a
// flush whose raw data met a full disk still writes the metadata that points to that data, it
// rewrites object headers in place to point to blocks it could not write, past the end of
// allocation the superblock on disk records, and a file closed after the failure gets all that
// too. A --resume on a full disk so left an output that no later --resume could open ("addr
// overflow", a checksum that fails), and a row written after the failure could claim a chunk
// whose data never reached the disk. So:
//
//  - Room first. HDF5 claims file space by moving its end of allocation (set_eoa), before it
//    writes anything there or points anything at it. The driver reserves the disk blocks of
//    every byte below that end at once (fallocate, keeping the file size), so a write into space
//    HDF5 has claimed never meets a full disk: the disk fills up at a claim, which fails the
//    HDF5 call that made it before anything refers to the space.
//  - Nothing after a failure. Once a claim or a write has failed, the driver writes nothing more
//    to the file (nor truncates it): what is on disk stays as it was, the last flush included,
//    as after a crash at that moment, also when an error is lost on the way (a close in a
//    destructor). The file's writer is done with it; the next run (a --resume) opens it again.
//
// Where the file system cannot reserve blocks (no fallocate: some NFS, Lustre or FUSE mounts)
// only the second rule holds. A copy-on-write file system (btrfs, ZFS) may still refuse to
// overwrite a block in place when full.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <type_traits>

#include "common/h5.hpp"

namespace h5::detail {

namespace {

struct Guarded {
  H5FD_t pub;               // HDF5's part; first, so that H5FD_t* and Guarded* convert
  H5FD_t* inner = nullptr;  // the sec2 file that does the I/O
  int fd = -1;              // its descriptor, for fallocate
  haddr_t reserved = 0;     // disk blocks are reserved for [0, reserved)
  bool can_reserve = true;  // false once the file system said it cannot
  int failed = 0;           // errno of the first failed claim or write; 0: none yet
  std::string name;
};

// HDF5 hands back the H5FD_t it was given: the first member of a standard-layout struct.
static_assert(std::is_standard_layout_v<Guarded>);

Guarded* guarded(H5FD_t* f) {
  return reinterpret_cast<Guarded*>(f);
}
const Guarded* guarded(const H5FD_t* f) {
  return reinterpret_cast<const Guarded*>(f);
}

// In the form of sec2's own messages ("...: filename = '...', errno = N, error message = '...'"),
// which h5::Error condenses to "<what>: <reason> (<file>)".
void push(const Guarded* g, const char* func, hid_t minor, const char* what, int err) {
  H5Epush2(H5E_DEFAULT, __FILE__, func, __LINE__, H5E_ERR_CLS, H5E_VFL, minor,
           "%s: filename = '%s', errno = %d, error message = '%s'", what, g->name.c_str(), err,
           std::strerror(err));
}

// A later request after a failure: refused, naming the first failure's reason.
herr_t refuse(const Guarded* g, const char* func) {
  push(g, func, H5E_WRITEERROR, "not written, an earlier write to the file failed", g->failed);
  return -1;
}

H5FD_t* open_cb(const char* name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
  const hid_t inner_fapl = H5Pcopy(fapl);
  if (inner_fapl < 0) return nullptr;
  H5FD_t* inner = nullptr;
  void* handle = nullptr;
  if (H5Pset_fapl_sec2(inner_fapl) >= 0) inner = H5FDopen(name, flags, inner_fapl, maxaddr);
  if (inner && H5FDget_vfd_handle(inner, inner_fapl, &handle) < 0) {
    H5FDclose(inner);
    inner = nullptr;
  }
  H5Pclose(inner_fapl);
  if (!inner) return nullptr;
  auto* g = new Guarded{};
  g->inner = inner;
  g->fd = *static_cast<int*>(handle);
  g->name = name;
  return &g->pub;
}

herr_t close_cb(H5FD_t* f) {
  Guarded* g = guarded(f);
  // Blocks reserved past the end of the file (a claim given back, or a failure) are returned.
  struct stat st {};
  if (g->reserved > 0 && ::fstat(g->fd, &st) == 0 && static_cast<haddr_t>(st.st_size) < g->reserved)
    (void)::fallocate(g->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, st.st_size,
                      static_cast<off_t>(g->reserved) - st.st_size);
  // HDF5 closes the file after an open that failed (a claim refused at the superblock), and
  // H5FDclose, an API call, clears the error stack that says why: it is kept aside meanwhile.
  const hid_t why = H5Eget_current_stack();
  const bool keep = why >= 0 && H5Eget_num(why) > 0;
  const herr_t rc = H5FDclose(g->inner);
  if (keep) {
    H5Eset_current_stack(why);  // closes why
  } else if (why >= 0) {
    H5Eclose_stack(why);
  }
  delete g;
  return rc;
}

int cmp_cb(const H5FD_t* a, const H5FD_t* b) {
  return H5FDcmp(guarded(a)->inner, guarded(b)->inner);
}

herr_t query_cb(const H5FD_t* f, unsigned long* flags) {
  // sec2's features: the driver's own ones are asked without a file.
  if (!f) return H5FDdriver_query(H5FD_SEC2, flags);
  return H5FDquery(guarded(f)->inner, flags) < 0 ? -1 : 0;
}

haddr_t get_eoa_cb(const H5FD_t* f, H5FD_mem_t type) {
  return H5FDget_eoa(guarded(f)->inner, type);
}

herr_t set_eoa_cb(H5FD_t* f, H5FD_mem_t type, haddr_t addr) {
  Guarded* g = guarded(f);
  // After a failure HDF5 may still give space back (as it closes the file), claim none.
  if (g->failed && addr > H5FDget_eoa(g->inner, type)) return refuse(g, "set_eoa_cb");
  if (addr > g->reserved && g->can_reserve && !g->failed) {
    int rc;
    do {
      rc = ::fallocate(g->fd, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(g->reserved),
                       static_cast<off_t>(addr - g->reserved));
    } while (rc != 0 && errno == EINTR);
    if (rc == 0) {
      g->reserved = addr;
    } else if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL) {
      g->can_reserve = false;  // HDF5 writes as it would with sec2
    } else {
      g->failed = errno;
      push(g, "set_eoa_cb", H5E_NOSPACE, "cannot reserve file space", g->failed);
      return -1;
    }
  }
  return H5FDset_eoa(g->inner, type, addr);
}

haddr_t get_eof_cb(const H5FD_t* f, H5FD_mem_t type) {
  return H5FDget_eof(guarded(f)->inner, type);
}

herr_t get_handle_cb(H5FD_t* f, hid_t fapl, void** handle) {
  return H5FDget_vfd_handle(guarded(f)->inner, fapl, handle);
}

herr_t read_cb(H5FD_t* f, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void* buf) {
  return H5FDread(guarded(f)->inner, type, dxpl, addr, size, buf);
}

herr_t write_cb(H5FD_t* f, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size,
                const void* buf) {
  Guarded* g = guarded(f);
  if (g->failed) return refuse(g, "write_cb");
  errno = 0;
  if (H5FDwrite(g->inner, type, dxpl, addr, size, buf) < 0) {
    g->failed = errno != 0 ? errno : EIO;
    return -1;
  }
  return 0;
}

herr_t flush_cb(H5FD_t* f, hid_t dxpl, hbool_t closing) {
  Guarded* g = guarded(f);
  if (g->failed) return refuse(g, "flush_cb");
  return H5FDflush(g->inner, dxpl, closing);
}

herr_t truncate_cb(H5FD_t* f, hid_t dxpl, hbool_t closing) {
  Guarded* g = guarded(f);
  // Cutting the file to HDF5's idea of its end would drop blocks the file on disk still uses.
  if (g->failed) return refuse(g, "truncate_cb");
  return H5FDtruncate(g->inner, dxpl, closing);
}

herr_t lock_cb(H5FD_t* f, hbool_t rw) {
  return H5FDlock(guarded(f)->inner, rw);
}

herr_t unlock_cb(H5FD_t* f) {
  return H5FDunlock(guarded(f)->inner);
}

const H5FD_class_t kGuardedClass = {
    "poolrun_guarded_sec2",
    (static_cast<haddr_t>(1) << (8 * sizeof(off_t) - 1)) - 1,  // sec2's largest address
    H5F_CLOSE_WEAK,
    nullptr,  // terminate
    nullptr,  // sb_size: no driver information in the file; any reader opens it with sec2
    nullptr,  // sb_encode
    nullptr,  // sb_decode
    0,        // fapl_size
    nullptr,  // fapl_get
    nullptr,  // fapl_copy
    nullptr,  // fapl_free
    0,        // dxpl_size
    nullptr,  // dxpl_copy
    nullptr,  // dxpl_free
    open_cb,
    close_cb,
    cmp_cb,
    query_cb,
    nullptr,  // get_type_map
    nullptr,  // alloc: HDF5 moves the end of allocation (set_eoa)
    nullptr,  // free
    get_eoa_cb,
    set_eoa_cb,
    get_eof_cb,
    get_handle_cb,
    read_cb,
    write_cb,
    flush_cb,
    truncate_cb,
    lock_cb,
    unlock_cb,
    H5FD_FLMAP_DICHOTOMY};

}  // namespace

hid_t writer_driver() {
  static const hid_t id = H5_CHECK(H5FDregister(&kGuardedClass));
  return id;
}

}  // namespace h5::detail
