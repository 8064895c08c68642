// Helpers shared by the unit.common tests: a scratch directory and raw HDF5 C readers that do
// not go through the wrapper under test.
#pragma once

#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "common/output.hpp"

namespace test_common {

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("poolcommon-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Raw C API readers: these must not use common/h5.hpp.
inline hid_t raw_open(const std::filesystem::path& p) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  return H5Fopen(p.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
}

inline std::vector<std::string> raw_strings_read(hid_t obj, bool is_attr) {
  const hid_t space = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
  const hid_t ftype = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
  EXPECT_EQ(H5Tget_class(ftype), H5T_STRING);
  EXPECT_EQ(H5Tget_cset(ftype), H5T_CSET_UTF8);
  const auto n = static_cast<std::size_t>(H5Sget_simple_extent_npoints(space));
  if (H5Tis_variable_str(ftype) == 0) {  // fixed-length, NUL-padded (tables written under SWMR)
    const std::size_t size = H5Tget_size(ftype);
    std::vector<char> buf(n * size + 1, '\0');
    const herr_t rc = is_attr ? H5Aread(obj, ftype, buf.data())
                              : H5Dread(obj, ftype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
    EXPECT_GE(rc, 0);
    std::vector<std::string> out;
    for (std::size_t i = 0; i < n; ++i)
      out.emplace_back(buf.data() + i * size, strnlen(buf.data() + i * size, size));
    H5Tclose(ftype);
    H5Sclose(space);
    return out;
  }
  const hid_t mtype = H5Tcopy(H5T_C_S1);
  H5Tset_size(mtype, H5T_VARIABLE);
  H5Tset_cset(mtype, H5T_CSET_UTF8);
  std::vector<char*> ptrs(n, nullptr);
  const herr_t rc = is_attr ? H5Aread(obj, mtype, ptrs.data())
                            : H5Dread(obj, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data());
  EXPECT_GE(rc, 0);
  std::vector<std::string> out;
  for (char* p : ptrs) out.emplace_back(p ? p : "");
  H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, ptrs.data());
  H5Tclose(mtype);
  H5Tclose(ftype);
  H5Sclose(space);
  return out;
}

inline std::vector<std::string> raw_attr_strings(hid_t loc, const char* obj, const char* name) {
  const hid_t a = H5Aopen_by_name(loc, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) {
    ADD_FAILURE() << "no attribute " << obj << " @" << name;
    return {};
  }
  auto v = raw_strings_read(a, true);
  H5Aclose(a);
  return v;
}

inline std::string raw_attr_string(hid_t loc, const char* obj, const char* name) {
  const auto v = raw_attr_strings(loc, obj, name);
  EXPECT_EQ(v.size(), 1u) << obj << " @" << name;
  return v.empty() ? std::string() : v[0];
}

// Reads a scalar numeric attribute; also checks the stored class and size.
template <class T>
T raw_attr_num(hid_t loc, const char* obj, const char* name, hid_t mem_type, H5T_class_t cls) {
  T v{};
  const hid_t a = H5Aopen_by_name(loc, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) {
    ADD_FAILURE() << "no attribute " << obj << " @" << name;
    return v;
  }
  const hid_t t = H5Aget_type(a);
  EXPECT_EQ(H5Tget_class(t), cls) << name;
  EXPECT_EQ(H5Tget_size(t), sizeof(T)) << name;
  EXPECT_GE(H5Aread(a, mem_type, &v), 0);
  H5Tclose(t);
  H5Aclose(a);
  return v;
}

template <class T>
std::vector<T> raw_dataset(hid_t loc, const char* name, hid_t mem_type) {
  const hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
  if (d < 0) {
    ADD_FAILURE() << "no dataset " << name;
    return {};
  }
  const hid_t s = H5Dget_space(d);
  std::vector<T> v(static_cast<std::size_t>(H5Sget_simple_extent_npoints(s)));
  if (!v.empty()) {
    EXPECT_GE(H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), 0);
  }
  H5Sclose(s);
  H5Dclose(d);
  return v;
}

inline std::vector<std::string> raw_dataset_strings(hid_t loc, const char* name) {
  const hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
  if (d < 0) {
    ADD_FAILURE() << "no dataset " << name;
    return {};
  }
  auto v = raw_strings_read(d, false);
  H5Dclose(d);
  return v;
}

inline H5T_class_t raw_dataset_class(hid_t loc, const char* name, std::size_t* size = nullptr) {
  const hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
  const hid_t t = H5Dget_type(d);
  const H5T_class_t c = H5Tget_class(t);
  if (size) *size = H5Tget_size(t);
  H5Tclose(t);
  H5Dclose(d);
  return c;
}

// A /chunks row for tests of the output file and of poolreport.
inline common::ChunkRow chunk_row(std::uint64_t begin, std::uint64_t end, std::int64_t rank,
                                  double t0, double t1, const char* status = "done",
                                  std::int64_t attempt = 1, std::uint64_t partial = 0) {
  common::ChunkRow r;
  r.begin = begin;
  r.end = end;
  r.rank = rank;
  r.start_s = t0;
  r.end_s = t1;
  r.attempt = attempt;
  r.status = status;
  r.pass = "count";
  r.partial = partial;
  return r;
}

}  // namespace test_common
