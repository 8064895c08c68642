#pragma once
// Umbrella header: everything a libpool program uses.

#include "libpool/arith.hpp"
#include "libpool/codec.hpp"
#include "libpool/environment.hpp"
#include "libpool/errors.hpp"
#include "libpool/executor.hpp"
#include "libpool/future.hpp"
#include "libpool/options.hpp"
#include "libpool/registry.hpp"
#include "libpool/spans.hpp"
#include "libpool/wait.hpp"

namespace libpool {
// The library's version, as recorded in output files.
const char* version() noexcept;
}  // namespace libpool
