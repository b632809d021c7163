#include "ncap/error.hpp"

#include <cerrno>
#include <cstring>

namespace ncap {
namespace {
std::string compose(const std::string& what, int err, const std::string& fix) {
  std::string s = what;
  if (err != 0) s += ": " + std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")";
  if (!fix.empty()) s += "\n  fix: " + fix;
  return s;
}
}  // namespace

Error::Error(std::string what, int err, std::string fix)
    : std::runtime_error(compose(what, err, fix)), operation_(std::move(what)), errnum_(err), fix_(std::move(fix)) {}

void throw_errno(std::string what, std::string fix) {
  int e = errno;
  throw Error(std::move(what), e, std::move(fix));
}

}  // namespace ncap
