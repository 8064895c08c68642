// The out-of-line parts of detail/protocol.hpp: the error payload.

#include "libpool/detail/protocol.hpp"

namespace libpool::detail {

namespace {

const char* phase_text(Phase p) {
  switch (p) {
    case Phase::DecodeArguments:
      return "decoding arguments";
    case Phase::Run:
      return "";
    case Phase::EncodeResult:
      return "encoding result";
    case Phase::Initialize:
      return "initializer";
  }
  return "";
}

}  // namespace

void write_error(Writer& out, const std::string& type, const std::string& message, Phase phase,
                 const std::string& host) {
  out.put(type);
  out.put(message);
  out.put(static_cast<std::uint8_t>(phase));
  out.put(host);
}

RemoteErrorInfo read_error(Reader& in) {
  RemoteErrorInfo info;
  info.type = in.get<std::string>();
  info.message = in.get<std::string>();
  const auto phase = static_cast<Phase>(in.get<std::uint8_t>());
  info.host = in.get<std::string>();
  in.expect_end();
  if (const char* p = phase_text(phase); *p) info.message += std::string(" (") + p + ")";
  return info;
}

}  // namespace libpool::detail
