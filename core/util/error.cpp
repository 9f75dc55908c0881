#include "util/error.hpp"

namespace quantlens {

namespace {
// "file: where: reason"; an error about something typed (an option, a spec) has no file.
std::string compose(const std::string& file, const std::string& where, const std::string& reason) {
    std::string message = file;
    if (!where.empty())
        message += (message.empty() ? "" : ": ") + where;
    return message.empty() ? reason : message + ": " + reason;
}
}  // namespace

Error::Error(std::string file, std::string where, std::string reason)
    : std::runtime_error(compose(file, where, reason)),
      file_(std::move(file)),
      where_(std::move(where)),
      reason_(std::move(reason)) {}

std::string at_byte(unsigned long long offset) {
    return "byte " + std::to_string(offset);
}

}  // namespace quantlens
