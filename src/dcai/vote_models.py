"""The vote filter's ensemble: small members of five network families, for 32x32 inputs.

The seed's team used ResNet34, AlexNet, LeNet5, an All-Convolutional Net and VGG-16;
these keep each family's shape at about 1-7 M multiply-adds per image, so five members
times five folds train on a 2-core CPU within minutes (at 2-4x these widths one ResNet
fold alone took minutes). They are not the fixed model and are not bound by its recipe.
"""
import tensorflow as tf

from .fixed_model import CUT_LAYER

L = tf.keras.layers
INPUT_SHAPE = (32, 32, 1)
# Members train for a few hundred steps only; with Keras's default momentum (0.99) the
# batch-norm moving statistics are still stale then, and predictions at inference time
# fall to chance (measured on the built-in pool: resnet 0.12, vgg 0.13 out-of-fold).
BN_MOMENTUM = 0.9


def _bn():
    return L.BatchNormalization(momentum=BN_MOMENTUM)


def lenet5() -> list:
    return [L.Conv2D(6, 5, activation="relu"), L.AveragePooling2D(2), L.Conv2D(16, 5, activation="relu"),
            L.AveragePooling2D(2), L.Flatten(), L.Dense(120, activation="relu"), L.Dense(84, activation="relu")]


def alexnet() -> list:
    """Five convolutions, three poolings, a wide dense layer with dropout."""
    return [L.Conv2D(16, 3, padding="same", activation="relu"), L.MaxPooling2D(),
            L.Conv2D(32, 3, padding="same", activation="relu"), L.MaxPooling2D(),
            L.Conv2D(48, 3, padding="same", activation="relu"), L.Conv2D(48, 3, padding="same", activation="relu"),
            L.Conv2D(32, 3, padding="same", activation="relu"), L.MaxPooling2D(),
            L.Flatten(), L.Dropout(0.3), L.Dense(256, activation="relu"), L.Dropout(0.3)]


def allconv() -> list:
    """All-CNN: strided convolutions instead of pooling, 1x1 convolutions, global average."""
    return [L.Conv2D(16, 3, padding="same", activation="relu"),
            L.Conv2D(16, 3, strides=2, padding="same", activation="relu"),
            L.Conv2D(32, 3, padding="same", activation="relu"),
            L.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
            L.Conv2D(32, 3, padding="same", activation="relu"), L.Conv2D(32, 1, activation="relu"),
            L.GlobalAveragePooling2D()]


def vgg() -> list:
    """Stacks of 3x3 convolutions with batch norm between poolings."""
    layers = [L.Conv2D(12, 3, padding="same", use_bias=False), _bn(), L.ReLU(), L.MaxPooling2D()]
    for width in (24, 48):
        for _ in range(2):
            layers += [L.Conv2D(width, 3, padding="same", use_bias=False), _bn(), L.ReLU()]
        layers.append(L.MaxPooling2D())
    return layers + [L.Flatten(), L.Dropout(0.3), L.Dense(128, activation="relu")]


def _resnet(inputs):
    """A strided stem, then three stages of one residual block each."""
    x = L.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = L.ReLU()(_bn()(x))
    for width, stride in ((16, 1), (32, 2), (64, 2)):
        shortcut = x
        y = L.Conv2D(width, 3, strides=stride, padding="same", use_bias=False)(x)
        y = L.ReLU()(_bn()(y))
        y = _bn()(L.Conv2D(width, 3, padding="same", use_bias=False)(y))
        if stride != 1 or shortcut.shape[-1] != width:
            shortcut = _bn()(L.Conv2D(width, 1, strides=stride, use_bias=False)(shortcut))
        x = L.ReLU()(L.Add()([y, shortcut]))
    return L.GlobalAveragePooling2D()(x)


def _fixed(inputs):
    """The fixed model's own architecture (ResNet50 cut after its first stage, global average),
    on the members' one-channel input and without its ImageNet preprocessing: the members'
    ink-scaled pixels are already centred on paper. Its batch norms get the members' momentum."""
    resnet = tf.keras.applications.ResNet50(input_tensor=inputs, include_top=False, weights=None)
    for layer in resnet.layers:
        if isinstance(layer, L.BatchNormalization):
            layer.momentum = BN_MOMENTUM
    return L.GlobalAveragePooling2D()(resnet.get_layer(CUT_LAYER).output)


SEQUENTIAL_MEMBERS = {"lenet5": lenet5, "alexnet": alexnet, "allconv": allconv, "vgg": vgg}
GRAPH_MEMBERS = {"resnet": _resnet, "fixed": _fixed}
MEMBERS = (*SEQUENTIAL_MEMBERS, *GRAPH_MEMBERS)
# Millions of multiply-adds per 32x32 image (convolutions and dense layers; tests/test_vote.py
# recounts them from the built models). vote_train starts the costliest models first, so the
# run does not end on one long model with the other cores idle; the order needs no model
# built, since building one before the workers start would fix TensorFlow's thread count.
MULTIPLY_ADDS = {"fixed": 14.44, "alexnet": 4.56, "vgg": 4.19, "allconv": 3.16, "resnet": 3.05, "lenet5": 0.42}


def build_member(name: str, n_classes: int, seed: int, input_shape: tuple = INPUT_SHAPE) -> tf.keras.Model:
    if name not in MEMBERS:
        raise ValueError(f"vote_filter member {name!r} is not one of {MEMBERS}")
    tf.keras.utils.set_random_seed(seed)  # seeds Keras's initializers too, not only TensorFlow's ops
    inputs = tf.keras.Input(input_shape)
    x = inputs
    if name in GRAPH_MEMBERS:
        x = GRAPH_MEMBERS[name](x)
    else:
        for layer in SEQUENTIAL_MEMBERS[name]():
            x = layer(x)
    outputs = L.Dense(n_classes)(x)
    model = tf.keras.Model(inputs, outputs, name=name)
    # Keras names layers by how many of their kind this process built before (conv2d_17), and
    # the weights file records those names: named by place, the file's bytes depend on the
    # model alone, not on which models a worker happened to train before it.
    for place, layer in enumerate(model.layers):
        layer.name = f"{name}_{place}_{type(layer).__name__.lower()}"
    return model
