// The engine's Keras graph builder on arbitrary model_config JSON, with every weight it asks
// for present (zeros of the shape it needs, up to a size), then the built network run forward
// and backward on two zero samples: a config that builds must run without touching memory
// outside its tensors.
#include <cstddef>
#include <cstdint>
#include <string>

#include "io/json_limits.hpp"
#include "nn/keras_graph.hpp"
#include "nn/network.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace quantlens;
    try {
        const auto config = parse_untrusted_json(std::string_view(reinterpret_cast<const char*>(data), size),
                                                 "fuzz.h5", "model_config");
        nn::KerasWeights weights;
        weights.find = [](const std::string& layer,
                          const std::vector<std::string>& names) -> std::optional<std::string> {
            return layer + "/" + names.front();
        };
        weights.read = [](const std::string& tensor, const std::vector<std::int64_t>& shape,
                          const std::string&) {
            std::int64_t n = 1;
            for (auto d : shape) {
                if (d < 1 || d > (1 << 16) || (n *= d) > (1 << 18))
                    throw Error("fuzz.h5", tensor, "too large for the fuzzer");
            }
            return std::vector<float>(static_cast<std::size_t>(n), 0.25f);
        };
        const auto graph = nn::keras_graph(config, weights, "fuzz.h5");
        if (graph.input.size() > 4096)
            return 0;
        const nn::Network<float> network(graph);
        const nn::Matrix<float> x = nn::Matrix<float>::Constant(2, graph.input.size(), 0.5f);
        nn::Gradients<float> gradients;
        network.loss_and_gradient(x, {0, 0}, gradients);
    } catch (const Error&) {
    }
    return 0;
}
