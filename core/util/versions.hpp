#pragma once
// Versions of the libraries the core is built on, for About boxes and bug reports.
#include <string>

namespace quantlens {
// QuantLens's own version: CMake's PROJECT_VERSION, the one place it is set.
std::string quantlens_version();
std::string eigen_version();
std::string hdf5_version();
std::string protobuf_version();
}  // namespace quantlens
