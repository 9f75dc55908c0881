// The model engine on the digits CNN (256 calibration samples) and the byte-level GPT-2 (16
// windows of 64 tokens): forward + backward in float32 and float64, one Hessian-vector product
// and a 100-sample Hutchinson estimate, each beside the same computation in PyTorch (CPU, 2
// threads) when Debian's python3-torch is there (bench/engine_torch.py), with the ratio.
// Target: no slower than PyTorch.
#include <cstdio>
#include <map>
#include <string>

#include "bench_support.hpp"
#include "nn/hf_graph.hpp"
#include "nn/network.hpp"
#include "sensitivity/hessian_sensitivity.hpp"
#include "sensitivity/labelled_data.hpp"

using namespace quantlens;

namespace {

std::map<std::string, double> pytorch_times(const std::string& samples) {
    std::map<std::string, double> times;
    const std::string command =
        "/usr/bin/python3 " QUANTLENS_BENCH_DIR "/engine_torch.py " + samples + " 2>/dev/null";
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe)
        return times;
    char name[64];
    double seconds = 0;
    while (std::fscanf(pipe, "%63s %lf", name, &seconds) == 2)
        times[name] = seconds;
    pclose(pipe);
    return times;
}

void report(const std::string& what, double ours, const std::map<std::string, double>& torch,
            const std::string& key) {
    const auto found = torch.find(key);
    if (found == torch.end()) {
        std::printf("  %-26s %9.2f ms   (PyTorch not available)\n", what.c_str(), ours * 1e3);
        return;
    }
    const double ratio = ours / found->second;
    std::printf("  %-26s %9.2f ms   PyTorch %9.2f ms   ratio %.2f (target <= 1) %s\n", what.c_str(),
                ours * 1e3, found->second * 1e3, ratio, ratio <= 1 ? "PASS" : "MISS");
}

void run(const std::string& prefix, const Model& model, const LabelledData& data,
         const std::map<std::string, double>& torch) {
    const auto graph = nn::model_graph(model, data.x.cols());
    const nn::Network<float> single(graph);
    const nn::Network<double> twice(graph);
    const nn::Matrix<float> x32 = data.x.cast<float>();
    std::printf("%s: %zu parameters, %td samples of %td values\n", prefix.c_str(), twice.parameter_count(),
                data.x.rows(), data.x.cols());
    nn::Gradients<float> g32;
    nn::Gradients<double> g64;
    report("forward+backward float32",
           bench::best_seconds(5, [&] { single.loss_and_gradient(x32, data.y, g32); }), torch,
           prefix + "_forward_backward_f32");
    report("forward+backward float64",
           bench::best_seconds(5, [&] { twice.loss_and_gradient(data.x, data.y, g64); }), torch,
           prefix + "_forward_backward_f64");
    const auto hvp = hessian_vector_products(twice, data.x, data.y);
    const Eigen::VectorXd v = Eigen::VectorXd::Ones(static_cast<Eigen::Index>(twice.parameter_count()));
    report("one HVP float64", bench::best_seconds(5, [&] { hvp(v); }), torch, prefix + "_hvp_f64");
    HutchinsonOptions options;
    options.max_samples = 100;
    options.tolerance = 0;  // all 100 samples, as the PyTorch side runs
    const auto block = graph.blocks()[1];
    report("Hutchinson, 100 samples",
           bench::best_seconds(
               1, [&] { hutchinson_trace(on_block(hvp, twice.parameter_count(), block), block, options); }),
           torch, prefix + "_hutchinson100_f64");
}

}  // namespace

int main(int argc, char** argv) {
    const std::string samples = argc > 1 ? argv[1] : QUANTLENS_SAMPLES;
    std::printf("engine on every core (its own pool); PyTorch set to 2 threads\n");
    const auto torch = pytorch_times(samples);
    const auto cnn = Model::open(samples + "/digits-cnn.h5");
    run("cnn", cnn, load_labelled_data(samples + "/digits-calib.npz"), torch);
    const auto gpt2 = Model::open(samples + "/text-gpt2");
    run("gpt2", gpt2, load_token_data(samples + "/text-calib.npz"), torch);
    return 0;
}
