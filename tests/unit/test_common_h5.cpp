// The checked HDF5 wrapper, verified through the raw HDF5 C API.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "common/h5.hpp"
#include "common/table.hpp"
#include "test_common_util.hpp"

using namespace test_common;

TEST(CommonH5, AttributesRoundTripThroughRawApi) {
  TempDir dir;
  const auto path = dir / "attrs.h5";
  {
    h5::File f = h5::File::create(path);
    f.set_attr("name", "héllo wörld");
    f.set_attr("i64", std::int64_t{-42});
    f.set_attr("u64", std::numeric_limits<std::uint64_t>::max());
    f.set_attr("f64", 0.1);
    const std::vector<std::string> hosts{"node1", "node2"};
    f.set_attr("hosts", std::span<const std::string>(hosts));
    f.set_attr("name", "replaced");  // replacing keeps one attribute of that name
    h5::Group g = f.create_group("a/b");
    g.set_attr("x", std::int64_t{7});
    EXPECT_EQ(g.path(), "/a/b");
    EXPECT_EQ(f.attr_string("name"), "replaced");
    EXPECT_EQ(f.attr<std::uint64_t>("u64"), std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(f.attr<double>("i64"), -42.0);  // conversion on read
    EXPECT_EQ(f.attr_strings("hosts"), hosts);
    EXPECT_EQ(f.attr_dtype("f64"), h5::Dtype::float64);
    EXPECT_EQ(f.attr_names(), (std::vector<std::string>{"f64", "hosts", "i64", "name", "u64"}));
    f.close();
  }
  const hid_t f = raw_open(path);
  ASSERT_GE(f, 0);
  EXPECT_EQ(raw_attr_string(f, ".", "name"), "replaced");
  EXPECT_EQ(raw_attr_num<std::int64_t>(f, ".", "i64", H5T_NATIVE_INT64, H5T_INTEGER), -42);
  EXPECT_EQ(raw_attr_num<std::uint64_t>(f, ".", "u64", H5T_NATIVE_UINT64, H5T_INTEGER),
            std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(raw_attr_num<double>(f, ".", "f64", H5T_NATIVE_DOUBLE, H5T_FLOAT), 0.1);
  EXPECT_EQ(raw_attr_strings(f, ".", "hosts"), (std::vector<std::string>{"node1", "node2"}));
  EXPECT_EQ(raw_attr_num<std::int64_t>(f, "a/b", "x", H5T_NATIVE_INT64, H5T_INTEGER), 7);
  H5Fclose(f);
}

TEST(CommonH5, DatasetsRoundTripThroughRawApi) {
  TempDir dir;
  const auto path = dir / "data.h5";
  const std::vector<std::int64_t> i64{-1, 0, 1, std::numeric_limits<std::int64_t>::min()};
  const std::vector<std::uint64_t> u64{0, 1, std::numeric_limits<std::uint64_t>::max()};
  const std::vector<double> f64{0.5, -1e300, 3.0};
  const std::vector<std::string> strs{"21333332533333340000000", "", "ünïcode"};
  {
    h5::File f = h5::File::create(path);
    f.write_dataset("r/i64", i64);
    f.write_dataset("r/u64", u64);
    f.write_dataset("r/f64", f64);
    f.write_strings("r/strs", strs);
    f.write_scalar("r/count", std::uint64_t{455052511});
    f.write_string("r/total", "12345678901234567890123");
  }
  const hid_t f = raw_open(path);
  ASSERT_GE(f, 0);
  EXPECT_EQ(raw_dataset<std::int64_t>(f, "r/i64", H5T_NATIVE_INT64), i64);
  EXPECT_EQ(raw_dataset<std::uint64_t>(f, "r/u64", H5T_NATIVE_UINT64), u64);
  EXPECT_EQ(raw_dataset<double>(f, "r/f64", H5T_NATIVE_DOUBLE), f64);
  EXPECT_EQ(raw_dataset_strings(f, "r/strs"), strs);
  EXPECT_EQ(raw_dataset<std::uint64_t>(f, "r/count", H5T_NATIVE_UINT64),
            std::vector<std::uint64_t>{455052511});
  EXPECT_EQ(raw_dataset_strings(f, "r/total"), std::vector<std::string>{"12345678901234567890123"});
  std::size_t size = 0;
  EXPECT_EQ(raw_dataset_class(f, "r/u64", &size), H5T_INTEGER);
  EXPECT_EQ(size, 8u);
  H5Fclose(f);

  // And back through the wrapper.
  h5::File r = h5::File::open(path);
  EXPECT_EQ(r.open_dataset("r/i64").read<std::int64_t>(), i64);
  EXPECT_EQ(r.open_dataset("r/strs").read_strings(), strs);
  EXPECT_EQ(r.open_dataset("r/total").read_strings(),
            std::vector<std::string>{"12345678901234567890123"});
  EXPECT_EQ(r.open_dataset("r/u64").dtype(), h5::Dtype::uint64);
  EXPECT_TRUE(r.exists("r/f64"));
  EXPECT_TRUE(r.exists("/r"));
  EXPECT_FALSE(r.exists("r/missing"));
  EXPECT_FALSE(r.exists("missing/deeper"));
  EXPECT_FALSE(r.exists("r/f64/not_a_group"));
  EXPECT_TRUE(r.is_group("r"));
  EXPECT_TRUE(r.is_dataset("r/f64"));
  EXPECT_EQ(r.open_group("r").member_names(),
            (std::vector<std::string>{"count", "f64", "i64", "strs", "total", "u64"}));
}

TEST(CommonH5, ChunkedCompressedSlabsAndConversion) {
  TempDir dir;
  const auto path = dir / "chunked.h5";
  constexpr hsize_t rows = 100, cols = 7;
  std::vector<std::int32_t> data(rows * cols);
  std::iota(data.begin(), data.end(), 0);
  {
    h5::File f = h5::File::create(path);
    h5::DatasetOptions o;
    o.chunk = {16, cols};
    o.gzip = 4;
    o.shuffle = true;
    h5::Dataset d = f.create_dataset("m", h5::Dtype::int32, {rows, cols}, o);
    d.write(data);
    EXPECT_EQ(d.shape(), (std::vector<hsize_t>{rows, cols}));
    EXPECT_EQ(d.chunk_dims(), (std::vector<hsize_t>{16, cols}));
    EXPECT_EQ(d.gzip_level(), 4);
    EXPECT_TRUE(d.shuffled());
    EXPECT_EQ(d.dtype(), h5::Dtype::int32);
    EXPECT_EQ(d.element_size(), 4u);

    h5::Dataset plain = f.write_dataset("plain", std::vector<double>{1, 2, 3});
    EXPECT_TRUE(plain.chunk_dims().empty());
    EXPECT_EQ(plain.gzip_level(), 0);
    EXPECT_FALSE(plain.shuffled());

    h5::DatasetOptions auto_chunk;
    auto_chunk.gzip = 1;  // compression needs chunks; the wrapper picks them
    h5::Dataset z = f.create_dataset("z", h5::Dtype::float64, {1000}, auto_chunk);
    EXPECT_EQ(z.chunk_dims(), std::vector<hsize_t>{1000});
  }
  // Raw check of the layout and filters.
  const hid_t f = raw_open(path);
  const hid_t d = H5Dopen2(f, "m", H5P_DEFAULT);
  const hid_t dcpl = H5Dget_create_plist(d);
  EXPECT_EQ(H5Pget_layout(dcpl), H5D_CHUNKED);
  EXPECT_EQ(H5Pget_nfilters(dcpl), 2);
  std::vector<std::int32_t> raw(rows * cols);
  EXPECT_GE(H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()), 0);
  EXPECT_EQ(raw, data);
  H5Pclose(dcpl);
  H5Dclose(d);
  H5Fclose(f);

  // A hyperslab read as double (HDF5 converts).
  h5::File r = h5::File::open(path);
  h5::Dataset m = r.open_dataset("m");
  std::vector<double> slab(3 * 2);
  m.read_slab<double>({10, 5}, {3, 2}, std::span<double>(slab));
  EXPECT_EQ(slab, (std::vector<double>{75, 76, 82, 83, 89, 90}));
  std::vector<double> wrong(5);
  EXPECT_THROW(m.read_slab<double>({0, 0}, {3, 2}, std::span<double>(wrong)),
               std::invalid_argument);
}

TEST(CommonH5, ExtendibleAppend) {
  TempDir dir;
  const auto path = dir / "append.h5";
  {
    h5::File f = h5::File::create(path);
    h5::DatasetOptions o;
    o.max_dims = {h5::unlimited};
    o.chunk = {4};
    h5::Dataset d = f.create_dataset("v", h5::Dtype::uint64, {0}, o);
    h5::Dataset s = f.create_dataset("s", h5::Dtype::string, {0}, o);
    for (std::uint64_t i = 0; i < 10; ++i) {
      d.append(std::span<const std::uint64_t>(std::vector<std::uint64_t>{i, i * i}));
      s.append_strings(std::vector<std::string>{std::to_string(i)});
    }
    EXPECT_EQ(d.max_shape(), std::vector<hsize_t>{H5S_UNLIMITED});
  }
  const hid_t f = raw_open(path);
  const auto v = raw_dataset<std::uint64_t>(f, "v", H5T_NATIVE_UINT64);
  ASSERT_EQ(v.size(), 20u);
  EXPECT_EQ(v[18], 9u);
  EXPECT_EQ(v[19], 81u);
  const auto s = raw_dataset_strings(f, "s");
  ASSERT_EQ(s.size(), 10u);
  EXPECT_EQ(s[9], "9");
  H5Fclose(f);
}

TEST(CommonH5, ErrorsAreExceptionsWithStackAndNothingOnStderr) {
  TempDir dir;
  testing::internal::CaptureStderr();
  try {
    (void)h5::File::open(dir / "missing.h5");
    ADD_FAILURE() << "no exception";
  } catch (const h5::Error& e) {
    EXPECT_NE(e.call().find("H5Fopen"), std::string::npos) << e.call();
    EXPECT_NE(e.stack().find("unable to open file"), std::string::npos) << e.stack();
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }
  h5::File f = h5::File::create(dir / "x.h5");
  EXPECT_THROW((void)f.open_dataset("nope"), h5::Error);
  EXPECT_THROW((void)f.attr_string("nope"), h5::Error);
  f.write_dataset("d", std::vector<double>{1.0});
  EXPECT_THROW(f.write_dataset("d", std::vector<double>{1.0}), h5::Error);  // exists already
  EXPECT_THROW((void)f.open_dataset("d").read_strings(), h5::Error);        // not strings
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_FALSE(h5::File::is_hdf5(dir / "missing.h5"));
}

TEST(CommonH5, ErrorMessagesAreOneLineUnlessDebug) {
  TempDir dir;
  auto open_error = [&] {
    try {
      (void)h5::File::open(dir / "missing.h5");
    } catch (const h5::Error& e) {
      return e;
    }
    throw std::logic_error("no exception");
  };
  const h5::Error e = open_error();
  const std::string what = e.what();
  // "H5Fopen: unable to open file: ...No such file...": the function, not its C++ arguments.
  EXPECT_EQ(what.rfind("H5Fopen: unable to open file: ", 0), 0u) << what;
  EXPECT_NE(what.find("No such file"), std::string::npos) << what;
  EXPECT_EQ(what.find("c_str"), std::string::npos) << what;
  EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  EXPECT_EQ(what, e.summary());
  const h5::Error in("x.h5:/d, rows [0, 5)", e);
  EXPECT_EQ(std::string(in.what()), "x.h5:/d, rows [0, 5): " + what);
  EXPECT_EQ(in.stack(), e.stack());
  h5::set_debug_errors(true);
  const h5::Error full = open_error();
  h5::set_debug_errors(false);
  const std::string full_what = full.what();
  EXPECT_EQ(full_what, full.call() + ": " + full.stack());
  EXPECT_NE(full_what.find("c_str"), std::string::npos) << full_what;
  EXPECT_NE(full_what.find("H5F_open(): "), std::string::npos) << full_what;
  EXPECT_EQ(full.summary(), what);
}

TEST(CommonH5, HandlesCloseByTypeAndMove) {
  TempDir dir;
  hid_t file_id = -1;
  hid_t space_id = -1;
  {
    h5::File f = h5::File::create(dir / "h.h5");
    file_id = f.id();
    h5::Handle space(H5_CHECK(H5Screate(H5S_SCALAR)));
    space_id = space.id();
    h5::Handle moved = std::move(space);
    EXPECT_FALSE(space.valid());  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_EQ(moved.id(), space_id);
    EXPECT_GT(H5Iis_valid(space_id), 0);
  }
  EXPECT_LE(H5Iis_valid(space_id), 0);
  EXPECT_LE(H5Iis_valid(file_id), 0);
}

TEST(CommonH5, PendingFileAppearsOnlyOnCommit) {
  TempDir dir;
  const auto path = dir / "out.h5";
  {
    h5::PendingFile p(path);
    p.file().set_attr("x", std::int64_t{1});
    EXPECT_TRUE(std::filesystem::exists(p.partial_path()));
    EXPECT_FALSE(std::filesystem::exists(path));
  }  // destroyed uncommitted
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::exists(h5::PendingFile::partial_path_for(path)));
  {
    h5::PendingFile p(path);
    h5::Group g = p.file().create_group("g");  // left open: a strong close still ends the file
    g.set_attr("y", std::int64_t{2});
    p.commit();
    EXPECT_TRUE(p.committed());
  }
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(h5::PendingFile::partial_path_for(path)));
  const hid_t f = raw_open(path);
  EXPECT_EQ(raw_attr_num<std::int64_t>(f, "g", "y", H5T_NATIVE_INT64, H5T_INTEGER), 2);
  H5Fclose(f);
}

TEST(CommonH5, TableColumnsAndCommittedRows) {
  TempDir dir;
  const auto path = dir / "t.h5";
  {
    h5::File f = h5::File::create(path);
    h5::Table t = h5::Table::create(
        f, "t", {{"a", h5::Dtype::uint64}, {"b", h5::Dtype::float64}, {"c", h5::Dtype::string}},
        {.chunk_rows = 2, .gzip = 1});
    t.append({std::uint64_t{1}, 1.5, std::string("x")});
    EXPECT_THROW(t.append({std::int64_t{1}, 1.5, std::string("x")}), std::invalid_argument);
    EXPECT_THROW(t.append({std::uint64_t{1}}), std::invalid_argument);
    t.flush();
    t.append({std::uint64_t{2}, 2.5, std::string("y")});
    t.append({std::uint64_t{3}, 3.5, std::string("z")});
    EXPECT_EQ(t.rows(), 3u);
    EXPECT_EQ(t.read_column<std::uint64_t>("a"), std::vector<std::uint64_t>{1});  // committed only
  }  // destructor flushes the buffered rows
  const hid_t f = raw_open(path);
  EXPECT_EQ(raw_dataset<std::uint64_t>(f, "t/a", H5T_NATIVE_UINT64),
            (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(raw_dataset<double>(f, "t/b", H5T_NATIVE_DOUBLE), (std::vector<double>{1.5, 2.5, 3.5}));
  EXPECT_EQ(raw_dataset_strings(f, "t/c"), (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(raw_attr_num<std::uint64_t>(f, "t", "rows", H5T_NATIVE_UINT64, H5T_INTEGER), 3u);
  EXPECT_EQ(raw_attr_strings(f, "t", "columns"), (std::vector<std::string>{"a", "b", "c"}));
  H5Fclose(f);

  h5::File rw = h5::File::open(path, h5::Access::read_write);
  h5::Table t = h5::Table::open(rw, "t");
  EXPECT_EQ(t.rows(), 3u);
  t.append({std::uint64_t{4}, 4.5, std::string("w")});
  t.flush();
  EXPECT_EQ(t.read_string_column("c"), (std::vector<std::string>{"x", "y", "z", "w"}));
}

// Chunks deflated by deflate_chunk() and stored by write_chunk() read back through HDF5's own
// shuffle + deflate filters as the values, for 1-, 4- and 8-byte elements, an edge chunk padded
// with the fill value, and without shuffle.
TEST(CommonH5, DeflatedChunksReadBackThroughHdf5Filters) {
  TempDir dir;
  const auto path = dir / "direct.h5";
  const hsize_t rows = 25, cols = 3, chunk_rows = 10;
  auto check = [&](auto zero, bool shuffle) {
    using T = decltype(zero);
    std::vector<T> values(rows * cols);
    for (std::size_t i = 0; i < values.size(); ++i)
      values[i] = static_cast<T>((i * 37 + 11) % 101) - static_cast<T>(i % 2);
    {
      h5::File f = h5::File::create(path);
      h5::DatasetOptions opts;
      opts.chunk = {chunk_rows, cols};
      opts.gzip = 4;
      opts.shuffle = shuffle;
      h5::Dataset d = f.create_dataset("x", h5::dtype_of<T>(), {rows, cols}, opts);
      for (hsize_t r = 0; r < rows; r += chunk_rows) {
        std::vector<T> chunk(chunk_rows * cols, T{});  // the edge chunk: zeros past the end
        const hsize_t n = std::min(chunk_rows, rows - r);
        std::copy_n(values.begin() + static_cast<std::ptrdiff_t>(r * cols), n * cols,
                    chunk.begin());
        const auto z = h5::deflate_chunk(
            {reinterpret_cast<const std::uint8_t*>(chunk.data()), chunk.size() * sizeof(T)},
            sizeof(T), shuffle, 4);
        d.write_chunk({r, 0}, z);
      }
    }
    h5::File f = h5::File::open(path);
    EXPECT_EQ(f.open_dataset("x").read<T>(), values);
    EXPECT_EQ(f.open_dataset("x").gzip_level(), 4);
  };
  for (bool shuffle : {true, false}) {
    check(std::uint8_t{}, shuffle);
    check(std::int32_t{}, shuffle);
    check(double{}, shuffle);
  }
  EXPECT_THROW(h5::deflate_chunk({}, 8, true, 0), std::invalid_argument);
}

// N-D slabs go through memory shaped like the slab: values land in C order either way.
TEST(CommonH5, NdSlabsInCOrder) {
  TempDir dir;
  const auto path = dir / "nd.h5";
  std::vector<std::uint16_t> all(4 * 5 * 6 * 3);
  std::iota(all.begin(), all.end(), std::uint16_t{0});
  {
    h5::File f = h5::File::create(path);
    h5::DatasetOptions opts;
    opts.chunk = {1, 5, 6, 3};
    h5::Dataset d = f.create_dataset("x", h5::Dtype::uint16, {4, 5, 6, 3}, opts);
    d.write(all);
  }
  h5::File f = h5::File::open(path);
  h5::Dataset d = f.open_dataset("x");
  std::vector<std::uint16_t> slab(2 * 2 * 3 * 3);
  d.read_slab<std::uint16_t>({1, 2, 3, 0}, {2, 2, 3, 3}, slab);
  std::size_t i = 0;
  for (std::size_t a = 1; a < 3; ++a)
    for (std::size_t b = 2; b < 4; ++b)
      for (std::size_t c = 3; c < 6; ++c)
        for (std::size_t e = 0; e < 3; ++e, ++i)
          ASSERT_EQ(slab[i], all[((a * 5 + b) * 6 + c) * 3 + e]) << i;
  EXPECT_EQ(d.read<std::uint16_t>(), all);
}
