"""Adversarial training on the word embeddings (`train.adversarial`).

Miyato, Dai & Goodfellow (2017, "Adversarial Training Methods for
Semi-Supervised Text Classification"): each training step also fits the
network on its own batch with every review's embedded tokens moved a small
step in the direction that raises the loss most,

    r = epsilon * |e| * g / |g|,   g = d loss / d e,

where `e` is one review's `(time, dim)` embedded sequence (norms over the
whole review, padding left out), and the gradients of the clean and of the
perturbed loss are summed. `epsilon` is relative to the review's embedding
norm, so the network cannot escape the perturbation by growing its
embeddings (Miyato et al. normalize the embeddings for the same reason).
It costs a second forward and backward pass per step; inference is unchanged.

The network is the classifier's own functional graph, split at its
`embedding` layer into two models that share its layers (`keras.models.clone_model`
with every layer kept): token ids to
embedded sequence, and (token ids, embedded sequence) to probabilities (the
second takes its padding mask from the token ids, as the network does). `fit` trains an
`AdversarialNetwork` built on the network's graph, so the network's weights
are the ones trained and the saved artifact is the plain network.

>>> import keras
>>> from textlstm.models.classifier import build_classifier
>>> from textlstm.models.config import ModelConfig
>>> net = build_classifier(ModelConfig(units=[4], embedding_dim=4, pooling="max"), vocab_size=20, num_classes=2)
>>> trainee = AdversarialNetwork(net.inputs, net.outputs, epsilon=0.02)
>>> [w.path for w in trainee.weights] == [w.path for w in net.weights]
True
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

EMBEDDING = "embedding"  # the layer build_classifier names


@dataclass(frozen=True)
class _Parts:
    """The two halves of the graph (a plain object, so Keras does not track
    them as layers of their own: their layers are the network's)."""

    embed: keras.Model
    head: keras.Model
    embedding: keras.layers.Layer


class AdversarialNetwork(keras.Model):
    """A functional classifier whose `train_step` adds the adversarial loss.

    Built on an existing network's graph (`AdversarialNetwork(net.inputs,
    net.outputs, epsilon=...)`): the layers, and so the weights, are the
    network's. Compile it like the network and `fit` it.

    Args:
        inputs: the network's inputs (token ids).
        outputs: the network's probabilities.
        epsilon: the perturbation's norm relative to each review's embedding norm.
        embedding: the name of the embedding layer to perturb after.
        **kwargs: passed to `keras.Model` (e.g. `name`).
    """

    def __init__(self, inputs, outputs, epsilon: float = 0.02, embedding: str = EMBEDDING, **kwargs):
        super().__init__(inputs, outputs, **kwargs)
        self.epsilon = float(epsilon)
        layer = self.get_layer(embedding)
        embed = keras.Model(self.inputs, [layer.input, layer.output])
        # The head is cut from a copy of the graph (the same layers, new nodes): a model whose
        # input is an intermediate tensor rewires that tensor, which would break this graph.
        captured = {}

        def call(op, *args, **kwargs):
            out = op(*args, **kwargs)
            if op is layer:
                captured["embedded"] = out
            return out

        copy = keras.models.clone_model(self, clone_function=lambda op: op, call_function=call)
        head = keras.Model([*copy.inputs, captured["embedded"]], copy.outputs)
        self._parts = _Parts(embed=embed, head=head, embedding=layer)

    def perturbation(self, embedded, gradient, mask):
        """`epsilon * |e| * g / |g|` per example, over its unmasked positions.

        Args:
            embedded: `(batch, time, dim)` embedded tokens.
            gradient: the loss's gradient with respect to `embedded`.
            mask: `(batch, time)` booleans, True at real tokens.
        """
        keep = tf.cast(mask, embedded.dtype)[..., None]
        e_norm = tf.norm(embedded * keep, axis=[1, 2], keepdims=True)
        g = gradient * keep
        g_norm = tf.norm(g, axis=[1, 2], keepdims=True)
        return self.epsilon * e_norm * g / (g_norm + 1e-12)

    def _loss(self, x, y, sample_weight, delta=None):
        """The loss and predictions of one forward pass, the embedded tokens moved by `delta`."""
        ids, embedded = self._parts.embed(x, training=True)
        mask = self._parts.embedding.compute_mask(ids)
        moved = tf.identity(embedded) if delta is None else embedded + delta  # (no Keras mask attached)
        y_pred = self._parts.head([x, moved], training=True)
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
        return loss, y_pred, embedded, mask

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        variables = self.trainable_variables
        with tf.GradientTape() as tape:
            loss, y_pred, embedded, mask = self._loss(x, y, sample_weight)
        *grads, g = tape.gradient(loss, [*variables, embedded])
        delta = tf.stop_gradient(self.perturbation(embedded, g, mask))
        with tf.GradientTape() as tape:
            adv_loss, _, _, _ = self._loss(x, y, sample_weight, delta)
        adv_grads = tape.gradient(adv_loss, variables)
        total = [_sum(a, b) for a, b in zip(grads, adv_grads)]
        self.optimizer.apply_gradients(zip(total, variables))
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred, sample_weight=sample_weight)
        return {m.name: m.result() for m in self.metrics}


def _sum(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return tf.convert_to_tensor(a) + tf.convert_to_tensor(b)


def adversarial_network(network: keras.Model, epsilon: float) -> AdversarialNetwork:
    """`network`'s graph as an `AdversarialNetwork`, compiled as `network` is
    (the same loss and metrics, a fresh optimizer of the same configuration).

    Args:
        network: a compiled classifier from `build_classifier`.
        epsilon: see `AdversarialNetwork`.
    """
    trainee = AdversarialNetwork(network.inputs, network.outputs, epsilon=epsilon, name=network.name)
    trainee.compile_from_config(network.get_compile_config())
    return trainee
