// Setup errors: what failed, the errno, and what the user can do about it.
// The fast path never throws; everything that can fail at setup throws ncap::Error.
#pragma once

#include <stdexcept>
#include <string>

namespace ncap {

class Error : public std::runtime_error {
 public:
  // `what` names the operation and its object ("open /dev/vfio/12"), `err` is the errno
  // (0 when there is none) and `fix` tells the user what to do ("run: ncap-bind ...").
  Error(std::string what, int err = 0, std::string fix = {});

  const std::string& operation() const noexcept { return operation_; }
  int errnum() const noexcept { return errnum_; }
  const std::string& fix() const noexcept { return fix_; }

 private:
  std::string operation_;
  int errnum_;
  std::string fix_;
};

// Throws ncap::Error with the current errno.
[[noreturn]] void throw_errno(std::string what, std::string fix = {});

}  // namespace ncap
