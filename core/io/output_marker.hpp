#pragma once
// QuantLens's mark on what it writes, so an existing output can be told apart from the user's
// own files (util/output_guard.hpp replaces only marked outputs, and only with --force):
// - a folder holds a file named .quantlens-output;
// - a GGUF file has the metadata key quantlens.writer, a safetensors file the __metadata__
//   key quantlens.writer;
// - a JSON file is an object whose "schema" starts with "quantlens." (plans, reports).
// Formats with no place for a mark (CSV, text, HDF5, NumPy, other tools' dialects) are never
// replaced: the user removes them or chooses another name.
#include <map>
#include <string>
#include <vector>

#include "io/gguf.hpp"
#include "util/output_guard.hpp"

namespace quantlens {

inline constexpr const char* kWriterKey = "quantlens.writer";
inline constexpr const char* kFolderMarker = ".quantlens-output";

std::string writer_stamp();  // "QuantLens 0.1.0"

// Whether the existing file or folder at `path` carries the mark. Reads at most a header.
bool carries_quantlens_marker(const std::string& path);

// The metadata with the mark set (replacing an earlier one, never duplicating the key).
std::vector<GgufValue> with_writer_mark(std::vector<GgufValue> metadata);
std::map<std::string, std::string> with_writer_mark(std::map<std::string, std::string> metadata);

// check_output() with the marker probe above.
void guard_output(const OutputRequest& request);

}  // namespace quantlens
