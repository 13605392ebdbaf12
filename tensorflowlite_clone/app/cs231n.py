"""The command line's side of cs231n's assignment 2-3 models: `fc-net`, `conv-net`, `rnn`.

    tflc train --model fc-net                      # FullyConnectedNet, batchnorm and dropout
    tflc train --model conv-net                    # ThreeLayerConvNet on the digits as 1x8x8 images
    tflc train --model rnn --cell lstm             # a captioner of strips of three digits
    tflc train --model conv-net --data cifar10:PATH    # cs231n's notebook settings

Each model trains with cs231n's Solver (the captioner with its CaptioningSolver) from the
settings its module publishes: `DIGITS_SETTINGS` for the bundled data (and MNIST and the spiral),
`CIFAR_SETTINGS` for CIFAR-10, each {"model": constructor arguments, "solver": Solver arguments}
(the captioner's per cell type, with "data": the caption set's arguments). The options the user
gives override them; an option a model does not have is refused, naming the models that do.

The checkpoint (`model.npz`) holds the parameters, batchnorm's running averages and the model's
`config()`, so `load` rebuilds the same architecture; `tflc predict` reads it back.
"""
import copy
import importlib
import math

import numpy as np

import viz
from models.captioning_solver import CaptioningSolver
from models.cnn import ThreeLayerConvNet, layer_groups
from models.fc_net import FullyConnectedNet
from models.rnn import CaptioningRNN
from models.solver import Solver

from . import captions, data
from .checkpoint import CheckpointError, check_shapes, load_checkpoint, save_checkpoint

CLASSES = {"fc-net": FullyConnectedNet, "conv-net": ThreeLayerConvNet, "rnn": CaptioningRNN}
KINDS = tuple(CLASSES)  # the names are the checkpoint kinds
UPDATE_RULES = {"sgd": "sgd", "momentum": "sgd_momentum", "adam": "adam"}  # --optimizer's
# The options only some models take: option -> (argparse dest, the models that take it).
ONLY_FOR = {"--epochs": ("epochs", KINDS),
            "--normalization": ("normalization", ("fc-net",)),
            "--dropout": ("dropout", ("fc-net",)),
            "--cell": ("cell", ("rnn",)),
            "--iters": ("iters", ("softmax", "two-layer")),
            "--init-std": ("init_std", ("softmax", "two-layer", "fc-net", "conv-net")),
            "--reg": ("reg", ("softmax", "two-layer", "fc-net", "conv-net")),
            # cs231n's models train through the Solver, which calls cs231n's loss(X, y): the
            # compiled step (their method="autodiff" is the eager one, from Python)
            "--eager": ("eager", ("softmax", "two-layer"))}


class OptionError(ValueError):
    """An option the chosen model does not take, or a value it cannot use."""


def check_options(args, given):
    """Refuse the options in `given` (the dests the user set) that args.model does not take."""
    for option, (dest, kinds) in ONLY_FOR.items():
        if dest in given and args.model not in kinds:
            raise OptionError(f"{option} is for --model {', '.join(kinds)}, not {args.model}")
    check_data(args.model, getattr(args, "data", None))


def check_data(kind, spec):
    """Refuse data the model cannot train on (the captioner knows only the digit strips)."""
    if kind == "rnn" and spec not in (None, "digits"):
        raise OptionError(f"--model rnn trains on captioned strips of the bundled digits "
                          f"(--data digits); it cannot caption {spec}")


def is_cifar(spec):
    return spec.startswith("cifar10:")


def settings(args):
    """(model kwargs, solver kwargs, data kwargs) for args.model on args.data, the module's
    settings with the user's options applied."""
    module = importlib.import_module(CLASSES[args.model].__module__)
    table = module.CIFAR_SETTINGS if is_cifar(args.data) else module.DIGITS_SETTINGS
    if args.model == "rnn":
        table = table[args.cell or "rnn"]
    chosen = copy.deepcopy(table)
    model, solver = chosen["model"], chosen["solver"]
    if args.model == "rnn":
        model["cell_type"] = args.cell or "rnn"
    if args.hidden is not None:
        if args.model == "fc-net":
            model["hidden_dims"] = list(args.hidden)
        elif len(args.hidden) != 1:
            raise OptionError(f"--hidden takes one size for --model {args.model}, got "
                              f"{len(args.hidden)}")
        else:
            model["hidden_dim"] = args.hidden[0]
    if args.model == "fc-net":
        if args.normalization is not None:
            model["normalization"] = None if args.normalization == "none" else args.normalization
        if args.dropout is not None:
            model["dropout_keep_ratio"] = args.dropout
    if args.reg is not None:
        model["reg"] = args.reg
    if args.init_std is not None:
        model["weight_scale"] = args.init_std
    # the float dtype of the weights and the data (the settings name it, as a string)
    model["dtype"] = np.dtype(args.dtype or model.get("dtype", "float64")).type
    if args.optimizer is not None:
        solver["update_rule"] = UPDATE_RULES[args.optimizer]
    if args.lr is not None:
        solver["optim_config"] = {**solver.get("optim_config", {}), "learning_rate": args.lr}
    for dest, key in (("lr_decay", "lr_decay"), ("batch_size", "batch_size"),
                      ("epochs", "num_epochs")):
        if getattr(args, dest) is not None:
            solver[key] = getattr(args, dest)
    return model, solver, chosen.get("data", {})


# --- data ---------------------------------------------------------------------------------------
def images(ds, X):
    """The rows of X (n, D) as the conv net's (n, C, H, W) images: grayscale data (image_shape
    (H, W)) gets one channel; CIFAR-10's rows are (H, W, 3) flattened, made channels-first."""
    shape = ds.image_shape
    if len(shape) == 2:
        return X.reshape(len(X), 1, *shape)
    if len(shape) == 3 and shape[-1] == 3:
        return X.reshape(len(X), *shape).transpose(0, 3, 1, 2)
    raise OptionError(f"--model conv-net needs image data; {ds.name} has features of shape "
                      f"{tuple(shape)}")


def load_data(kind, spec, split_seed, data_kwargs, dtype):
    """(data dict for the Solver, the Dataset) of `spec` split by `split_seed`: fc-net and
    conv-net get the Dataset's splits (conv-net as images), the captioner the caption set made
    from the digits' split (and no Dataset); the features in the float `dtype`."""
    if kind == "rnn":
        return captions.load_digit_captions(seed=split_seed, dtype=dtype, **data_kwargs), None
    ds = data.load(spec, seed=split_seed, dtype=dtype)
    reshape = (lambda X: images(ds, X)) if kind == "conv-net" else (lambda X: X)
    arrays = {f"{k}_{split}": reshape(getattr(ds, f"{k}_{split}")) if k == "X"
              else getattr(ds, f"{k}_{split}") for split in ("train", "val", "test") for k in "Xy"}
    return arrays, ds


# --- models -------------------------------------------------------------------------------------
def new_model(kind, model_kwargs, arrays):
    """A fresh model for the data (weights from NumPy's global generator: seed it first)."""
    if kind == "rnn":
        return CaptioningRNN(arrays["word_to_idx"], input_dim=arrays["train_features"].shape[1],
                             **model_kwargs)
    num_classes = int(max(arrays["y_train"].max(), arrays["y_val"].max(),
                          arrays["y_test"].max())) + 1
    input_dim = arrays["X_train"].shape[1:]
    input_dim = input_dim[0] if kind == "fc-net" else tuple(input_dim)
    return CLASSES[kind](input_dim=input_dim, num_classes=num_classes, **model_kwargs)


def train_model(kind, model, arrays, solver_kwargs, verbose, view=None):
    """Train with cs231n's Solver (CaptioningSolver for the captioner); returns the solver.
    One loss line per epoch above the progress bar when verbose. A loss that turns NaN or inf
    is an OptionError naming the iteration. `view`: a live.LiveTraining that follows it."""
    num_train = len(arrays["train_captions"] if kind == "rnn" else arrays["X_train"])
    per_epoch = max(num_train // solver_kwargs.get("batch_size", 100), 1)
    options = {**solver_kwargs, "print_every": per_epoch, "verbose": verbose}
    if kind == "rnn":
        solver = CaptioningSolver(model, arrays, **options)
    else:
        splits = {key: arrays[key] for key in ("X_train", "y_train", "X_val", "y_val")}
        solver = Solver(model, splits, **options)
    if view is not None:
        view.attach(solver)
    with np.errstate(all="ignore"):  # a diverging loss is reported below, in one line
        solver.train()
    bad = next((i for i, loss in enumerate(solver.loss_history) if not math.isfinite(loss)), None)
    if bad is not None:
        raise OptionError(f"training diverged at iteration {bad}: the loss is "
                          f"{solver.loss_history[bad]}; try a smaller --lr")
    return solver


def predict(model, X, batch_size=200):
    """The classifier's labels for the rows (images) of X, batch_size at a time."""
    return np.concatenate([np.argmax(model.loss(X[i:i + batch_size]), axis=1)
                           for i in range(0, len(X), batch_size)])


def accuracies(kind, model, arrays):
    """{"train_accuracy", "val_accuracy", "test_accuracy"}: for the captioner the fraction of
    strips captioned exactly right."""
    if kind == "rnn":
        return {f"{split}_accuracy": captions.exact_match_accuracy(model, arrays, split)
                for split in ("train", "val", "test")}
    return {f"{split}_accuracy": float(np.mean(predict(model, arrays[f"X_{split}"])
                                               == arrays[f"y_{split}"]))
            for split in ("train", "val", "test")}


def check_batch(kind, arrays, size=5):
    """`size` training examples (float64) for the gradient check after training and the graph:
    rows (images) and labels, or the captioner's features and captions."""
    if kind == "rnn":
        idxs = arrays["train_image_idxs"][:size]
        return arrays["train_features"][idxs].astype(np.float64), arrays["train_captions"][:size]
    return arrays["X_train"][:size].astype(np.float64), arrays["y_train"][:size]


def normalization_of(model):
    """The fc-net's normalisation as --normalization names it (None for the other models)."""
    if not isinstance(model, FullyConnectedNet):
        return None
    return model.normalization or "none"


def keep_ratio_of(model):
    """The fc-net's dropout keep ratio (None for the other models)."""
    if not isinstance(model, FullyConnectedNet):
        return None
    return model.dropout_param["p"] if model.use_dropout else 1.0


def data_info(kind, arrays, ds, data_kwargs):
    """What metrics.json and the checkpoint say about the data."""
    if kind == "rnn":
        return {"name": "digit-captions", "caption_set": data_kwargs,
                **{f"num_{split}": len(arrays[f"{split}_captions"])
                   for split in ("train", "val", "test")},
                "feature_dim": arrays["train_features"].shape[1],
                "vocabulary": list(arrays["idx_to_word"])}
    return {"name": ds.name, "num_train": len(ds.X_train), "num_val": len(ds.X_val),
            "num_test": len(ds.X_test), "num_classes": ds.num_classes,
            "image_shape": list(ds.image_shape), "model_input": list(arrays["X_train"].shape[1:]),
            "preprocessing": ds.preprocessing}


def caption_words(indices, arrays):
    """The captions (N, T) of word indices as their words, without <START>, <END> and <NULL>:
    "three one four"."""
    special = {captions.START, captions.END, captions.NULL}
    return [" ".join(w for w in text.split() if w not in special)
            for text in captions.decode_captions(indices, arrays["idx_to_word"])]


NUM_CAPTIONS_DRAWN = 12


def plot_test_captions(model, arrays, path, count=NUM_CAPTIONS_DRAWN, split="test"):
    """The first `count` strips of `split` with the captions the model samples for them (and
    whether each is right), as a PNG."""
    idxs = arrays[f"{split}_image_idxs"][:count]
    sampled = model.sample(arrays[f"{split}_features"][idxs])
    predicted = captions.decode_captions(sampled, arrays["idx_to_word"])
    truth = captions.decode_captions(arrays[f"{split}_captions"][:count], arrays["idx_to_word"])
    return viz.plot_captions(arrays[f"{split}_images"][idxs], predicted, truth, path)


def kind_of(model):
    return next(k for k, cls in CLASSES.items() if isinstance(model, cls))


def test_data(model, spec, split_seed, path):
    """`tflc predict`'s data for a checkpoint of cs231n's models: the data dict `load_data` makes
    of `spec` with the split the model was trained on, checked against the model's inputs."""
    kind = kind_of(model)
    check_data(kind, spec)
    data_kwargs = model.metadata.get("data", {}).get("caption_set", {}) if kind == "rnn" else {}
    if not isinstance(data_kwargs, dict):
        raise CheckpointError(f"{path}: metadata.data.caption_set should be an object, found "
                              f"{data_kwargs!r}")
    arrays, ds = load_data(kind, spec, split_seed, data_kwargs,
                           next(iter(model.params.values())).dtype)
    if kind == "rnn":
        have, want = arrays["test_features"].shape[1:], model.params["W_proj"].shape[:1]
    else:
        have, want = arrays["X_test"].shape[1:], np.atleast_1d(model.config()["input_dim"])
    if tuple(have) != tuple(want):
        raise OptionError(f"{path} takes inputs of shape {tuple(want)} but {spec} gives "
                          f"{tuple(have)}")
    return arrays, ds


def layer_boxes(model, tensors):
    """`collapse=` for the graph of a model's loss: the conv net's convolution and max pool as
    one box each (the engine composes them of windows, reshapes, matmul and max); None (every
    op) for the other models."""
    return layer_groups(tensors) if isinstance(model, ThreeLayerConvNet) else None


def float64_copy(model):
    """The same model in float64, with copies of its parameters and batchnorm's statistics, and
    dropout's mask fixed by a seed (so that every forward pass of a gradient check is the same
    function)."""
    config = {**model.config(), "dtype": "float64"}
    twin = rebuild(type(model), config)
    twin.params = {k: v.astype(np.float64) for k, v in model.params.items()}
    for name in ("bn_params", "dropout_param"):
        if hasattr(model, name):
            setattr(twin, name, copy.deepcopy(getattr(model, name)))
    if getattr(twin, "dropout_param", None):
        twin.dropout_param["seed"] = 0
    return twin


def rebuild(cls, config):
    """cls(**config) without disturbing NumPy's global generator (the constructor draws weights
    that are replaced at once)."""
    config = dict(config)
    if "dtype" in config:
        config["dtype"] = np.dtype(config["dtype"]).type
    if "input_dim" in config and isinstance(config["input_dim"], list):
        config["input_dim"] = tuple(config["input_dim"])
    state = np.random.get_state()
    try:
        return cls(**config)
    finally:
        np.random.set_state(state)


def small_problem(kind, seed, batch=5, hidden=None, spec=None, normalization=None, dropout=None,
                  cell=None):
    """(X, y, model) for `tflc gradcheck` / `tflc graph` and the numerical check after training:
    a small float64 model of `kind` drawn from `seed`, and `batch` examples of `spec` (random
    data without one). The fc-net has batchnorm and dropout (fixed by a seed) unless told
    otherwise; the captioner takes strips of the digits."""
    rng = np.random.default_rng(seed)
    hidden = list(hidden or [])
    np.random.seed(seed)
    if kind == "rnn":  # the digit strips' captions, their features from the data or random
        if spec:
            arrays = captions.load_digit_captions(seed=seed, dtype=np.float64,
                                                  **small_caption_data(batch))
            X, y = check_batch(kind, arrays, batch)
        else:
            X = rng.standard_normal((batch, 6))
            y = captions.caption_of(rng.integers(0, 10, (batch, captions.DIGITS_PER_STRIP)))
        model = CaptioningRNN(captions.WORD_TO_IDX, input_dim=X.shape[1], wordvec_dim=6,
                              hidden_dim=(hidden or [7])[0], cell_type=cell or "rnn",
                              dtype=np.float64)
        # word vectors of unit scale (cs231n draws them /100): Wx's gradient is X_words^T dgates,
        # and entries 100 times smaller would lose their central differences to rounding
        model.params["W_embed"] *= 100
        return X, y, model
    if spec:
        arrays, ds = load_data(kind, spec, seed, {}, np.float64)
        X, y, num_classes = arrays["X_train"][:batch], arrays["y_train"][:batch], ds.num_classes
    else:
        shape = (6,) if kind == "fc-net" else (1, 6, 6)
        X, y, num_classes = rng.standard_normal((batch, *shape)), rng.integers(0, 3, batch), 3
    if kind == "fc-net":
        model = FullyConnectedNet(hidden or [8, 8], input_dim=X.shape[1], num_classes=num_classes,
                                  normalization="batchnorm" if normalization is None
                                  else (None if normalization == "none" else normalization),
                                  dropout_keep_ratio=0.75 if dropout is None else dropout,
                                  weight_scale=1 / math.sqrt(X.shape[1]), dtype=np.float64,
                                  seed=seed)
    else:
        model = ThreeLayerConvNet(input_dim=X.shape[1:], num_filters=3, filter_size=3,
                                  hidden_dim=(hidden or [7])[0], num_classes=num_classes,
                                  weight_scale=1 / math.sqrt(X[0].size), dtype=np.float64)
        model.params["b1"] = tie_free_bias(model, X)
    return X, y, model


def tie_free_bias(model, X, margin=0.1):
    """b1 for the conv net raised just enough that every 2x2 pool window of the batch X has a
    positive maximum: a window of four zeros after the ReLU is a tie, where the max's central
    difference is half of either side's derivative (see models/cnn.py)."""
    b1 = np.zeros_like(model.params["b1"])
    model.params["b1"] = b1
    conv = np.asarray(model.forward_tensors(X)[1]["relu1.x"])  # the conv's outputs, bias 0
    N, F, H, W = conv.shape
    window_max = conv.reshape(N, F, H // 2, 2, W // 2, 2).max(axis=(3, 5))
    return np.maximum(0.0, margin - window_max.min(axis=(0, 2, 3)))


def small_caption_data(batch):
    """A small caption set for gradient checks: `batch` strips, small features."""
    return {"num_train": batch, "num_val": 0, "num_test": 0, "feature_dim": 48}


# --- checkpoints --------------------------------------------------------------------------------
def save(model, path, metadata):
    """Write the parameters, batchnorm's running averages ("bn0.running_mean", ...) and the
    model's config to the checkpoint `path`."""
    arrays = dict(model.params)
    for i, bn_param in enumerate(getattr(model, "bn_params", None) or []):
        for key in ("running_mean", "running_var"):
            if key in bn_param:
                arrays[f"bn{i}.{key}"] = bn_param[key]
    return save_checkpoint(path, arrays, {"kind": kind_of(model), "config": model.config(),
                                          "metadata": metadata})


def load(path, kind):
    """The model a `save` wrote, its arrays' shapes checked against the architecture its config
    describes; it gets a `metadata` attribute (the dict given to `save`)."""
    arrays, header = load_checkpoint(path, kind=kind)
    config = header.get("config")
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: metadata.config should describe the {kind} model, found "
                              f"{config!r}")
    try:
        model = rebuild(CLASSES[kind], config)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: metadata.config does not describe a {kind} model: "
                              f"{error}") from None
    expected = {name: value.shape for name, value in model.params.items()}
    bn_params = getattr(model, "bn_params", None) or []
    if getattr(model, "normalization", None) == "batchnorm":  # layernorm keeps no statistics
        for i in range(len(bn_params)):
            D = model.params[f"gamma{i + 1}"].shape
            expected.update({f"bn{i}.running_mean": D, f"bn{i}.running_var": D})
    check_shapes(path, arrays, expected)
    model.params = {name: arrays[name].astype(value.dtype) for name, value in model.params.items()}
    for i, bn_param in enumerate(bn_params):
        for key in ("running_mean", "running_var"):
            if f"bn{i}.{key}" in arrays:
                bn_param[key] = arrays[f"bn{i}.{key}"]
    model.metadata = header.get("metadata", {})
    return model
