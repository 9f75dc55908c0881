#pragma once
// Versions of the libraries the core is built on, for About boxes and bug reports.
#include <string>

namespace quantlens {
std::string eigen_version();
std::string hdf5_version();
std::string protobuf_version();
}  // namespace quantlens
