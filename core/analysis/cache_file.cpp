#include "analysis/cache_file.hpp"

#include <filesystem>

#include "io/json_limits.hpp"
#include "model/model_identity.hpp"
#include "util/atomic_file.hpp"
#include "util/mapped_file.hpp"

namespace quantlens {

namespace {

std::string checksum_of(const nlohmann::json& payload) {
    return hex64(fnv1a(payload.dump()));
}

}  // namespace

std::optional<nlohmann::json> read_cache_file(const std::string& path, std::string_view schema,
                                              const std::string& key) {
    try {  // a missing, oversized or irregular file reads as no entry, like a corrupt one
        auto json = parse_untrusted_json(read_small_file(path, kMaxCacheFileBytes), path, "cache");
        if (!json.is_object() || json.value("schema", std::string()) != schema ||
            json.value("key", std::string()) != key)
            return std::nullopt;
        auto payload = std::move(json.at("payload"));
        if (json.value("checksum", std::string()) != checksum_of(payload))
            return std::nullopt;
        return payload;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

bool write_cache_file(const std::string& path, std::string_view schema, const std::string& key,
                      const nlohmann::json& payload) {
    try {
        std::filesystem::create_directories(std::filesystem::path(path).parent_path());
        const nlohmann::json entry{
            {"schema", schema}, {"key", key}, {"checksum", checksum_of(payload)}, {"payload", payload}};
        const auto text = entry.dump();
        AtomicFile out(path, AtomicFile::Existing::Replace);  // the cache owns its files
        out.write(text.data(), text.size());
        out.commit();
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

}  // namespace quantlens
