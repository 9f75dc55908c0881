#include "io/output_marker.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "io/json_limits.hpp"
#include "io/safetensors.hpp"
#include "util/mapped_file.hpp"
#include "util/error.hpp"
#include "util/versions.hpp"

namespace quantlens {

namespace fs = std::filesystem;

namespace {

bool regular_file(const std::string& path) {
    struct stat status {};
    return ::lstat(path.c_str(), &status) == 0 && S_ISREG(status.st_mode);
}

bool gguf_marked(const std::string& path) {
    const auto file = MappedFile::open(path);
    const auto header = parse_gguf(file->bytes(), path);
    return std::any_of(header.metadata.begin(), header.metadata.end(),
                       [](const GgufValue& kv) { return kv.key == kWriterKey; });
}

bool safetensors_marked(const std::string& path) {
    const auto file = MappedFile::open(path);
    return parse_safetensors_header(file->bytes(), path).metadata.count(kWriterKey) > 0;
}

bool json_marked(const std::string& path) {
    const auto json = parse_untrusted_json(read_small_text(path, 64 << 20), path, "json");
    if (!json.is_object())
        return false;
    const auto schema = json.find("schema");
    return schema != json.end() && schema->is_string() &&
           schema->get<std::string>().rfind("quantlens.", 0) == 0;
}

}  // namespace

std::string writer_stamp() {
    return "QuantLens " + quantlens_version();
}

bool carries_quantlens_marker(const std::string& path) {
    struct stat status {};
    if (::lstat(path.c_str(), &status) != 0)
        return false;
    if (S_ISDIR(status.st_mode))
        return regular_file((fs::path(path) / kFolderMarker).string());
    if (!S_ISREG(status.st_mode))
        return false;
    const std::string prefix = read_prefix(path, 16);
    try {
        if (prefix.rfind("GGUF", 0) == 0)
            return gguf_marked(path);
        if (prefix.size() >= 9 && prefix[8] == '{')
            return safetensors_marked(path);
        const auto first = prefix.find_first_not_of(" \t\r\n");
        if (first != std::string::npos && prefix[first] == '{')
            return json_marked(path);
    } catch (const Error&) {
        return false;  // unreadable as its format: not an output of ours
    }
    return false;
}

std::vector<GgufValue> with_writer_mark(std::vector<GgufValue> metadata) {
    std::erase_if(metadata, [](const GgufValue& kv) { return kv.key == kWriterKey; });
    metadata.push_back(gguf_string(kWriterKey, writer_stamp()));
    return metadata;
}

std::map<std::string, std::string> with_writer_mark(std::map<std::string, std::string> metadata) {
    metadata[kWriterKey] = writer_stamp();
    return metadata;
}

void guard_output(const OutputRequest& request) {
    check_output(request, carries_quantlens_marker);
}

}  // namespace quantlens
