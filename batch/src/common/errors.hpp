// Errors shared by the apps. A UsageError is the user's to fix (bad option, existing output):
// the app prints its one-line message and exits with code 2 before any work starts.
#pragma once

#include <libpool/batch/errors.hpp>

namespace common {

using UsageError = libpool::batch::UsageError;

}  // namespace common
