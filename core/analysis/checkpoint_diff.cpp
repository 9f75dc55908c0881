#include "analysis/checkpoint_diff.hpp"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <mutex>
#include <set>

#include "model/llama_names.hpp"
#include "quant/metrics_kernels.hpp"
#include "util/csv.hpp"
#include "util/parallel.hpp"

namespace quantlens {

namespace {

// One side of a pair: a layer, or a split projection's parts whose rows are concatenated.
struct Side {
    std::vector<const Layer*> parts;
    std::int64_t permute_heads = 0;  // rows put in llama.cpp's rotary order (llama_permute_rows)
};

struct Pairing {
    Side base, other;
    std::string how;
};

// Where a layer can be found in the other model: its name, its weight tensor's name, its
// llama.cpp name; tagged so the three kinds of name never meet.
std::vector<std::string> keys_of(const Model& model, const Layer& layer) {
    std::vector<std::string> keys{"layer:" + layer.name};
    if (!layer.weight.empty())
        keys.push_back("tensor:" + layer.weight);
    if (const auto llama = model.llama_cpp_name(layer); !llama.empty())
        keys.push_back("llama:" + llama);
    return keys;
}

const char* pairing_name(const std::string& key) {
    if (key.starts_with("layer:"))
        return "name";
    if (key.starts_with("tensor:"))
        return "tensor name";
    return "llama.cpp name";
}

using Index = std::map<std::string, const Layer*>;

Index index_of(const Model& model) {
    Index index;
    for (const auto& layer : model.layers())
        for (const auto& key : keys_of(model, layer))
            index.emplace(key, &layer);  // the first layer of a name keeps it
    return index;
}

// A fused projection and the split ones it holds, rows in this order (Hugging Face's Phi-3
// qkv_proj and gate_up_proj, llama.cpp's attn_qkv).
struct FusedForm {
    std::string fused;
    std::vector<std::string> split;
};
const std::vector<FusedForm>& fused_forms() {
    static const std::vector<FusedForm> forms = {{"qkv_proj", {"q_proj", "k_proj", "v_proj"}},
                                                 {"attn_qkv", {"attn_q", "attn_k", "attn_v"}},
                                                 {"gate_up_proj", {"gate_proj", "up_proj"}}};
    return forms;
}

// `name` with its dotted component `from` replaced by `to`; "" when it has no such component.
std::string replace_component(const std::string& name, const std::string& from, const std::string& to) {
    std::size_t at = 0;
    while ((at = name.find(from, at)) != std::string::npos) {
        const bool starts = at == 0 || name[at - 1] == '.' || name[at - 1] == '/';
        const std::size_t end = at + from.size();
        const bool ends = end == name.size() || name[end] == '.' || name[end] == '/';
        if (starts && ends)
            return name.substr(0, at) + to + name.substr(end);
        at = end;
    }
    return "";
}

// The keys a split part of `fused` would have: its layer and tensor names with the component
// replaced, and the llama.cpp name of that tensor name.
std::vector<std::string> split_keys(const Layer& fused, const std::string& from, const std::string& to) {
    std::vector<std::string> keys;
    if (auto name = replace_component(fused.name, from, to); !name.empty())
        keys.push_back("layer:" + name);
    if (auto weight = replace_component(fused.weight, from, to); !weight.empty()) {
        keys.push_back("tensor:" + weight);
        if (const auto llama = find_llama_cpp_tensor_name(weight); llama && !llama->empty())
            keys.push_back("llama:" + *llama);
    }
    return keys;
}

// Pairs each unpaired fused layer of `fused_model` with the split parts `split_index` holds, all
// unpaired. `fused_is_base` says which side of the pairing the fused layer goes on.
void pair_fused(const Model& fused_model, const Index& split_index, std::set<const Layer*>& fused_paired,
                std::set<const Layer*>& split_paired, bool fused_is_base, std::vector<Pairing>& pairings) {
    for (const auto& layer : fused_model.layers()) {
        if (fused_paired.count(&layer))
            continue;
        for (const auto& form : fused_forms()) {
            std::vector<const Layer*> parts;
            for (const auto& part : form.split) {
                const Layer* found = nullptr;
                for (const auto& key : split_keys(layer, form.fused, part))
                    if (const auto it = split_index.find(key);
                        it != split_index.end() && !split_paired.count(it->second)) {
                        found = it->second;
                        break;
                    }
                if (!found)
                    break;
                parts.push_back(found);
            }
            if (parts.size() != form.split.size())
                continue;
            Pairing pairing;
            (fused_is_base ? pairing.base : pairing.other).parts = {&layer};
            (fused_is_base ? pairing.other : pairing.base).parts = parts;
            pairing.how = "fused " + form.fused + " = " + std::to_string(parts.size()) + " split";
            fused_paired.insert(&layer);
            split_paired.insert(parts.begin(), parts.end());
            pairings.push_back(std::move(pairing));
            break;
        }
    }
}

bool is_llama_gguf(const Model& model) {
    const auto& metadata = model.file().metadata();
    return model.file().format() == "gguf" && metadata.contains("general.architecture") &&
           metadata["general.architecture"] == "llama";
}

std::int64_t metadata_int(const Model& model, const std::string& key) {
    const auto& metadata = model.file().metadata();
    if (!metadata.contains(key) || !metadata[key].is_number_integer())
        throw Error(model.file().path(), key, "needed to order q and k rows as llama.cpp does, and absent");
    return metadata[key].get<std::int64_t>();
}

// llama.cpp's converter permutes the rows of q_proj and k_proj for its llama architecture; a
// Hugging Face weight paired with a GGUF one by llama.cpp name gets the same permutation.
void add_llama_permutation(const Model& base, const Model& other, Pairing& pairing) {
    if (pairing.base.parts.size() != 1 || pairing.other.parts.size() != 1)
        return;
    const bool base_gguf = is_llama_gguf(base), other_gguf = is_llama_gguf(other);
    if (base_gguf == other_gguf)
        return;
    const Model& gguf = base_gguf ? base : other;
    const Layer& gguf_layer = *(base_gguf ? pairing.base : pairing.other).parts[0];
    Side& hf = base_gguf ? pairing.other : pairing.base;
    const auto& name = gguf_layer.weight;
    if (name.ends_with(".attn_q.weight"))
        hf.permute_heads = metadata_int(gguf, "llama.attention.head_count");
    else if (name.ends_with(".attn_k.weight"))
        hf.permute_heads = metadata_int(gguf, "llama.attention.head_count_kv");
    if (hf.permute_heads)
        pairing.how += ", q/k rows permuted";
}

std::vector<Pairing> pair_layers(const Model& base, const Model& other, ModelDiff& diff) {
    const Index other_index = index_of(other), base_index = index_of(base);
    std::set<const Layer*> base_paired, other_paired;
    std::vector<Pairing> pairings;
    // Same name first, for every layer, so a later weaker match cannot take a layer's namesake.
    for (const char* kind : {"layer:", "tensor:", "llama:"})
        for (const auto& layer : base.layers()) {
            if (base_paired.count(&layer))
                continue;
            for (const auto& key : keys_of(base, layer)) {
                if (!key.starts_with(kind))
                    continue;
                const auto found = other_index.find(key);
                if (found == other_index.end() || other_paired.count(found->second))
                    continue;
                Pairing pairing{{{&layer}}, {{found->second}}, pairing_name(key)};
                add_llama_permutation(base, other, pairing);
                base_paired.insert(&layer);
                other_paired.insert(found->second);
                pairings.push_back(std::move(pairing));
                break;
            }
        }
    pair_fused(base, other_index, base_paired, other_paired, true, pairings);
    pair_fused(other, base_index, other_paired, base_paired, false, pairings);
    // Rows in the base's layer order.
    std::map<const Layer*, std::size_t> position;
    for (const auto& layer : base.layers())
        position.emplace(&layer, position.size());
    std::stable_sort(pairings.begin(), pairings.end(), [&](const Pairing& a, const Pairing& b) {
        return position[a.base.parts[0]] < position[b.base.parts[0]];
    });
    for (const auto& layer : base.layers())
        if (!base_paired.count(&layer))
            diff.only_in_base.push_back(layer.name);
    for (const auto& layer : other.layers())
        if (!other_paired.count(&layer))
            diff.only_in_other.push_back(layer.name);
    return pairings;
}

std::string joined_names(const Side& side) {
    std::string out;
    for (const auto* part : side.parts)
        out += (out.empty() ? "" : "+") + part->name;
    return out;
}

struct SideValues {
    std::vector<float> values, part;  // reused from layer to layer on one thread
    std::vector<std::int64_t> shape;
    std::uint64_t stored_bytes = 0;
    std::string stored;
    bool quantized = false;
};

// A side's weights, output channels first, parts' rows one after another, into `out`'s buffers.
// Mapped pages leave the resident set once decoded, so a diff streams through models larger
// than RAM.
void read_side(const Model& model, const Side& side, SideValues& out) {
    const auto& file = model.file();
    out.values.clear();
    out.shape.clear();
    out.stored.clear();
    out.stored_bytes = 0;
    out.quantized = false;
    for (const auto* part : side.parts) {
        const auto& info = file.tensor(part->weight);
        const bool single = side.parts.size() == 1;
        auto& values = single ? out.values : out.part;  // one part decodes in place
        file.read_f32_into(info, values);
        auto shape = normalised_shape(info.shape, part->orientation);
        if (auto turned = reorient(values, info.shape, part->orientation); !turned.empty())
            values = std::move(turned);
        if (side.permute_heads) {
            const std::int64_t rows = shape.empty() ? 0 : shape[0];
            if (rows == 0 || static_cast<std::int64_t>(values.size()) % rows != 0)
                throw Error(file.path(), part->weight, "cannot order the rows of " + shape_text(shape));
            try {
                values = llama_permute_rows(values, rows, static_cast<std::int64_t>(values.size()) / rows,
                                            side.permute_heads);
            } catch (const Error& error) {
                throw Error(file.path(), part->weight, error.reason());
            }
        }
        const std::string stored = stored_type_name(info);
        if (out.stored.find(stored) == std::string::npos)
            out.stored += (out.stored.empty() ? "" : " + ") + stored;
        out.stored_bytes += info.stored_size();
        const auto& type = dtype_info(info.dtype);
        out.quantized = out.quantized || info.quantization || 8 * type.block_bytes < 16 * type.block_elements;
        if (out.shape.empty()) {
            out.shape = shape;
        } else {
            if (shape.size() != out.shape.size() ||
                !std::equal(shape.begin() + 1, shape.end(), out.shape.begin() + 1))
                throw Error(
                    file.path(), part->weight,
                    "a part of " + shape_text(shape) + " does not stack with " + shape_text(out.shape));
            out.shape[0] += shape[0];
        }
        if (!single)
            out.values.insert(out.values.end(), values.begin(), values.end());
    }
}

// Four interleaved accumulators keep the adds independent.
ErrorSums sums_of(std::span<const float> base, std::span<const float> other) {
    double signal[4] = {}, noise[4] = {}, dot[4] = {}, energy[4] = {};
    double low = INFINITY, high = -INFINITY, worst = 0;
    const std::size_t n = base.size(), whole = n / 4 * 4;
    auto one = [&](std::size_t i, int lane) {
        const double x = base[i], y = other[i], e = y - x;
        signal[lane] += x * x;
        noise[lane] += e * e;
        dot[lane] += x * y;
        energy[lane] += y * y;
        low = std::min(low, e);
        high = std::max(high, e);
    };
    for (std::size_t i = 0; i < whole; i += 4)
        for (int lane = 0; lane < 4; ++lane)
            one(i + static_cast<std::size_t>(lane), lane);
    for (std::size_t i = whole; i < n; ++i)
        one(i, 0);
    worst = std::max(std::abs(low), std::abs(high));
    ErrorSums sums;
    sums.signal = (signal[0] + signal[1]) + (signal[2] + signal[3]);
    sums.noise = (noise[0] + noise[1]) + (noise[2] + noise[3]);
    sums.dot = (dot[0] + dot[1]) + (dot[2] + dot[3]);
    sums.energy = (energy[0] + energy[1]) + (energy[2] + energy[3]);
    sums.worst = static_cast<float>(n ? worst : 0);
    sums.low = static_cast<float>(low);
    sums.high = static_cast<float>(high);
    return sums;
}

struct PairResult {
    LayerDiff row;
    ErrorSums sums{0, 0, 0, 0, 0, INFINITY, -INFINITY};
    std::uint64_t values = 0, stored_bytes = 0, bytes_read = 0;
};

// Each thread's buffers, kept from pair to pair.
struct Buffers {
    SideValues a, b;
};

PairResult diff_pair(const Model& base, const Model& other, const Pairing& pairing, Buffers& buffers) {
    PairResult result;
    LayerDiff& row = result.row;
    row.layer = joined_names(pairing.base);
    if (const auto other_name = joined_names(pairing.other); other_name != row.layer)
        row.other_layer = other_name;
    row.pairing = pairing.how;
    for (const auto* part : pairing.base.parts)
        row.base_parts.push_back(part->name);
    for (const auto* part : pairing.other.parts)
        row.other_parts.push_back(part->name);
    try {
        auto& a = buffers.a;
        auto& b = buffers.b;
        read_side(base, pairing.base, a);
        read_side(other, pairing.other, b);
        row.stored = b.stored;
        row.quantized = b.quantized;
        row.shape = a.shape;
        result.bytes_read = a.stored_bytes + b.stored_bytes;
        if (a.shape != b.shape) {
            row.error = "shapes differ: " + shape_text(a.shape) + " and " + shape_text(b.shape);
            return result;
        }
        result.sums = sums_of(a.values, b.values);
        result.values = a.values.size();
        result.stored_bytes = b.stored_bytes;
        row.metrics = metrics_from_sums(result.sums, a.values.size());
        row.sums = result.sums;
        row.bits_per_weight =
            a.values.empty() ? 0 : static_cast<double>(b.stored_bytes) * 8 / a.values.size();
    } catch (const Error& error) {
        row.error = error.what();
    }
    return result;
}

}  // namespace

ErrorSums weight_error_sums(std::span<const float> base, std::span<const float> other) {
    return sums_of(base, other);
}

ModelDiff diff_models(const Model& base, const Model& other, const Progress& progress,
                      const CancelToken* cancel) {
    ModelDiff diff;
    diff.base = base.file().path();
    diff.other = other.file().path();
    const auto pairings = pair_layers(base, other, diff);
    std::vector<PairResult> results(pairings.size());
    std::atomic<std::size_t> done{0};
    std::mutex progress_mutex;
    // One pair per task, two threads on two cores: each holds two layers' floats at a time.
    parallel_for(pairings.size(), 1, [&](std::size_t first, std::size_t last) {
        Buffers buffers;
        for (std::size_t i = first; i < last; ++i) {
            if (cancel)
                cancel->throw_if_cancelled();
            results[i] = diff_pair(base, other, pairings[i], buffers);
            if (progress) {
                const std::lock_guard lock(progress_mutex);
                progress(++done, pairings.size(), results[i].row.layer);
            }
        }
    });
    ErrorSums total{0, 0, 0, 0, 0, INFINITY, -INFINITY};
    std::uint64_t stored_bytes = 0;
    for (auto& result : results) {
        diff.bytes_read += result.bytes_read;
        if (result.values) {
            total = combine(total, result.sums);
            diff.parameters += result.values;
            stored_bytes += result.stored_bytes;
        }
        diff.layers.push_back(std::move(result.row));
    }
    if (diff.parameters) {
        const auto metrics = metrics_from_sums(total, diff.parameters);
        diff.mse = metrics.mse;
        diff.sqnr_db = metrics.sqnr_db;
        diff.bits_per_weight = static_cast<double>(stored_bytes) * 8 / static_cast<double>(diff.parameters);
    }
    return diff;
}

nlohmann::ordered_json to_json(const ModelDiff& diff) {
    nlohmann::ordered_json out;
    out["schema"] = kDiffSchema;
    out["base"] = diff.base;
    out["other"] = diff.other;
    auto number = [](double value) {
        return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
    };
    out["layers"] = nlohmann::ordered_json::array();
    for (const auto& row : diff.layers) {
        nlohmann::ordered_json entry;
        entry["layer"] = row.layer;
        if (!row.other_layer.empty())
            entry["other_layer"] = row.other_layer;
        entry["pairing"] = row.pairing;
        entry["stored"] = row.stored;
        entry["quantized"] = row.quantized;
        entry["shape"] = row.shape;
        if (!row.error.empty()) {
            entry["error"] = row.error;
        } else {
            entry["bits_per_weight"] = row.bits_per_weight;
            entry["mse"] = row.metrics.mse;
            entry["sqnr_db"] = number(row.metrics.sqnr_db);  // null: identical weights
            entry["cosine"] = row.metrics.cosine;
            entry["max_abs_error"] = row.metrics.max_abs_error;
        }
        out["layers"].push_back(std::move(entry));
    }
    out["only_in_base"] = diff.only_in_base;
    out["only_in_other"] = diff.only_in_other;
    out["total"] = {{"parameters", diff.parameters},
                    {"mse", diff.mse},
                    {"sqnr_db", number(diff.sqnr_db)},
                    {"bits_per_weight", diff.bits_per_weight}};
    return out;
}

std::string to_table(const ModelDiff& diff) {
    std::string out;
    char line[512];
    std::snprintf(line, sizeof line, "%-40s %-22s %8s %12s %9s %9s %12s\n", "LAYER", "STORED (OTHER)",
                  "BITS/W", "MSE", "SQNR dB", "COSINE", "MAX |ERROR|");
    out += line;
    for (const auto& row : diff.layers) {
        const std::string name = row.other_layer.empty() ? row.layer : row.layer + " ~ " + row.other_layer;
        if (!row.error.empty()) {
            out += name + ": " + row.error + "\n";
            continue;
        }
        std::snprintf(line, sizeof line, "%-40s %-22s %8.3f %12.5g %9.2f %9.6f %12.5g\n", name.c_str(),
                      row.stored.c_str(), row.bits_per_weight, row.metrics.mse, row.metrics.sqnr_db,
                      row.metrics.cosine, row.metrics.max_abs_error);
        out += line;
    }
    std::snprintf(line, sizeof line, "total: %llu weights, MSE %.5g, SQNR %.2f dB, %.3f bits/weight\n",
                  static_cast<unsigned long long>(diff.parameters), diff.mse, diff.sqnr_db,
                  diff.bits_per_weight);
    out += line;
    auto list = [&](const char* what, const std::vector<std::string>& names) {
        if (names.empty())
            return;
        out += std::string(what) + ":";
        for (const auto& name : names)
            out += " " + name;
        out += "\n";
    };
    list("only in the base", diff.only_in_base);
    list("only in the other", diff.only_in_other);
    return out;
}

std::string to_csv(const ModelDiff& diff) {
    std::string out =
        "layer,other_layer,pairing,stored,shape,bits_per_weight,mse,sqnr_db,cosine,max_abs_error,error\n";
    for (const auto& row : diff.layers) {
        out += csv_field(row.layer) + "," + csv_field(row.other_layer) + "," + csv_field(row.pairing) + "," +
               csv_field(row.stored) + "," + csv_field(shape_text(row.shape)) + ",";
        if (row.error.empty())
            out += csv_number(row.bits_per_weight) + "," + csv_number(row.metrics.mse) + "," +
                   csv_number(row.metrics.sqnr_db) + "," + csv_number(row.metrics.cosine) + "," +
                   csv_number(row.metrics.max_abs_error) + ",";
        else
            out += ",,,,," + csv_field(row.error);
        out += "\n";
    }
    out += "(total),,,,," + csv_number(diff.bits_per_weight) + "," + csv_number(diff.mse) + "," +
           csv_number(diff.sqnr_db) + ",,,\n";
    return out;
}

}  // namespace quantlens
