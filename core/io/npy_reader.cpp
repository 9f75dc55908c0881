#include <algorithm>
#include <cctype>
#include <cstring>

#include "io/numpy.hpp"
#include "util/error.hpp"
#include "util/mapped_file.hpp"

namespace quantlens {

namespace {

// The header is a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class DictParser {
public:
    DictParser(std::string_view text, const std::string& path, const std::string& field)
        : text_(text), path_(path), field_(field) {}

    void expect(char c) {
        skip_space();
        if (pos_ >= text_.size() || text_[pos_] != c)
            fail(std::string("expected '") + c + "'");
        ++pos_;
    }
    bool accept(char c) {
        skip_space();
        if (pos_ < text_.size() && text_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    std::string string_literal() {
        skip_space();
        if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"'))
            fail("expected a quoted string");
        char quote = text_[pos_++];
        auto end = text_.find(quote, pos_);
        if (end == std::string_view::npos)
            fail("unterminated string");
        std::string value(text_.substr(pos_, end - pos_));
        pos_ = end + 1;
        return value;
    }
    bool boolean() {
        skip_space();
        if (text_.substr(pos_, 4) == "True") {
            pos_ += 4;
            return true;
        }
        if (text_.substr(pos_, 5) == "False") {
            pos_ += 5;
            return false;
        }
        fail("expected True or False");
    }
    std::vector<std::int64_t> tuple() {
        expect('(');
        std::vector<std::int64_t> dims;
        while (!accept(')')) {
            skip_space();
            std::uint64_t value = 0;
            std::size_t digits = 0;
            while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
                if (++digits > 18)
                    fail("dimension too large");
                value = value * 10 + static_cast<unsigned>(text_[pos_++] - '0');
            }
            if (digits == 0)
                fail("expected a non-negative integer dimension");
            if (dims.size() >= 32)
                fail("more than 32 dimensions");
            dims.push_back(static_cast<std::int64_t>(value));
            if (!accept(',')) {
                expect(')');
                break;
            }
        }
        return dims;
    }
    bool at_end() {
        skip_space();
        return pos_ >= text_.size();
    }
    [[noreturn]] void fail(const std::string& reason) const {
        throw Error(path_, field_ + " header at character " + std::to_string(pos_),
                    reason + " in the .npy header dict");
    }

private:
    void skip_space() {
        while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_])))
            ++pos_;
    }
    std::string_view text_;
    const std::string& path_;
    const std::string& field_;
    std::size_t pos_ = 0;
};

DType dtype_from_descr(const std::string& descr, bool& big_endian, const DictParser& parser) {
    if (descr.size() < 3)
        parser.fail("unsupported descr '" + descr + "'");
    char order = descr[0];
    if (order != '<' && order != '>' && order != '|' && order != '=')
        parser.fail("unsupported descr '" + descr + "' (structured or object arrays are not weights)");
    big_endian = order == '>';
    static const std::pair<const char*, DType> kMap[] = {
        {"f8", DType::F64}, {"f4", DType::F32}, {"f2", DType::F16}, {"i8", DType::I64},
        {"i4", DType::I32}, {"i2", DType::I16}, {"i1", DType::I8},  {"u8", DType::U64},
        {"u4", DType::U32}, {"u2", DType::U16}, {"u1", DType::U8},  {"b1", DType::BOOL}};
    for (auto [code, dtype] : kMap)
        if (descr.substr(1) == code)
            return dtype;
    parser.fail("unsupported descr '" + descr + "' (expected a float, integer or bool type such as '<f4')");
}

}  // namespace

NpyHeader parse_npy_header(std::span<const std::byte> bytes, const std::string& path,
                           const std::string& field) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    if (bytes.size() < 10 || std::memcmp(p, "\x93NUMPY", 6) != 0)
        throw Error(path, field + " magic", "expected \\x93NUMPY");
    unsigned major = p[6];
    std::uint64_t header_len = 0, prefix = 0;
    if (major == 1) {
        header_len = p[8] | (p[9] << 8);
        prefix = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size() < 12)
            throw Error(path, field + " header length", "file ends inside the header length");
        header_len = std::uint64_t{p[8]} | std::uint64_t{p[9]} << 8 | std::uint64_t{p[10]} << 16 |
                     std::uint64_t{p[11]} << 24;
        prefix = 12;
    } else
        throw Error(path, field + " version (byte 6)",
                    "unsupported .npy format version " + std::to_string(major) + " (expected 1, 2 or 3)");
    if (header_len > bytes.size() - prefix)
        throw Error(path, field + " header length",
                    "header of " + std::to_string(header_len) + " bytes runs past the end of the data");
    std::string_view text(reinterpret_cast<const char*>(p + prefix), header_len);
    DictParser parser(text, path, field);
    NpyHeader header;
    bool have_descr = false, have_order = false, have_shape = false;
    parser.expect('{');
    while (!parser.accept('}')) {
        auto key = parser.string_literal();
        parser.expect(':');
        if (key == "descr") {
            header.dtype = dtype_from_descr(parser.string_literal(), header.big_endian, parser);
            have_descr = true;
        } else if (key == "fortran_order") {
            header.fortran_order = parser.boolean();
            have_order = true;
        } else if (key == "shape") {
            header.shape = parser.tuple();
            have_shape = true;
        } else
            parser.fail("unexpected key '" + key + "'");
        if (!parser.accept(',')) {
            parser.expect('}');
            break;
        }
    }
    if (!have_descr || !have_order || !have_shape)
        parser.fail("header must have 'descr', 'fortran_order' and 'shape'");
    auto elements = element_count(header.shape);
    auto size = elements ? storage_bytes(header.dtype, *elements) : std::nullopt;
    if (!size)
        throw Error(path, field + " shape",
                    "element count of " + shape_text(header.shape) + " overflows 64 bits");
    header.byte_size = *size;
    header.data_offset = prefix + header_len;
    return header;
}

std::vector<std::byte> npy_to_c_order(const NpyHeader& header, std::span<const std::byte> stored) {
    const std::size_t width = dtype_info(header.dtype).block_bytes;
    std::vector<std::byte> out(stored.begin(), stored.end());
    if (header.big_endian && width > 1)
        for (std::size_t i = 0; i < out.size(); i += width)
            std::reverse(out.begin() + i, out.begin() + i + width);
    if (!header.fortran_order || header.shape.size() < 2)
        return out;
    // Fortran order: the first index varies fastest. Walk C-order indices and gather.
    std::vector<std::byte> c_order(out.size());
    const auto& shape = header.shape;
    std::vector<std::uint64_t> fstride(shape.size(), 1);
    for (std::size_t d = 1; d < shape.size(); ++d)
        fstride[d] = fstride[d - 1] * static_cast<std::uint64_t>(shape[d - 1]);
    std::vector<std::int64_t> index(shape.size(), 0);
    const std::uint64_t count = out.size() / width;
    for (std::uint64_t i = 0; i < count; ++i) {
        std::uint64_t source = 0;
        for (std::size_t d = 0; d < shape.size(); ++d)
            source += static_cast<std::uint64_t>(index[d]) * fstride[d];
        std::memcpy(c_order.data() + i * width, out.data() + source * width, width);
        for (std::size_t d = shape.size(); d-- > 0;) {
            if (++index[d] < shape[d])
                break;
            index[d] = 0;
        }
    }
    return c_order;
}

namespace {

class NpyModel final : public ModelFile {
public:
    explicit NpyModel(const std::string& path) : ModelFile(path), file_(MappedFile::open(path)) {
        header_ = parse_npy_header(file_->bytes(), path, "array");
        if (header_.byte_size != file_->size() - header_.data_offset)
            throw Error(path, "array data",
                        "holds " + std::to_string(file_->size() - header_.data_offset) + " bytes but shape " +
                            shape_text(header_.shape) + " needs " + std::to_string(header_.byte_size));
        TensorInfo info{"array", header_.dtype, header_.shape, header_.byte_size};
        add_tensor(info);
    }
    std::string_view format() const override { return "npy"; }

protected:
    TensorBytes read_bytes(const TensorInfo& info) const override {
        auto bytes = file_->range(header_.data_offset, info.byte_size, info.name);
        if (!header_.big_endian && !header_.fortran_order)
            return TensorBytes::file_view(file_, bytes);
        return TensorBytes::owned(npy_to_c_order(header_, bytes));
    }

private:
    std::shared_ptr<const MappedFile> file_;
    NpyHeader header_;
};

}  // namespace

std::unique_ptr<ModelFile> open_npy(const std::string& path) {
    return std::make_unique<NpyModel>(path);
}

}  // namespace quantlens
