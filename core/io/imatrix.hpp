#pragma once
// llama.cpp's importance matrix (llama-imatrix; docs/formats.md "Importance matrices"): per
// weight tensor, the sum over calibration tokens of each input column's squared activation
// (Σx²) and the number of tokens. Two file formats:
//   GGUF (llama-imatrix's default): general.type = "imatrix", imatrix.datasets (strings),
//     imatrix.chunk_count and imatrix.chunk_size (u32), and per tensor NAME two F32 tensors,
//     NAME.in_sum2 [experts, columns] and NAME.counts [experts, 1];
//   legacy .dat: int32 entry count; per entry int32 name length, the name, int32 ncall, int32
//     value count and the values (mean x² times ncall); then, optionally, int32 chunk count and
//     the dataset name (int32 length + bytes).
// The weights a quantizer uses are, as llama-quantize computes them, Σx² / count per column
// (1 where the count is 0), and for .dat files value / ncall.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace quantlens {

struct ImportanceEntry {
    std::vector<float> sums;           // Σx² per column, experts one after another
    std::vector<std::int64_t> counts;  // tokens per expert (one entry for a dense weight)
    std::vector<float> weights;        // what a quantizer uses: sums / count, as llama-quantize
};

struct ImportanceMatrix {
    std::string path;
    bool legacy = false;
    std::map<std::string, ImportanceEntry> entries;  // by llama.cpp tensor name ("blk.0.attn_q.weight")
    std::vector<std::string> datasets;
    std::uint32_t chunk_count = 0, chunk_size = 0;
};

// Reads either format (told apart by the GGUF magic). Bad input: Error naming the file and the
// entry or byte offset; entries whose values are not finite are refused, as llama-quantize
// refuses them.
ImportanceMatrix read_importance_matrix(const std::string& path);

// Writes the GGUF format (atomically), entries in name order as llama-imatrix writes them.
void write_importance_matrix(const std::string& path, const ImportanceMatrix& matrix);

}  // namespace quantlens
