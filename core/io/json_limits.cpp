#include "io/json_limits.hpp"

#include <type_traits>
#include <unordered_set>
#include <vector>

#include "util/error.hpp"

namespace quantlens {

namespace {

constexpr int kMaxDepth = 32;  // model headers nest a handful of levels

// Builds the document from nlohmann-json's SAX events in one pass, refusing duplicate keys and
// deep nesting as it goes. (nlohmann's own callback parser rescans an object's members each time
// one of them closes, and ordered_json's insert searches for the key: both are quadratic in the
// number of members, and a safetensors header has one per tensor.)
template <class Json>
class LimitedBuilder {
public:
    using number_integer_t = typename Json::number_integer_t;
    using number_unsigned_t = typename Json::number_unsigned_t;
    using number_float_t = typename Json::number_float_t;
    using string_t = typename Json::string_t;
    using binary_t = typename Json::binary_t;

    Json root;
    std::string duplicate;
    bool too_deep = false;
    std::size_t error_byte = 0;
    std::string error_message;

    bool null() { return add(Json(nullptr)); }
    bool boolean(bool value) { return add(Json(value)); }
    bool number_integer(number_integer_t value) { return add(Json(value)); }
    bool number_unsigned(number_unsigned_t value) { return add(Json(value)); }
    bool number_float(number_float_t value, const string_t&) { return add(Json(value)); }
    bool string(string_t& value) { return add(Json(std::move(value))); }
    bool binary(binary_t& value) { return add(Json::binary(std::move(value))); }

    bool start_object(std::size_t) { return open(Json::object()); }
    bool key(string_t& name) {
        if (!frames_.back().keys.insert(name).second) {
            duplicate = name;
            return false;
        }
        pending_key_ = std::move(name);
        return true;
    }
    bool end_object() { return close(); }
    bool start_array(std::size_t) { return open(Json::array()); }
    bool end_array() { return close(); }

    bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& error) {
        error_byte = position;
        error_message = error.what();
        return false;
    }

private:
    struct Frame {
        Json* container;
        std::unordered_set<string_t> keys;  // of an object, to refuse duplicates
    };

    // Places `value` in the open container (or as the root); returns where it now lives.
    Json* place(Json&& value) {
        if (frames_.empty()) {
            root = std::move(value);
            return &root;
        }
        Json& parent = *frames_.back().container;
        if (parent.is_array()) {
            auto& array = *parent.template get_ptr<typename Json::array_t*>();
            array.push_back(std::move(value));
            return &array.back();
        }
        auto& object = *parent.template get_ptr<typename Json::object_t*>();
        if constexpr (std::is_same_v<Json, nlohmann::ordered_json>) {
            object.emplace_back(std::move(pending_key_), std::move(value));  // key known to be new
            return &object.back().second;
        } else {
            return &object.emplace(std::move(pending_key_), std::move(value)).first->second;
        }
    }
    bool add(Json&& value) {
        place(std::move(value));
        return true;
    }
    bool open(Json&& container) {
        if (static_cast<int>(frames_.size()) >= kMaxDepth) {
            too_deep = true;
            return false;
        }
        frames_.push_back({place(std::move(container)), {}});
        return true;
    }
    bool close() {
        frames_.pop_back();
        return true;
    }

    std::vector<Frame> frames_;
    string_t pending_key_;
};

template <class Json>
Json parse_limited(std::string_view text, const std::string& file, const std::string& field,
                   unsigned long long base_offset) {
    LimitedBuilder<Json> builder;
    try {
        Json::sax_parse(text.begin(), text.end(), &builder);
    } catch (const nlohmann::json::exception& e) {  // e.g. out_of_range: a number too large
        throw Error(file, field, std::string("malformed JSON: ") + e.what());
    }
    if (builder.too_deep)
        throw Error(file, field, "JSON nests deeper than " + std::to_string(kMaxDepth) + " levels");
    if (!builder.duplicate.empty())
        throw Error(file, field, "JSON key \"" + builder.duplicate + "\" appears twice");
    if (!builder.error_message.empty())
        throw Error(file, field + " at " + at_byte(base_offset + builder.error_byte),
                    "malformed JSON: " + builder.error_message);
    return std::move(builder.root);
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
