// What poolrun exec records of one task: the partial of its ledger row (/partials, the bytes of
// libpool::Codec, layout in docs/output.md), read back by --resume and by poolreport.
#pragma once

#include <libpool/codec.hpp>

#include <cstdint>
#include <string>

namespace poolrun {

struct ExecRecord {
  // The command's exit status when it exited (0 to 255); -1 when a signal ended it or it never
  // started.
  std::int32_t exit_code = -1;
  // The signal that ended it (0: none).
  std::int32_t signal = 0;
  // 1 when --timeout killed it.
  std::uint8_t timed_out = 0;
  // How many times it ran (1 + the retries it took).
  std::int32_t tries = 0;
  // Start and end of the last try, seconds since the Unix epoch.
  double start = 0;
  double end = 0;
  // The command as run: a line for /bin/sh -c, substitutions quoted (a task file line to rerun).
  std::string command;
  // The last --keep-output bytes of its standard output and error, and their whole sizes.
  std::string out_tail;
  std::string err_tail;
  std::uint64_t out_bytes = 0;
  std::uint64_t err_bytes = 0;
  // Why it could not start (no such program, working directory gone); empty when it ran.
  std::string error;
  // Where it ran.
  std::int32_t rank = 0;
  std::string host;
  // 1 when the rank was stopped by a signal while the task ran (never recorded: the task is
  // not done).
  std::uint8_t interrupted = 0;

  bool ok() const { return exit_code == 0 && signal == 0 && timed_out == 0 && error.empty(); }
  LIBPOOL_FIELDS(exit_code, signal, timed_out, tries, start, end, command, out_tail, err_tail,
                 out_bytes, err_bytes, error, rank, host, interrupted)
};

}  // namespace poolrun
