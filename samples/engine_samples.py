"""Samples and PyTorch goldens for QuantLens's model engine (core/nn): the digits CNN (a Keras
Functional graph with every layer kind the engine runs) and float64 goldens for it and the
digits MLP. Imported by generate_samples.py.

The networks are written here as PyTorch functions of their weights in Keras's layouts (Dense
kernel [in, out], Conv2D [kh, kw, in, out], DepthwiseConv2D [kh, kw, in, multiplier]), so the
gradients PyTorch returns are in the layouts stored in the files, tensor by tensor."""
import json
import os

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GOLDEN = os.path.join(ROOT, "tests", "data", "golden")
BN_EPS = 1e-3  # Keras's default


def same_pads(size, k, s):
    """TensorFlow's "same" padding: (before, after)."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def conv(x, kernel, bias, stride=1, same=True, groups=1):
    """x NHWC; kernel in Keras layout [kh, kw, in, out]."""
    kh, kw = kernel.shape[0], kernel.shape[1]
    x = x.permute(0, 3, 1, 2)
    if same:
        top, bottom = same_pads(x.shape[2], kh, stride)
        left, right = same_pads(x.shape[3], kw, stride)
        x = F.pad(x, (left, right, top, bottom))
    if groups == 1:
        weight = kernel.permute(3, 2, 0, 1)
    else:  # depthwise [kh, kw, C, M] -> [C*M, 1, kh, kw], output channel c*M + m
        weight = kernel.permute(2, 3, 0, 1).reshape(-1, 1, kh, kw)
    return F.conv2d(x, weight, bias, stride=stride, groups=groups).permute(0, 2, 3, 1)


def avg_pool_same(x, k, s):
    """TensorFlow's "same" average pooling leaves the padding out of each window's count."""
    x = x.permute(0, 3, 1, 2)
    top, bottom = same_pads(x.shape[2], k, s)
    left, right = same_pads(x.shape[3], k, s)
    total = F.avg_pool2d(F.pad(x, (left, right, top, bottom)), k, s, divisor_override=1)
    count = F.avg_pool2d(F.pad(torch.ones_like(x[:1, :1]), (left, right, top, bottom)), k, s, divisor_override=1)
    return (total / count).permute(0, 2, 3, 1)


CNN_LAYERS = [  # name, class, weights (Keras names) — the order of the model_config
    ("input_1", "InputLayer", []),
    ("conv2d", "Conv2D", ["kernel", "bias"]),
    ("batch_normalization", "BatchNormalization", ["gamma", "beta", "moving_mean", "moving_variance"]),
    ("re_lu", "ReLU", []),
    ("depthwise_conv2d", "DepthwiseConv2D", ["depthwise_kernel", "bias"]),
    ("conv2d_1", "Conv2D", ["kernel", "bias"]),
    ("add", "Add", []),
    ("max_pooling2d", "MaxPooling2D", []),
    ("conv2d_2", "Conv2D", ["kernel", "bias"]),
    ("average_pooling2d", "AveragePooling2D", []),
    ("flatten", "Flatten", []),
    ("dense", "Dense", ["kernel", "bias"]),
    ("dropout", "Dropout", []),
    ("dense_1", "Dense", ["kernel", "bias"]),
    ("global_average_pooling2d", "GlobalAveragePooling2D", []),
    ("dense_2", "Dense", ["kernel", "bias"]),
    ("add_1", "Add", []),
    ("activation", "Activation", []),
]
CNN_INBOUND = {"conv2d": ["input_1"], "batch_normalization": ["conv2d"], "re_lu": ["batch_normalization"],
               "depthwise_conv2d": ["re_lu"], "conv2d_1": ["depthwise_conv2d"], "add": ["re_lu", "conv2d_1"],
               "max_pooling2d": ["add"], "conv2d_2": ["max_pooling2d"], "average_pooling2d": ["conv2d_2"],
               "flatten": ["average_pooling2d"], "dense": ["flatten"], "dropout": ["dense"], "dense_1": ["dropout"],
               "global_average_pooling2d": ["average_pooling2d"], "dense_2": ["global_average_pooling2d"],
               "add_1": ["dense_1", "dense_2"], "activation": ["add_1"]}
CNN_CONFIG = {
    "input_1": {"batch_input_shape": [None, 8, 8, 1], "dtype": "float32"},
    "conv2d": {"filters": 8, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "activation": "linear", "use_bias": True,
               "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1},
    "batch_normalization": {"axis": [3], "epsilon": BN_EPS, "center": True, "scale": True, "momentum": 0.99},
    "re_lu": {"max_value": None, "negative_slope": 0.0, "threshold": 0.0},
    "depthwise_conv2d": {"kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "depth_multiplier": 1, "activation": "relu",
                         "use_bias": True, "data_format": "channels_last", "dilation_rate": [1, 1]},
    "conv2d_1": {"filters": 8, "kernel_size": [1, 1], "strides": [1, 1], "padding": "valid", "activation": "linear", "use_bias": True,
                 "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1},
    "add": {},
    "max_pooling2d": {"pool_size": [2, 2], "strides": [2, 2], "padding": "valid", "data_format": "channels_last"},
    "conv2d_2": {"filters": 16, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid", "activation": "swish", "use_bias": True,
                 "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1},
    "average_pooling2d": {"pool_size": [2, 2], "strides": [1, 1], "padding": "same", "data_format": "channels_last"},
    "flatten": {"data_format": "channels_last"},
    "dense": {"units": 32, "activation": "gelu", "use_bias": True},
    "dropout": {"rate": 0.1},
    "dense_1": {"units": 10, "activation": "linear", "use_bias": True},
    "global_average_pooling2d": {"data_format": "channels_last", "keepdims": False},
    "dense_2": {"units": 10, "activation": "tanh", "use_bias": True},
    "add_1": {},
    "activation": {"activation": "softmax"},
}


def cnn_logits(p, x, train_stats=None):
    """The digits CNN on NHWC inputs; p maps "layer/weight" to tensors in Keras layouts.
    train_stats: a dict that receives the batch statistics (training uses them, as Keras does)."""
    h = conv(x, p["conv2d/kernel"], p["conv2d/bias"])
    if train_stats is not None:
        mean, var = h.mean(dim=(0, 1, 2)), h.var(dim=(0, 1, 2), unbiased=False)
        train_stats["mean"], train_stats["var"] = mean.detach(), h.var(dim=(0, 1, 2), unbiased=True).detach()
    else:
        mean, var = p["batch_normalization/moving_mean"], p["batch_normalization/moving_variance"]
    h = (h - mean) / torch.sqrt(var + BN_EPS) * p["batch_normalization/gamma"] + p["batch_normalization/beta"]
    r = torch.relu(h)
    d = torch.relu(conv(r, p["depthwise_conv2d/depthwise_kernel"], p["depthwise_conv2d/bias"], groups=r.shape[3]))
    a = r + conv(d, p["conv2d_1/kernel"], p["conv2d_1/bias"], same=False)
    m = F.max_pool2d(a.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
    c = F.silu(conv(m, p["conv2d_2/kernel"], p["conv2d_2/bias"], same=False))
    v = avg_pool_same(c, 2, 1)
    flat = F.gelu(v.reshape(v.shape[0], -1) @ p["dense/kernel"] + p["dense/bias"])
    left = flat @ p["dense_1/kernel"] + p["dense_1/bias"]
    right = torch.tanh(v.mean(dim=(1, 2)) @ p["dense_2/kernel"] + p["dense_2/bias"])
    return left + right


def digits_data():
    digits = load_digits()
    return (digits.data / 16.0).astype(np.float32), digits.target.astype(np.int64)


def train_digits_cnn():
    x_np, y_np = digits_data()
    x = torch.tensor(x_np).reshape(-1, 8, 8, 1)
    y = torch.tensor(y_np)
    g = torch.Generator().manual_seed(11)
    init = lambda *shape, fan_in: (torch.randn(*shape, generator=g) / np.sqrt(fan_in)).requires_grad_(True)
    zeros = lambda n: torch.zeros(n, requires_grad=True)
    p = {"conv2d/kernel": init(3, 3, 1, 8, fan_in=9), "conv2d/bias": zeros(8),
         "batch_normalization/gamma": torch.ones(8, requires_grad=True), "batch_normalization/beta": zeros(8),
         "depthwise_conv2d/depthwise_kernel": init(3, 3, 8, 1, fan_in=9), "depthwise_conv2d/bias": zeros(8),
         "conv2d_1/kernel": init(1, 1, 8, 8, fan_in=8), "conv2d_1/bias": zeros(8),
         "conv2d_2/kernel": init(3, 3, 8, 16, fan_in=72), "conv2d_2/bias": zeros(16),
         "dense/kernel": init(64, 32, fan_in=64), "dense/bias": zeros(32),
         "dense_1/kernel": init(32, 10, fan_in=32), "dense_1/bias": zeros(10),
         "dense_2/kernel": init(16, 10, fan_in=16), "dense_2/bias": zeros(10)}
    running_mean, running_var = torch.zeros(8), torch.ones(8)
    opt = torch.optim.Adam(p.values(), lr=0.01)
    for step in range(400):
        batch = torch.randint(0, x.shape[0], (256,), generator=g)
        stats = {}
        opt.zero_grad()
        loss = F.cross_entropy(cnn_logits(p, x[batch], stats), y[batch])
        loss.backward()
        opt.step()
        running_mean = 0.9 * running_mean + 0.1 * stats["mean"]
        running_var = 0.9 * running_var + 0.1 * stats["var"]
    weights = {k: v.detach().numpy().astype(np.float32) for k, v in p.items()}
    weights["batch_normalization/moving_mean"] = running_mean.numpy().astype(np.float32)
    weights["batch_normalization/moving_variance"] = running_var.numpy().astype(np.float32)
    with torch.no_grad():
        accuracy = (cnn_logits({k: torch.tensor(v) for k, v in weights.items()}, x).argmax(1) == y).float().mean().item()
    return weights, accuracy


def cnn_config(keras3):
    layers = []
    for name, kind, _ in CNN_LAYERS:
        config = dict(CNN_CONFIG[name], name=name, trainable=True)
        entry = {"class_name": kind, "config": config, "name": name}
        if keras3:
            entry["module"] = "keras.layers"
            if kind == "InputLayer":
                config["batch_shape"] = config.pop("batch_input_shape")
            if kind == "DepthwiseConv2D":
                pass
            history = [{"class_name": "__keras_tensor__", "config": {"dtype": "float32", "keras_history": [src, 0, 0]}}
                       for src in CNN_INBOUND.get(name, [])]
            entry["inbound_nodes"] = [] if kind == "InputLayer" else [{"args": [history] if len(history) > 1 else history, "kwargs": {}}]
        else:
            entry["inbound_nodes"] = [] if kind == "InputLayer" else [[[src, 0, 0, {}] for src in CNN_INBOUND[name]]]
        layers.append(entry)
    return {"class_name": "Functional", "config": {"name": "digits_cnn", "layers": layers, "input_layers": [["input_1", 0, 0]],
                                                   "output_layers": [["activation", 0, 0]]}}


def write_cnn(path, weights, keras3=False):
    """Keras 2's full-model .h5 layout (saving/legacy/hdf5_format.py); keras3=True writes the
    Keras 3 config dialect (inbound_nodes as args with keras_history, batch_shape, weight names
    without the ":0" suffix and layer prefix) over the same weights."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "3.3.3" if keras3 else "2.12.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(cnn_config(keras3))
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = np.array([name.encode() for name, _, _ in CNN_LAYERS])
        for name, _, names in CNN_LAYERS:
            layer = group.create_group(name)
            stored = [(n if keras3 else f"{name}/{n}:0") for n in names]
            layer.attrs["weight_names"] = np.array([s.encode() for s in stored]) if stored else np.array([], dtype="S1")
            for n, s in zip(names, stored):
                layer.create_dataset(s, data=weights[f"{name}/{n}"])


# --- LRP (Montavon et al. 2019), written with PyTorch's gradient trick ----------------------
LRP_EPS = 1e-6


def lrp_step(a, fn, R, eps=LRP_EPS):
    """R_in = a * grad_a(z . s) with s = R / (z + eps*sign z) held constant: the generic rule."""
    a = a.detach().requires_grad_(True)
    z = fn(a)
    s = (R / (z + eps * torch.where(z >= 0, 1.0, -1.0).to(z.dtype))).detach()
    (c,) = torch.autograd.grad((z * s).sum(), a)
    return a.detach() * c


def lrp_start(logits, y):
    return torch.zeros_like(logits).scatter(1, torch.tensor(y).view(-1, 1), logits.gather(1, torch.tensor(y).view(-1, 1)))


def mlp_relevance(p, X, y, gamma=0.0):
    """Input relevance of the digits MLP, LRP-eps (gamma=0) or LRP-gamma on both layers."""
    mod = lambda w: w + gamma * w.clamp(min=0)
    h = torch.relu(X @ p["dense/kernel"] + p["dense/bias"])
    logits = h @ p["dense_1/kernel"] + p["dense_1/bias"]
    R = lrp_start(logits, y)
    R = lrp_step(h, lambda a: a @ mod(p["dense_1/kernel"]) + mod(p["dense_1/bias"]), R)
    return lrp_step(X, lambda a: a @ mod(p["dense/kernel"]) + mod(p["dense/bias"]), R)


def cnn_relevance(p, X, y):
    """Input relevance of the digits CNN under LRP-eps: BatchNorm folded into its convolution,
    identity through activations, max-pool winner takes all, pools and Adds proportional."""
    X = X.reshape(-1, 8, 8, 1)
    bn = lambda h: (h - p["batch_normalization/moving_mean"]) / torch.sqrt(p["batch_normalization/moving_variance"] + BN_EPS) * p["batch_normalization/gamma"] + p["batch_normalization/beta"]
    conv0 = lambda a: bn(conv(a, p["conv2d/kernel"], p["conv2d/bias"]))
    dw = lambda a: conv(a, p["depthwise_conv2d/depthwise_kernel"], p["depthwise_conv2d/bias"], groups=8)
    conv1 = lambda a: conv(a, p["conv2d_1/kernel"], p["conv2d_1/bias"], same=False)
    conv2 = lambda a: conv(a, p["conv2d_2/kernel"], p["conv2d_2/bias"], same=False)
    r = torch.relu(conv0(X))
    d = torch.relu(dw(r))
    c1 = conv1(d)
    a = r + c1
    m = F.max_pool2d(a.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
    c = F.silu(conv2(m))
    v = avg_pool_same(c, 2, 1)
    flat = v.reshape(v.shape[0], -1)
    g = F.gelu(flat @ p["dense/kernel"] + p["dense/bias"])
    left = g @ p["dense_1/kernel"] + p["dense_1/bias"]
    gap = v.mean(dim=(1, 2))
    right = torch.tanh(gap @ p["dense_2/kernel"] + p["dense_2/bias"])
    z = left + right
    R = lrp_start(z, y)
    s = R / (z + LRP_EPS * torch.where(z >= 0, 1.0, -1.0).to(z.dtype))
    R_left, R_right = left * s, right * s
    R_flat = lrp_step(flat, lambda t: t @ p["dense/kernel"] + p["dense/bias"], lrp_step(g, lambda t: t @ p["dense_1/kernel"] + p["dense_1/bias"], R_left))
    R_gap = lrp_step(gap, lambda t: t @ p["dense_2/kernel"] + p["dense_2/bias"], R_right)
    R_v = R_flat.reshape(v.shape) + lrp_step(v, lambda t: t.mean(dim=(1, 2)), R_gap)
    R_c = lrp_step(c, lambda t: avg_pool_same(t, 2, 1), R_v)
    R_m = lrp_step(m, conv2, R_c)
    a_leaf = a.detach().requires_grad_(True)
    (R_a,) = torch.autograd.grad((F.max_pool2d(a_leaf.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1) * R_m).sum(), a_leaf)
    s = R_a / (a + LRP_EPS * torch.where(a >= 0, 1.0, -1.0).to(a.dtype))
    R_r = r * s + lrp_step(r, dw, lrp_step(d, conv1, c1.detach() * s))
    return lrp_step(X, conv0, R_r).reshape(len(y), -1)


def golden_key(kind, tensor):
    """npz member names for per-tensor goldens: "<kind>:<file tensor name>" with / and : made safe."""
    return kind + "__" + tensor.replace("/", ".").replace(":", "_")


def float64_goldens(out_path, logits_fn, weights, tensor_of, trainable, blocks, x, y, seed, relevance=None):
    """logits, loss, gradient per trainable tensor, input gradient, one HVP (v per tensor, double
    backward) and each block's exact Hessian trace, all in float64."""
    params = {k: torch.tensor(v, dtype=torch.float64) for k, v in weights.items()}
    for k in trainable:
        params[k].requires_grad_(True)
    X = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    Y = torch.tensor(y)
    logits = logits_fn(params, X)
    loss = F.cross_entropy(logits, Y)
    grads = torch.autograd.grad(loss, [params[k] for k in trainable] + [X], create_graph=True)
    g = torch.Generator().manual_seed(seed)
    vs = [torch.randn(params[k].shape, generator=g, dtype=torch.float64) for k in trainable]
    hvps = torch.autograd.grad(grads[:-1], [params[k] for k in trainable], grad_outputs=vs)
    out = {"logits": logits.detach().numpy(), "loss": np.array([loss.item()]), "input_gradient": grads[-1].detach().numpy().reshape(len(x), -1)}
    for k, gr, v, hv in zip(trainable, grads, vs, hvps):
        out[golden_key("gradient", tensor_of[k])] = gr.detach().numpy()
        out[golden_key("v", tensor_of[k])] = v.numpy()
        out[golden_key("hvp", tensor_of[k])] = hv.numpy()
    for layer, members in blocks:
        base = {k: t.detach() for k, t in params.items()}
        sizes = [base[k].numel() for k in members]
        flat = torch.cat([base[k].flatten() for k in members])

        def block_loss(theta):
            moved, offset = dict(base), 0
            for k, n in zip(members, sizes):
                moved[k] = theta[offset:offset + n].reshape(base[k].shape)
                offset += n
            return F.cross_entropy(logits_fn(moved, X.detach()), Y)
        out["trace__" + layer] = np.array([torch.trace(torch.autograd.functional.hessian(block_loss, flat)).item()])
    for name, fn in (relevance or {}).items():
        out["relevance__" + name] = fn({k: t.detach() for k, t in params.items()}, X.detach(), y).numpy()
    np.savez(out_path, **out)


def digits_cnn():
    weights, accuracy = train_digits_cnn()
    write_cnn(os.path.join(HERE, "digits-cnn.h5"), weights)
    write_cnn(os.path.join(ROOT, "tests", "data", "keras3-digits-cnn.h5"), weights, keras3=True)
    x, y = digits_data()
    trainable = [k for k in weights if "moving" not in k]
    tensor_of = {k: "model_weights/{0}/{0}/{1}:0".format(*k.split("/")) for k in weights}
    layers = []
    for k in trainable:
        if k.split("/")[0] not in layers:
            layers.append(k.split("/")[0])
    blocks = [(layer, [k for k in trainable if k.startswith(layer + "/")]) for layer in layers]
    float64_goldens(os.path.join(GOLDEN, "digits_cnn_engine.npz"), lambda p, X: cnn_logits(p, X.reshape(-1, 8, 8, 1)), weights, tensor_of,
                    trainable, blocks, x[:32], y[:32], seed=8, relevance={"epsilon": cnn_relevance})
    return accuracy


def digits_mlp_goldens():
    """The digits MLP (samples/digits-mlp.h5, written by generate_samples.digits_mlp) and the
    calibration file: the first 256 digits, x = pixels / 16 as trained, [256, 64] (the same rows
    are the CNN's [8, 8, 1] images, channels last)."""
    x, y = digits_data()
    np.savez(os.path.join(HERE, "digits-calib.npz"), x=x[:256], y=y[:256])
    weights, tensor_of = {}, {}
    with h5py.File(os.path.join(HERE, "digits-mlp.h5"), "r") as f:
        for layer in ("dense", "dense_1"):
            for w in ("kernel", "bias"):
                tensor_of[f"{layer}/{w}"] = f"model_weights/{layer}/{layer}/{w}:0"
                weights[f"{layer}/{w}"] = f[tensor_of[f"{layer}/{w}"]][()]

    def logits(p, X):
        return torch.relu(X @ p["dense/kernel"] + p["dense/bias"]) @ p["dense_1/kernel"] + p["dense_1/bias"]
    float64_goldens(os.path.join(GOLDEN, "digits_engine.npz"), logits, weights, tensor_of, list(weights),
                    [("dense", ["dense/kernel", "dense/bias"]), ("dense_1", ["dense_1/kernel", "dense_1/bias"])], x[:32], y[:32], seed=7,
                    relevance={"epsilon": mlp_relevance, "gamma": lambda p, X, y: mlp_relevance(p, X, y, gamma=0.25)})


def fuzz_seeds():
    """Seeds for the Keras graph builder's fuzz target: the CNN's config in both dialects, the MLP's."""
    folder = os.path.join(ROOT, "tests", "fuzz", "corpus", "keras_graph")
    os.makedirs(folder, exist_ok=True)
    for name, keras3 in (("cnn_keras2.json", False), ("cnn_keras3.json", True)):
        with open(os.path.join(folder, name), "w") as f:
            f.write(json.dumps(cnn_config(keras3)))
    with h5py.File(os.path.join(HERE, "digits-mlp.h5"), "r") as f, open(os.path.join(folder, "mlp_sequential.json"), "w") as out:
        config = f.attrs["model_config"]
        out.write(config if isinstance(config, str) else config.decode())


def main():
    digits_mlp_goldens()
    fuzz_seeds()
    print(f"digits CNN training accuracy {digits_cnn():.3f}")


if __name__ == "__main__":
    main()
