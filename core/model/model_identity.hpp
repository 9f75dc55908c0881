#pragma once
// What a model's files are, for recognising them again: for the file itself, or every regular
// file of a model folder, its name, size, modification time (ns) and an FNV-1a hash of its
// first MiB (where every supported format keeps its header and tensor table). `content` (sizes
// and header hashes only) names the analysis cache's file and checks that a quantization plan
// is applied to the model it was made for; what a cache entry holds is keyed by a content hash
// of its bytes (util/content_hash.hpp), which this identity, blind past the first MiB, is not.
#include <cstdint>
#include <string>
#include <string_view>

namespace quantlens {

struct ModelIdentity {
    std::string description;    // one line per file: name, size, mtime, header hash
    std::uint64_t hash = 0;     // FNV-1a of the description: changes when any file is touched
    std::uint64_t content = 0;  // FNV-1a of the sizes and header hashes only: the same for a copy
                                // of the model elsewhere (what a quantization plan checks)
    std::string hex() const;    // the hash as 16 hex digits
};

ModelIdentity model_identity(const std::string& path);

std::uint64_t fnv1a(std::string_view bytes, std::uint64_t hash = 1469598103934665603ull);
std::string hex64(std::uint64_t value);

}  // namespace quantlens
