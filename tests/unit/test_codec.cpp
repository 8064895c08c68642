// Codec round trips, bounds checking, and the registry's rules.

#include <gtest/gtest.h>
#include <libpool/codec_eigen.hpp>
#include <libpool/libpool.hpp>

#include <array>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace {

struct Plain {
  int a;
  double b;
  char c[3];
};

struct WithFields {
  std::string name;
  std::vector<int> xs;
  std::optional<double> weight;
  LIBPOOL_FIELDS(name, xs, weight)
};

template <class T>
T round_trip(const T& v) {
  libpool::Writer w = libpool::encode(v);
  return libpool::decode<T>(w.data(), w.size());
}

int twice(int x) {
  return 2 * x;
}
int thrice(int x) {
  return 3 * x;
}
std::string name_of(const std::string& s) {
  return s;
}

}  // namespace

TEST(Codec, ScalarsAndPlainStructs) {
  EXPECT_EQ(round_trip(42), 42);
  EXPECT_EQ(round_trip(-1.5), -1.5);
  EXPECT_EQ(round_trip(std::uint64_t{1} << 63), std::uint64_t{1} << 63);
  Plain p{7, 2.5, {'x', 'y', 'z'}};
  Plain q = round_trip(p);
  EXPECT_EQ(q.a, 7);
  EXPECT_EQ(q.b, 2.5);
  EXPECT_EQ(q.c[2], 'z');
  EXPECT_EQ(libpool::encode(p).size(), sizeof(Plain)) << "trivially copyable types go as bytes";
}

TEST(Codec, StandardContainers) {
  EXPECT_EQ(round_trip(std::string("")), "");
  EXPECT_EQ(round_trip(std::string("h\0llo", 5)), std::string("h\0llo", 5));
  EXPECT_EQ(round_trip(std::vector<int>{}), std::vector<int>{});
  EXPECT_EQ(round_trip(std::vector<double>{1, 2, 3}), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(round_trip(std::vector<bool>{true, false, true}),
            (std::vector<bool>{true, false, true}));
  EXPECT_EQ(round_trip(std::vector<std::string>{"a", "", "ccc"}),
            (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(round_trip(std::array<std::string, 2>{"x", "y"}),
            (std::array<std::string, 2>{"x", "y"}));
  EXPECT_EQ(round_trip(std::pair<int, std::string>{3, "z"}), (std::pair<int, std::string>{3, "z"}));
  EXPECT_EQ(round_trip(std::tuple<int, std::string, double>{1, "t", 0.25}),
            (std::tuple<int, std::string, double>{1, "t", 0.25}));
  EXPECT_EQ(round_trip(std::optional<std::string>{}), std::nullopt);
  EXPECT_EQ(round_trip(std::optional<std::string>{"o"}), std::optional<std::string>{"o"});
  EXPECT_EQ(round_trip(std::vector<std::vector<int>>{{1}, {}, {2, 3}}),
            (std::vector<std::vector<int>>{{1}, {}, {2, 3}}));
}

TEST(Codec, UserStructWithFields) {
  WithFields v{"particle", {1, 2, 3}, 0.5};
  WithFields w = round_trip(v);
  EXPECT_EQ(w.name, "particle");
  EXPECT_EQ(w.xs, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(w.weight, 0.5);
}

TEST(Codec, EigenMatricesKeepShapeAndLayout) {
  Eigen::MatrixXd m(3, 2);
  m << 1, 2, 3, 4, 5, 6;
  EXPECT_EQ(round_trip(m), m);
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> r(2, 3);
  r << 1, 2, 3, 4, 5, 6;
  EXPECT_EQ(round_trip(r), r);
  Eigen::Vector2d two(7, 8);  // fixed size 2: must not be read as the coefficients (2, 1)
  EXPECT_EQ(round_trip(two), two);
  Eigen::ArrayXi a = Eigen::ArrayXi::LinSpaced(5, 0, 4);
  EXPECT_TRUE((round_trip(a) == a).all());
  // A fixed-size matrix refuses another shape.
  Eigen::MatrixXd wrong(3, 3);
  wrong.setZero();
  auto w = libpool::encode(wrong);
  EXPECT_THROW((libpool::decode<Eigen::Matrix2d>(w.data(), w.size())), libpool::CodecError);
}

TEST(Codec, TruncatedAndTrailingBytesAreErrors) {
  auto w = libpool::encode(std::string("hello"));
  for (std::size_t n = 0; n < w.size(); ++n) {
    EXPECT_THROW(libpool::decode<std::string>(w.data(), n), libpool::CodecError) << n;
  }
  auto v = libpool::encode(7);
  v.put(8);
  EXPECT_THROW(libpool::decode<int>(v.data(), v.size()), libpool::CodecError);
}

TEST(Codec, CorruptLengthDoesNotAllocate) {
  libpool::Writer w;
  w.put(std::uint64_t{1} << 60);  // claims 2^60 elements, has none
  EXPECT_THROW(libpool::decode<std::vector<double>>(w.data(), w.size()), libpool::CodecError);
  EXPECT_THROW(libpool::decode<std::vector<std::string>>(w.data(), w.size()), libpool::CodecError);
  EXPECT_THROW(libpool::decode<std::string>(w.data(), w.size()), libpool::CodecError);
  libpool::Writer o;
  o.put(std::uint8_t{7});
  EXPECT_THROW(libpool::decode<std::optional<int>>(o.data(), o.size()), libpool::CodecError);
}

// Found by tests/fuzz/fuzz_codec (inputs in tests/fuzz/crashes/codec). An empty vector's data()
// may be null: decoding one passed null to memcpy, undefined behaviour that the asan preset's
// UBSan stops at.
TEST(Codec, EmptyVectorsDecode) {
  auto w = libpool::encode(std::vector<double>{});
  EXPECT_TRUE(libpool::decode<std::vector<double>>(w.data(), w.size()).empty());
  using Nested = std::vector<std::pair<std::string, std::vector<std::int64_t>>>;
  const Nested nested{{"", {}}, {"x", {}}};
  auto n = libpool::encode(nested);
  EXPECT_EQ(libpool::decode<Nested>(n.data(), n.size()), nested);
}

// Found by tests/fuzz/fuzz_codec: a bool travelled as a raw byte, so a corrupt byte 12 decoded
// into a bool holding 12 (undefined behaviour wherever it is read). Only 0 and 1 are bools.
TEST(Codec, BoolsAreZeroOrOne) {
  for (int b = 2; b < 256; b += 10) {
    const auto byte = static_cast<std::byte>(b);
    EXPECT_THROW(libpool::decode<bool>(&byte, 1), libpool::CodecError) << b;
  }
  for (bool v : {false, true}) {
    auto w = libpool::encode(v);
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(static_cast<int>(w.data()[0]), v ? 1 : 0);
    EXPECT_EQ(libpool::decode<bool>(w.data(), w.size()), v);
  }
  // The fuzzer's input: a vector<bool> of 3 whose second element is 12.
  const std::uint8_t input[] = {3, 0, 0, 0, 0, 0, 0, 0, 0, 12, 1};
  EXPECT_THROW(
      libpool::decode<std::vector<bool>>(reinterpret_cast<const std::byte*>(input), sizeof input),
      libpool::CodecError);
  const std::vector<bool> bits{true, false, true};
  auto w = libpool::encode(bits);
  EXPECT_EQ(libpool::decode<std::vector<bool>>(w.data(), w.size()), bits);
}

TEST(Codec, WriterMovesLeaveAUsableEmptyWriter) {
  libpool::Writer a;
  a.put(1);
  libpool::Writer b = std::move(a);
  EXPECT_EQ(b.size(), sizeof(int));
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is specified empty
  a.put(2);
  EXPECT_EQ(libpool::decode<int>(a.data(), a.size()), 2);
}

TEST(Registry, RefusesDuplicatesAndUnknowns) {
  libpool::Registry r;
  r.add("twice", twice);
  EXPECT_THROW(r.add("twice", thrice), libpool::RegistryError);
  EXPECT_THROW(r.add("again", twice), libpool::RegistryError);
  EXPECT_THROW(r.add("", thrice), libpool::RegistryError);
  EXPECT_THROW(r.entry(thrice), libpool::RegistryError);
  EXPECT_EQ(r.entry(twice).name, "twice");
  EXPECT_EQ(r.find(r.entry(twice).hash)->name, "twice");
  EXPECT_EQ(r.find(std::uint64_t{12345}), nullptr);
}

TEST(Registry, FingerprintIgnoresOrderButNotNames) {
  libpool::Registry a, b, c;
  a.add("twice", twice).add("thrice", thrice);
  b.add("thrice", thrice).add("twice", twice);
  c.add("twice", twice).add("three", thrice);
  EXPECT_EQ(a.fingerprint(), b.fingerprint());
  EXPECT_NE(a.fingerprint(), c.fingerprint());
  libpool::Registry d;
  d.add("twice", twice);
  EXPECT_NE(a.fingerprint(), d.fingerprint());
  EXPECT_EQ(a.names(), (std::vector<std::string>{"thrice", "twice"}));
}

TEST(Registry, TrampolinesDecodeCallEncode) {
  libpool::Registry r;
  r.add("name_of", name_of);
  const auto& e = r.entry(name_of);
  libpool::Writer args = libpool::encode(std::string("abc"));
  libpool::Reader in(args.data(), args.size());
  libpool::Writer out;
  libpool::detail::Phase phase{};
  e.call(e.fn, in, out, phase);
  EXPECT_EQ(libpool::decode<std::string>(out.data(), out.size()), "abc");
  // Wrong argument bytes: a CodecError while decoding arguments.
  libpool::Writer bad;
  bad.put(std::uint8_t{1});
  libpool::Reader bad_in(bad.data(), bad.size());
  EXPECT_THROW(e.call(e.fn, bad_in, out, phase), libpool::CodecError);
  EXPECT_EQ(phase, libpool::detail::Phase::DecodeArguments);
}
