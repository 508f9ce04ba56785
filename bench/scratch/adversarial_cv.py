"""Scratch experiment (not part of the package): adversarial training on the
embeddings (Miyato, Dai & Goodfellow 2017, "Adversarial training methods for
semi-supervised text classification") for the joint rt_polarity model, scored
alone and fused with an NB-LR (words 1-3 + chars 2-5) on the validation split.

Same 5 folds (fold seed 0) and 10% validation split as bench/cv_classifier.py.
Needs ../shared/data/rt_polarity and scikit-learn. Results: bench/RESULTS.md,
bench/results/scratch_adversarial.json.

usage: python bench/scratch/adversarial_cv.py EPS[,EPS...] [FOLDS] [TAG]
       e.g. python bench/scratch/adversarial_cv.py 0,2.0 0,1,2,3,4 adv   # -> runs/adv/adv.json
"""
import json, os, sys, time, numpy as np, scipy.sparse as sp
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import keras, tensorflow as tf
from cv_classifier import stratified_folds
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from textlstm.config import load_pipeline
from textlstm.data import load_splits
from textlstm.data.labels import stratified_split
EPS = [float(e) for e in sys.argv[1].split(",")]
FOLDS = [int(f) for f in sys.argv[2].split(",")] if len(sys.argv) > 2 else list(range(5))
TAG = sys.argv[3] if len(sys.argv) > 3 else "adv"
cfg0 = load_pipeline("pipelines/rt_polarity.yaml", [])
splits = load_splits(cfg0.data, "classification", cfg0.train.seed)
rows = splits.train.rows + splits.validation.rows
texts, labels = [r[0] for r in rows], [int(r[1]) for r in rows]
acc = lambda z, y: float(np.mean((np.asarray(z) > 0) == y))
D = 128
bce = keras.losses.BinaryCrossentropy(from_logits=True)

class Adv(keras.Model):
    """Adds eps * g/||g|| (g: the loss gradient w.r.t. each text's embeddings) and trains on both losses."""
    def __init__(self, eps, **kw):
        super().__init__(**kw); self.eps = eps
    def train_step(self, data):
        (ids, nbs), y = data
        zero = tf.zeros([tf.shape(ids)[0], tf.shape(ids)[1], D])
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(zero)
            z = self([ids, nbs, zero], training=True)
            loss = bce(y, z[:, 0])
        grads = tape.gradient(loss, self.trainable_variables)
        if self.eps > 0:
            g = tf.stop_gradient(tape.gradient(loss, zero))
            g = g / (tf.norm(g, axis=[1, 2], keepdims=True) + 1e-12)
            with tf.GradientTape() as tape2:
                za = self([ids, nbs, self.eps * g], training=True)
                la = bce(y, za[:, 0])
            grads = [tf.convert_to_tensor(a) + tf.convert_to_tensor(b) for a, b in zip(grads, tape2.gradient(la, self.trainable_variables))]
        del tape
        self.optimizer.apply(grads, self.trainable_variables)
        self._acc.update_state(y, z[:, 0]); self._loss.update_state(loss)
        return {"loss": self._loss.result(), "accuracy": self._acc.result()}
    def test_step(self, data):
        (ids, nbs), y = data
        z = self([ids, nbs, tf.zeros([tf.shape(ids)[0], tf.shape(ids)[1], D])], training=False)
        self._acc.update_state(y, z[:, 0]); self._loss.update_state(bce(y, z[:, 0]))
        return {"loss": self._loss.result(), "accuracy": self._acc.result()}
    @property
    def metrics(self):
        return [self._loss, self._acc]

def model(vocab, eps):
    ids = keras.Input((None,), dtype="int64"); nbs = keras.Input((1,)); delta = keras.Input((None, D))
    x = keras.layers.Embedding(vocab, D, mask_zero=True)(ids)
    x = keras.layers.Add()([x, delta])
    x = keras.layers.Bidirectional(keras.layers.LSTM(64, return_sequences=True))(x)
    x = keras.layers.Bidirectional(keras.layers.LSTM(64))(x)
    x = keras.layers.Dropout(0.5)(x)
    z = keras.layers.Add()([keras.layers.Dense(1)(x), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")(nbs)])
    m = Adv(eps, inputs=[ids, nbs, delta], outputs=z)
    m._acc = keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy"); m._loss = keras.metrics.Mean(name="loss")
    m.compile(optimizer=keras.optimizers.Adam(1e-3))
    return m

def ds(seqs, y, nbsum, shuffle, seed=0):
    d = tf.data.Dataset.from_generator(lambda: ((s, n, t) for s, n, t in zip(seqs, nbsum, y)),
        output_signature=(tf.TensorSpec((None,), tf.int64), tf.TensorSpec((1,), tf.float32), tf.TensorSpec((), tf.float32)))
    d = d.cache()
    if shuffle: d = d.shuffle(10000, seed=seed)
    d = d.bucket_by_sequence_length(lambda s, n, t: tf.shape(s)[0], [10, 20, 30, 40, 60], [32] * 6)
    return d.map(lambda s, n, t: ((s, n), t)).prefetch(2)

out = {}
for k, held in enumerate(stratified_folds(labels, 5, 0)):
    if k not in FOLDS: continue
    o = set(held); keep = [i for i in range(len(rows)) if i not in o]
    tr, va = stratified_split([labels[i] for i in keep], 0.1, 42)
    tr, va = [keep[i] for i in tr], [keep[i] for i in va]
    T = lambda idx: [texts[i] for i in idx]; Y = lambda idx: np.array([labels[i] for i in idx])
    yv, yh = Y(va), Y(held)
    vec = keras.layers.TextVectorization(20000, standardize="lower", split="whitespace")
    vec.adapt(T(tr))
    enc = lambda t: [np.asarray(vec(x)) for x in t]
    s_tr, s_va, s_ho = enc(T(tr)), enc(T(va)), enc(T(held))
    V = vec.vocabulary_size(); y = Y(tr)
    W = CountVectorizer(binary=True, ngram_range=(1, 3), token_pattern=r"\S+"); C = CountVectorizer(binary=True, analyzer="char_wb", ngram_range=(2, 5))
    X = sp.hstack([W.fit_transform(T(tr)), C.fit_transform(T(tr))]).tocsr()
    p = 1 + X[y == 1].sum(0); q = 1 + X[y == 0].sum(0); r = np.asarray(np.log((p / p.sum()) / (q / q.sum()))).ravel()
    lr = LogisticRegression(C=0.3, max_iter=3000).fit(X.multiply(r).tocsr(), y)
    lin = lambda t: lr.decision_function(sp.hstack([W.transform(t), C.transform(t)]).tocsr().multiply(r).tocsr())
    lv, lh = lin(T(va)), lin(T(held))
    B = CountVectorizer(binary=True, ngram_range=(1, 2), token_pattern=r"\S+"); XB = B.fit_transform(T(tr)).tocsr()
    pb = 1 + XB[y == 1].sum(0); qb = 1 + XB[y == 0].sum(0); rb = np.asarray(np.log((pb / pb.sum()) / (qb / qb.sum()))).ravel()
    nbsum = lambda t: (B.transform(t) @ rb).reshape(-1, 1).astype("float32")
    n_tr, n_va, n_ho = nbsum(T(tr)), nbsum(T(va)), nbsum(T(held))
    for eps in EPS:
        keras.utils.set_random_seed(42)
        m = model(V, eps)
        t0 = time.time()
        h = m.fit(ds(s_tr, y.astype("float32"), n_tr, True), validation_data=ds(s_va, Y(va).astype("float32"), n_va, False),
                  epochs=10, verbose=0, callbacks=[keras.callbacks.EarlyStopping("val_accuracy", patience=3, restore_best_weights=True, mode="max")])
        def pred(s, nb):
            outz = np.zeros(len(s)); order = np.argsort([len(x) for x in s])
            for a in range(0, len(s), 256):
                idx = order[a:a + 256]; L = max(len(s[i]) for i in idx)
                batch = np.zeros((len(idx), L), "int64")
                for j, i in enumerate(idx): batch[j, :len(s[i])] = s[i]
                outz[idx] = m.predict_on_batch([batch, nb[idx], np.zeros((len(idx), L, D), "float32")])[:, 0]
            return outz
        zv, zh = pred(s_va, n_va), pred(s_ho, n_ho)
        f2 = LogisticRegression().fit(np.stack([zv, lv], 1), yv)
        ep = int(np.argmax(h.history["val_accuracy"])) + 1
        rec_out = dict(alone=acc(zh, yh), fused=acc(f2.decision_function(np.stack([zh, lh], 1)), yh),
                       val=max(h.history["val_accuracy"]), fused_val=float(f2.score(np.stack([zv, lv], 1), yv)), epoch=ep,
                       val_curve=[round(v, 4) for v in h.history["val_accuracy"]], sec=time.time() - t0)
        out.setdefault(str(eps), []).append(dict(fold=k, **rec_out))
        print(k, eps, rec_out, flush=True)
        os.makedirs("runs/adv", exist_ok=True)
        json.dump(out, open(f"runs/adv/{TAG}.json", "w"))
for e, v in out.items():
    print(e, {key: round(float(np.mean([x[key] for x in v])), 4) for key in ("alone", "fused", "val", "fused_val", "epoch", "sec")})
