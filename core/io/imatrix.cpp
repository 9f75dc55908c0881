#include "io/imatrix.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "io/byte_cursor.hpp"
#include "io/gguf.hpp"
#include "io/output_marker.hpp"
#include "util/error.hpp"
#include "util/mapped_file.hpp"

namespace quantlens {

namespace {

const std::string kSums = ".in_sum2", kCounts = ".counts";

bool ends_with(const std::string& text, const std::string& suffix) {
    return text.size() > suffix.size() &&
           text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void require_finite(const std::string& path, const std::string& name, const std::vector<float>& values) {
    for (std::size_t i = 0; i < values.size(); ++i)
        if (!std::isfinite(values[i]))
            throw Error(path, name,
                        "value " + std::to_string(i) + " is not finite (" + std::to_string(values[i]) +
                            "); llama-quantize refuses such a matrix too");
}

// llama-quantize's per-column weights from a GGUF entry: Σx² / count per expert, 1 where an
// expert saw no token.
std::vector<float> gguf_weights(const ImportanceEntry& e) {
    std::vector<float> weights(e.sums.size());
    const std::size_t columns = e.sums.size() / e.counts.size();
    for (std::size_t j = 0; j < e.counts.size(); ++j) {
        const auto count = static_cast<float>(e.counts[j]);
        for (std::size_t i = 0; i < columns; ++i)
            weights[j * columns + i] = count > 0.0f ? e.sums[j * columns + i] / count : 1.0f;
    }
    return weights;
}

ImportanceMatrix read_gguf_imatrix(const std::string& path) {
    const auto file = open_gguf(path);
    ImportanceMatrix matrix;
    matrix.path = path;
    const auto& meta = file->metadata();
    if (const auto type = meta.find("general.type"); type != meta.end() && *type != "imatrix")
        throw Error(path, "general.type",
                    "is \"" + type->dump() + "\", not \"imatrix\": this GGUF is not an importance matrix");
    if (const auto datasets = meta.find("imatrix.datasets"); datasets != meta.end() && datasets->is_array())
        for (const auto& dataset : *datasets)
            if (dataset.is_string())
                matrix.datasets.push_back(dataset.get<std::string>());
    auto u32 = [&](const char* key) -> std::uint32_t {
        const auto found = meta.find(key);
        return found != meta.end() && found->is_number_unsigned() ? found->get<std::uint32_t>() : 0;
    };
    matrix.chunk_count = u32("imatrix.chunk_count");
    matrix.chunk_size = u32("imatrix.chunk_size");
    std::map<std::string, std::pair<const TensorInfo*, const TensorInfo*>> pairs;
    for (const auto& info : file->tensors()) {
        if (ends_with(info.name, kSums))
            pairs[info.name.substr(0, info.name.size() - kSums.size())].first = &info;
        else if (ends_with(info.name, kCounts))
            pairs[info.name.substr(0, info.name.size() - kCounts.size())].second = &info;
        else
            throw Error(path, info.name,
                        "is neither NAME.in_sum2 nor NAME.counts, as an importance matrix holds");
    }
    if (pairs.empty())
        throw Error(path, "tensors", "there are none: the importance matrix is empty");
    for (const auto& [name, pair] : pairs) {
        const auto [sums_info, counts_info] = pair;
        if (!sums_info || !counts_info)
            throw Error(
                path, name,
                std::string("has ") + (sums_info ? "in_sum2 but no counts" : "counts but no in_sum2"));
        if (sums_info->dtype != DType::F32 || counts_info->dtype != DType::F32)
            throw Error(path, name, "in_sum2 and counts must be F32, as llama-imatrix writes them");
        const auto sums = file->read_f32(*sums_info);
        const auto counts = file->read_f32(*counts_info);
        if (counts.values().empty() || sums.values().size() % counts.values().size() != 0)
            throw Error(path, name,
                        std::to_string(sums.values().size()) +
                            " sums are not a whole number of columns for " +
                            std::to_string(counts.values().size()) + " experts");
        ImportanceEntry entry;
        entry.sums.assign(sums.values().begin(), sums.values().end());
        std::vector<float> count_values(counts.values().begin(), counts.values().end());
        require_finite(path, name + kSums, entry.sums);
        require_finite(path, name + kCounts, count_values);
        for (const float c : count_values)
            entry.counts.push_back(std::llround(c));  // as llama.cpp's loader rounds them
        entry.weights = gguf_weights(entry);
        matrix.entries.emplace(name, std::move(entry));
    }
    return matrix;
}

ImportanceMatrix read_legacy_imatrix(const std::string& path) {
    const auto mapped = MappedFile::open(path);
    ByteCursor in(mapped->bytes(), path);
    ImportanceMatrix matrix;
    matrix.path = path;
    matrix.legacy = true;
    const auto entries = in.read<std::int32_t>("entry count");
    if (entries < 1)
        in.fail(
            "entry count",
            "is " + std::to_string(entries) + ": this is neither a GGUF nor a legacy .dat importance matrix",
            0);
    for (std::int32_t e = 0; e < entries; ++e) {
        const std::string where = "entry " + std::to_string(e);
        const auto length = in.read<std::int32_t>(where + " name length");
        if (length < 1 || length > 4096)
            in.fail(where + " name length", "a name of " + std::to_string(length) + " bytes",
                    in.offset() - 4);
        std::string name(static_cast<std::size_t>(length), '\0');
        std::memcpy(name.data(), in.take(name.size(), where + " name").data(), name.size());
        const auto ncall = in.read<std::int32_t>(name + " ncall");
        const auto count = in.read<std::int32_t>(name + " value count");
        if (count < 1 || static_cast<std::uint64_t>(count) * 4 > in.remaining())
            in.fail(name + " value count",
                    std::to_string(count) + " values, with " + std::to_string(in.remaining()) + " bytes left",
                    in.offset() - 4);
        ImportanceEntry entry;
        entry.sums.resize(static_cast<std::size_t>(count));
        std::memcpy(entry.sums.data(), in.take(entry.sums.size() * sizeof(float), name + " values").data(),
                    entry.sums.size() * sizeof(float));
        require_finite(path, name, entry.sums);
        entry.counts = {ncall};
        entry.weights = entry.sums;
        if (ncall > 0)  // the file stores mean x² times ncall
            for (float& w : entry.weights)
                w /= static_cast<float>(ncall);
        if (!matrix.entries.emplace(name, std::move(entry)).second)
            throw Error(path, name, "appears twice");
    }
    if (in.remaining() >= 4) {  // optional: chunk count and dataset name
        matrix.chunk_count = static_cast<std::uint32_t>(std::max(0, in.read<std::int32_t>("chunk count")));
        if (in.remaining() >= 4) {
            const auto length = in.read<std::int32_t>("dataset name length");
            if (length > 0 && static_cast<std::uint64_t>(length) <= in.remaining()) {
                std::string dataset(static_cast<std::size_t>(length), '\0');
                std::memcpy(dataset.data(), in.take(dataset.size(), "dataset name").data(), dataset.size());
                matrix.datasets.push_back(dataset);
            }
        }
    }
    return matrix;
}

}  // namespace

ImportanceMatrix read_importance_matrix(const std::string& path) {
    const auto mapped = MappedFile::open(path);
    const auto bytes = mapped->bytes();
    if (bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0)
        return read_gguf_imatrix(path);
    return read_legacy_imatrix(path);
}

void write_importance_matrix(const std::string& path, const ImportanceMatrix& matrix) {
    std::vector<GgufValue> metadata = {gguf_string("general.type", "imatrix"),
                                       gguf_string_array("imatrix.datasets", matrix.datasets),
                                       gguf_u32("imatrix.chunk_count", matrix.chunk_count),
                                       gguf_u32("imatrix.chunk_size", matrix.chunk_size)};
    std::vector<std::vector<float>> counts;  // kept alive for the writer
    std::vector<TensorToWrite> tensors;
    for (const auto& [name, entry] : matrix.entries) {
        if (entry.counts.empty() || entry.sums.size() % entry.counts.size() != 0)
            throw Error(path, name, "sums are not a whole number of columns per expert");
        auto& c = counts.emplace_back();
        for (const auto n : entry.counts)
            c.push_back(static_cast<float>(n));
    }
    std::size_t k = 0;
    for (const auto& [name, entry] : matrix.entries) {
        const auto experts = static_cast<std::int64_t>(entry.counts.size());
        const auto columns = static_cast<std::int64_t>(entry.sums.size()) / experts;
        tensors.push_back({name + kSums,
                           DType::F32,
                           {experts, columns},
                           std::as_bytes(std::span<const float>(entry.sums))});
        tensors.push_back(
            {name + kCounts, DType::F32, {experts, 1}, std::as_bytes(std::span<const float>(counts[k++]))});
    }
    write_gguf(path, with_writer_mark(metadata), tensors);  // marked: --force may replace it later
}

}  // namespace quantlens
