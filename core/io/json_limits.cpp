#include "io/json_limits.hpp"

#include <set>
#include <vector>

#include "util/error.hpp"

namespace quantlens {

namespace {

constexpr int kMaxDepth = 32;  // model headers nest a handful of levels

template <class Json>
Json parse_limited(std::string_view text, const std::string& file, const std::string& field,
                   unsigned long long base_offset) {
    std::vector<std::set<std::string>> keys_seen;
    std::string duplicate;
    bool too_deep = false;
    auto callback = [&](int depth, typename Json::parse_event_t event, Json& parsed) {
        using Event = typename Json::parse_event_t;
        if (depth > kMaxDepth)
            too_deep = true;
        if (event == Event::object_start)
            keys_seen.emplace_back();
        else if (event == Event::object_end && !keys_seen.empty())
            keys_seen.pop_back();
        else if (event == Event::key && !keys_seen.empty() && duplicate.empty()) {
            auto key = parsed.template get<std::string>();
            if (!keys_seen.back().insert(key).second)
                duplicate = key;
        }
        return true;
    };
    Json result;
    try {
        result = Json::parse(text.begin(), text.end(), callback);
    } catch (const nlohmann::json::parse_error& e) {
        throw Error(file, field + " at " + at_byte(base_offset + e.byte),
                    std::string("malformed JSON: ") + e.what());
    } catch (const nlohmann::json::exception& e) {  // e.g. out_of_range: a number too large
        throw Error(file, field, std::string("malformed JSON: ") + e.what());
    }
    if (too_deep)
        throw Error(file, field, "JSON nests deeper than " + std::to_string(kMaxDepth) + " levels");
    if (!duplicate.empty())
        throw Error(file, field, "JSON key \"" + duplicate + "\" appears twice");
    return result;
}

}  // namespace

nlohmann::json parse_untrusted_json(std::string_view text, const std::string& file, const std::string& field,
                                    unsigned long long base_offset) {
    return parse_limited<nlohmann::json>(text, file, field, base_offset);
}

nlohmann::ordered_json parse_untrusted_ordered_json(std::string_view text, const std::string& file,
                                                    const std::string& field,
                                                    unsigned long long base_offset) {
    return parse_limited<nlohmann::ordered_json>(text, file, field, base_offset);
}

}  // namespace quantlens
