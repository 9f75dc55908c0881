#pragma once
// Opens any supported model file or folder, choosing the reader from the content
// (magic bytes, header shape), never from the extension.
#include <memory>
#include <string>
#include <vector>

#include "io/model_file.hpp"

namespace quantlens {

struct ReaderEntry {
    const char* format;
    const char* description;
};

const std::vector<ReaderEntry>& supported_formats();
std::string detect_format(const std::string& path);  // "" when nothing matches
std::unique_ptr<ModelFile> open_model_file(const std::string& path);

}  // namespace quantlens
