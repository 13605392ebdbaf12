"""A captioning data set small enough to train on in seconds: strips of three 8x8 digits.

Each image is three of scikit-learn's bundled 8x8 digits side by side (8 x 24 pixels), captioned
with their names: "<START> three one four <END>". The dict `load_digit_captions` returns has the
layout of cs231n's `load_coco_data`, so cs231n's CaptioningRNN, CaptioningSolver and notebook
code run on it unchanged:

    "train_captions" (N, 5) int32        one caption per strip: <START> d1 d2 d3 <END>
    "train_image_idxs" (N,) int          the strip each caption describes (here arange(N))
    "train_features" (N, D) float        the strips' image features (see below), less
                                         "feature_mean" (D,), the training strips' mean
    "train_images" (N, 8, 24) float      the strips' pixels in [0, 1], for drawing
    "train_digit_idxs" (N, 3) int        which of scikit-learn's 1,797 digits make up each strip
    the same for "val_" and "test_", and
    "idx_to_word" (list), "word_to_idx" (dict): "<NULL>" 0, "<START>" 1, "<END>" 2, "<UNK>" 3
        (cs231n's special words, in its order), then "zero" 4 .. "nine" 13.

Held-out strips are made of held-out digits: the 1,797 digits are split as
`tensorflowlite_clone.app.data.load("digits", seed=seed)` splits them (shuffled, stratified by
class, 10% validation, 10% test), and the training strips draw only from the training digits,
the validation strips only from the validation digits, the test strips only from the test
digits. The strips' digits are drawn with replacement by a generator seeded with `seed`.

Features: a small fixed convolutional feature extractor, applied to each digit of the strip
alone and the three results concatenated (D = feature_dim = 3 x 16K, 1,536 by default):

    maps_k = relu(conv3x3(cell_k, filters_k) + bias_k),  k = 1..K   (zero padding: 8x8 maps)
    f = [mean over each 2x2 block of maps_k]_k                      (K x 4 x 4 per digit)

cell the digit's 8x8 pixels in [0, 1]; K = 32 filters with N(0, 1) entries made zero-mean and
unit-norm (they respond to strokes, not to brightness) and biases N(0, 1/4), drawn once from
`np.random.default_rng(FEATURE_SEED)`: the same for every data seed, every split and every call
(a fixed extractor, like cs231n's pretrained VGG features). On these features a linear
classifier tells held-out single digits apart about 97% of the time, against about 96% on the
raw pixels; the 2x2 pooling makes them a little tolerant of a digit drawn a pixel off.

`jitter` (0 by default) moves each digit of the training strips by up to that many pixels, a
data augmentation; in the runs that chose DIGITS_SETTINGS (before the centring below) it slowed
training more than it helped, so it is off.

As cs231n preprocesses its data (and `app.data` its images), the mean of the training strips'
features is subtracted from every split's (kept as "feature_mean"): uncentred, every feature is
positive and the captioners learned far more slowly (the LSTM's test exact-match went from
about 0.90 to 0.95 with it, at the same settings).
"""
import numpy as np

from .data import _split_sizes, _stratified_split

NULL, START, END, UNK = "<NULL>", "<START>", "<END>", "<UNK>"
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
IDX_TO_WORD = [NULL, START, END, UNK, *DIGIT_WORDS]
WORD_TO_IDX = {word: i for i, word in enumerate(IDX_TO_WORD)}
DIGITS_PER_STRIP = 3
FEATURE_SEED = 231
SPLITS = ("train", "val", "test")


def _digits():
    """scikit-learn's 1,797 digits as (images (n, 8, 8) in [0, 1], labels (n,))."""
    from sklearn.datasets import load_digits  # late: sklearn is slow to import

    X, y = load_digits(return_X_y=True)
    return (X / 16).reshape(-1, 8, 8), y.astype(np.int64)


def _count(value, name, allow_zero=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < (0 if allow_zero else 1):
        raise ValueError(f"{name} must be {'a non-negative' if allow_zero else 'a positive'} "
                         f"integer, got {value!r}")
    return int(value)


def feature_filters(feature_dim=1536):
    """The fixed filters (K, 3, 3) and biases (K,) of the module docstring, K = feature_dim / 48."""
    feature_dim = _count(feature_dim, "feature_dim")
    per_filter = DIGITS_PER_STRIP * 16  # a 4x4 map per filter per digit
    if feature_dim % per_filter:
        raise ValueError(f"feature_dim must be a multiple of {per_filter} ({DIGITS_PER_STRIP} digits x "
                         f"a 4x4 map per filter), got {feature_dim}")
    rng = np.random.default_rng(FEATURE_SEED)
    K = feature_dim // per_filter
    filters = rng.standard_normal((K, 3, 3))
    filters -= filters.mean(axis=(1, 2), keepdims=True)  # respond to strokes, not to brightness
    filters /= np.sqrt((filters ** 2).sum(axis=(1, 2), keepdims=True))
    biases = rng.standard_normal(K) / 2
    return filters, biases


def cell_features(cells, feature_dim=1536):
    """The features (m, feature_dim // 3) of single 8x8 digits `cells` (m, 8, 8) in [0, 1]."""
    cells = np.asarray(cells, dtype=np.float64)
    filters, biases = feature_filters(feature_dim)
    K, m = len(filters), cells.shape[0]
    padded = np.pad(cells, ((0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))  # (m, 8, 8, 3, 3)
    maps = windows.reshape(-1, 9) @ filters.reshape(K, 9).T + biases  # (m * 8 * 8, K)
    maps = np.maximum(maps, 0).reshape(m, 4, 2, 4, 2, K)
    return maps.mean(axis=(2, 4)).transpose(0, 3, 1, 2).reshape(m, -1)  # (m, K, 4, 4) flattened


def strip_features(images, feature_dim=1536, dtype=np.float32):
    """The features (n, feature_dim) of strips `images` (n, 8, 24), pixels in [0, 1]: the three
    cells' `cell_features`, concatenated left to right."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or images.shape[1:] != (8, 8 * DIGITS_PER_STRIP):
        raise ValueError(f"images must have shape (n, 8, {8 * DIGITS_PER_STRIP}), got {images.shape}")
    n = images.shape[0]
    cells = images.reshape(n, 8, DIGITS_PER_STRIP, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)
    return cell_features(cells, feature_dim).reshape(n, feature_dim).astype(dtype)


def caption_of(labels):
    """The caption word indices of strips whose digits are `labels` (n, 3):
    <START> d1 d2 d3 <END>, int32 as cs231n's COCO captions."""
    labels = np.asarray(labels)
    n = labels.shape[0]
    captions = np.empty((n, DIGITS_PER_STRIP + 2), dtype=np.int32)
    captions[:, 0] = WORD_TO_IDX[START]
    captions[:, 1:-1] = labels + WORD_TO_IDX[DIGIT_WORDS[0]]
    captions[:, -1] = WORD_TO_IDX[END]
    return captions


def _shifted(images, rng, jitter):
    """Each 8x8 image moved by its own random (dy, dx) in -jitter..jitter, zeros shifted in."""
    n = len(images)
    padded = np.pad(images, ((0, 0), (jitter, jitter), (jitter, jitter)))
    dy, dx = rng.integers(-jitter, jitter + 1, size=(2, n)) + jitter
    rows = dy[:, None] + np.arange(8)  # (n, 8)
    cols = dx[:, None] + np.arange(8)
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def load_digit_captions(num_train=20000, num_val=300, num_test=500, seed=0, feature_dim=1536,
                        jitter=0, dtype=np.float32):
    """The digit-strip captioning data (see the module docstring) as cs231n's data dict.

    num_train, num_val, num_test: strips per split (each with one caption); seed: the digit
    split and the strips' draws (the feature extractor is fixed); feature_dim: D, a multiple of
    48 (K = feature_dim / 48 filters); jitter: the training digits' random shift in pixels (0:
    none); dtype: the features' float dtype.
    """
    sizes = {"train": _count(num_train, "num_train"), "val": _count(num_val, "num_val", True),
             "test": _count(num_test, "num_test", True)}
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"dtype must be a floating-point dtype, got {dtype}")
    feature_filters(feature_dim)  # checks feature_dim before the slow part
    jitter = _count(jitter, "jitter", allow_zero=True)
    if jitter > 7:
        raise ValueError(f"jitter must be at most 7 pixels (the digits are 8 wide), got {jitter}")

    images, labels = _digits()
    n_val, n_test = _split_sizes(len(labels), 0.1, 0.1)  # load("digits")'s split, index for index
    pools = dict(zip(SPLITS, _stratified_split(labels, n_val, n_test, seed)))
    digit_features = cell_features(images, feature_dim)  # once per digit: a strip's are its cells'
    rng = np.random.default_rng(seed)
    data = {"idx_to_word": list(IDX_TO_WORD), "word_to_idx": dict(WORD_TO_IDX)}
    for split in SPLITS:
        pool = pools[split]
        n = sizes[split]
        digit_idxs = pool[rng.integers(len(pool), size=(n, DIGITS_PER_STRIP))]
        cells = images[digit_idxs]  # (n, 3, 8, 8)
        if split == "train" and jitter:
            cells = _shifted(cells.reshape(-1, 8, 8), rng, jitter).reshape(cells.shape)
            features = cell_features(cells.reshape(-1, 8, 8), feature_dim).reshape(n, feature_dim)
        else:
            features = digit_features[digit_idxs].reshape(n, feature_dim)
        data[f"{split}_captions"] = caption_of(labels[digit_idxs])
        data[f"{split}_image_idxs"] = np.arange(n)
        data[f"{split}_features"] = features
        strips = cells.transpose(0, 2, 1, 3).reshape(n, 8, 8 * DIGITS_PER_STRIP)
        data[f"{split}_images"] = strips
        data[f"{split}_digit_idxs"] = digit_idxs
    # cs231n's preprocessing: the training features' mean subtracted from every split (as
    # app.data subtracts the training mean image); without it every feature is positive, h0
    # starts far off centre and Adam's first steps move it a long way
    mean = data["train_features"].mean(axis=0, dtype=np.float64)
    for split in SPLITS:
        data[f"{split}_features"] = (data[f"{split}_features"] - mean).astype(dtype)
    data["feature_mean"] = mean.astype(dtype)
    return data


def sample_minibatch(data, batch_size=100, split="train"):
    """cs231n's `sample_coco_minibatch`: `batch_size` captions drawn with replacement
    (`np.random.choice`, NumPy's global generator), with their images' features. Returns
    (captions, image_features, image_idxs); the third is cs231n's urls, here the image indices
    (the data dict's "<split>_urls" when it has them)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    _count(batch_size, "batch_size")
    split_size = data[f"{split}_captions"].shape[0]
    mask = np.random.choice(split_size, batch_size)
    captions = data[f"{split}_captions"][mask]
    image_idxs = data[f"{split}_image_idxs"][mask]
    image_features = data[f"{split}_features"][image_idxs]
    urls = data[f"{split}_urls"][image_idxs] if f"{split}_urls" in data else image_idxs
    return captions, image_features, urls


def decode_captions(captions, idx_to_word):
    """cs231n's `decode_captions`: each row's words joined by spaces, "<NULL>" skipped, read up
    to and including the first "<END>" (a "<START>" is kept if present). A 1-D caption gives one
    string, an (N, T) array a list of N strings. idx_to_word: a list or a dict index -> word."""
    captions = np.asarray(captions)
    singleton = captions.ndim == 1
    if singleton:
        captions = captions[None]
    if captions.ndim != 2 or captions.dtype.kind not in "iu":
        raise ValueError(f"captions must be integer word indices of shape (T,) or (N, T), got "
                         f"{captions.dtype} {captions.shape}")
    decoded = []
    for row in captions:
        words = []
        for index in row:
            word = idx_to_word[int(index)]
            if word != NULL:
                words.append(word)
            if word == END:
                break
        decoded.append(" ".join(words))
    return decoded[0] if singleton else decoded


def exact_match_accuracy(model, data, split="test", max_length=None, batch_size=500):
    """The fraction of the split's images whose greedily sampled caption, decoded, is exactly
    the true one (decoded the same way, <START> dropped from both: `sample` starts after it).
    max_length defaults to the true captions' length less <START>."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    captions, idxs = data[f"{split}_captions"], data[f"{split}_image_idxs"]
    if captions.shape[0] == 0:
        raise ValueError(f"exact_match_accuracy: the {split} split has no captions")
    idx_to_word = data["idx_to_word"]
    length = captions.shape[1] - 1 if max_length is None else _count(max_length, "max_length")
    truth = decode_captions(captions[:, 1:], idx_to_word)
    features = data[f"{split}_features"][idxs]
    predicted = []
    for start in range(0, len(idxs), batch_size):
        predicted += decode_captions(model.sample(features[start:start + batch_size], length),
                                     idx_to_word)
    return float(np.mean([p == t for p, t in zip(predicted, truth)]))
