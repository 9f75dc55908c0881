#pragma once
// The one on-disk form of every QuantLens cache entry (the analysis cache, the sensitivity
// cache): a JSON object {"schema", "key", "checksum", "payload"}, written atomically over the
// previous entry and read back only when its schema and key are the ones asked for and the
// checksum (FNV-1a 64 of the payload's compact JSON) agrees. Anything else reads as "no entry",
// and the caller recomputes: a cache is used, never trusted.
//
// The checksum finds torn, truncated or bit-flipped files. It is not a security boundary:
// whoever can write the cache folder can write an entry that passes it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace quantlens {

inline constexpr std::uint64_t kMaxCacheFileBytes = 256ull << 20;  // a larger file is not read

std::optional<nlohmann::json> read_cache_file(const std::string& path, std::string_view schema,
                                              const std::string& key);

// False when the entry could not be written (a read-only cache folder must not stop the work).
bool write_cache_file(const std::string& path, std::string_view schema, const std::string& key,
                      const nlohmann::json& payload);

}  // namespace quantlens
