#include "util/versions.hpp"

#include <H5public.h>
#include <google/protobuf/stubs/common.h>

#include <Eigen/Core>

namespace quantlens {

std::string quantlens_version() {
    return QUANTLENS_VERSION;
}

std::string eigen_version() {
    return std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
           std::to_string(EIGEN_MINOR_VERSION);
}

std::string hdf5_version() {
    unsigned major = 0, minor = 0, release = 0;
    H5get_libversion(&major, &minor, &release);  // the library actually loaded, not the header
    return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release);
}

std::string protobuf_version() {
    return google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION);
}

}  // namespace quantlens
