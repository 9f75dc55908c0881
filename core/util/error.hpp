#pragma once
// One exception type for bad input and I/O, carrying where the problem is, so the
// CLI can print it and the GUI can show it without knowing which reader threw it.
#include <stdexcept>
#include <string>

namespace quantlens {

class Error : public std::runtime_error {
public:
    // file: the path the user gave; where: a field name or "byte N"; reason: a sentence
    // saying what was expected and what was found.
    Error(std::string file, std::string where, std::string reason);

    const std::string& file() const { return file_; }
    const std::string& where() const { return where_; }
    const std::string& reason() const { return reason_; }

private:
    std::string file_, where_, reason_;
};

// A result that is not a finite number (a quantizer whose scale overflows its storage, say).
// Unlike a spec that does not apply to a layer ("n/a"), this is a failure: the commands list
// it per layer and exit non-zero instead of printing it as a result.
class NonFiniteResult : public Error {
public:
    using Error::Error;
};

// Thrown by long operations when their CancelToken is set; never carries partial results.
class Cancelled : public std::exception {
public:
    const char* what() const noexcept override { return "cancelled"; }
};

std::string at_byte(unsigned long long offset);  // "byte 1234"

}  // namespace quantlens
