#include "util/error.hpp"

namespace quantlens {

namespace {
std::string compose(const std::string& file, const std::string& where, const std::string& reason) {
    std::string message = file.empty() ? std::string("<input>") : file;
    if (!where.empty()) message += ": " + where;
    return message + ": " + reason;
}
}  // namespace

Error::Error(std::string file, std::string where, std::string reason)
    : std::runtime_error(compose(file, where, reason)),
      file_(std::move(file)), where_(std::move(where)), reason_(std::move(reason)) {}

std::string at_byte(unsigned long long offset) { return "byte " + std::to_string(offset); }

}  // namespace quantlens
