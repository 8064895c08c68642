#pragma once
#include "libpool/errors.hpp"

namespace libpool::batch {

// A problem with the options or the inputs, found before any work: one line on stderr, exit 2,
// no output touched.
class UsageError : public libpool::Error {
 public:
  using libpool::Error::Error;
};

}  // namespace libpool::batch
