// libFuzzer target: libpool's codec decoder (libpool/codec.hpp) on arbitrary bytes, as a corrupt
// or hostile MPI message would present them. The first byte picks the type. A decode either
// throws CodecError or yields a value that encodes back to exactly the input bytes: the wire
// format is canonical, so anything else means the decoder accepted bytes it misread.
#include <libpool/codec.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

namespace {

struct Record {
  std::int32_t id = 0;
  std::string name;
  std::vector<double> values;
  std::optional<std::uint8_t> tag;
  bool flag = false;
  LIBPOOL_FIELDS(id, name, values, tag, flag)
};

template <class T>
void round_trip(const std::byte* data, std::size_t size) {
  std::optional<T> value;
  try {
    value.emplace(libpool::decode<T>(data, size));
  } catch (const libpool::CodecError&) {
    return;  // refused: the expected answer to corrupt input
  }
  const libpool::Writer again = libpool::encode(*value);
  if (again.size() != size || (size != 0 && std::memcmp(again.data(), data, size) != 0)) {
    std::fprintf(stderr, "codec: %zu bytes decoded, re-encoded as %zu different bytes\n", size,
                 again.size());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto* body = reinterpret_cast<const std::byte*>(data + 1);
  const std::size_t n = size - 1;
  switch (data[0] % 12) {
    case 0:
      round_trip<std::string>(body, n);
      break;
    case 1:
      round_trip<std::vector<std::int64_t>>(body, n);
      break;
    case 2:
      round_trip<std::vector<std::string>>(body, n);
      break;
    case 3:
      round_trip<std::tuple<std::int32_t, std::optional<std::string>, double>>(body, n);
      break;
    case 4:
      round_trip<std::vector<std::pair<std::uint32_t, std::vector<std::uint8_t>>>>(body, n);
      break;
    case 5:
      round_trip<std::array<std::uint16_t, 3>>(body, n);
      break;
    case 6:
      round_trip<std::vector<bool>>(body, n);
      break;
    case 7:
      round_trip<Record>(body, n);
      break;
    case 8:
      round_trip<std::vector<Record>>(body, n);
      break;
    case 9:
      round_trip<std::optional<std::vector<std::optional<bool>>>>(body, n);
      break;
    case 10:
      round_trip<std::vector<std::monostate>>(body, n);
      break;
    default:
      round_trip<std::pair<bool, std::vector<std::vector<double>>>>(body, n);
      break;
  }
  return 0;
}
