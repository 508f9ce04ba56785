"""Scratch experiment (not part of the package): a bagged ensemble of the whole
rt_polarity pipeline. Member m trains `pipelines/rt_polarity.yaml` with
train.seed = 42 + m, so it draws its own 10% validation split (its own early
stopping, naive Bayes ratios, NBSVM fit and fusion weights) and its own
initialization; the members' fused probabilities are averaged. Member 0 is
exactly the run bench/cv_classifier.py scores for the shipped pipeline.

Same 5 folds (fold seed 0) as bench/cv_classifier.py; the test split is never
read. Needs ../shared/data/rt_polarity.

usage: python bench/scratch/bagging_cv.py MEMBERS [OUT.json]
"""
import json, os, statistics, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np, keras
from cv_classifier import stratified_folds
from textlstm.classifier import TextClassifier
from textlstm.config import load_pipeline
from textlstm.data import load_splits
from textlstm.data.labels import stratified_split

MEMBERS = int(sys.argv[1])
OUT = sys.argv[2] if len(sys.argv) > 2 else None
base = load_pipeline("pipelines/rt_polarity.yaml", ["train.verbose=0", "train.tensorboard=false"])
splits = load_splits(base.data, "classification", base.train.seed)
rows = splits.train.rows + splits.validation.rows
texts, labels = [r[0] for r in rows], [r[1] for r in rows]
result = {"members": MEMBERS, "folds": []}
start = time.perf_counter()
for k, held_out in enumerate(stratified_folds(labels, 5, 0)):
    out = set(held_out)
    keep = [i for i in range(len(rows)) if i not in out]
    held_texts, held_y = [texts[i] for i in held_out], np.asarray([int(labels[i]) for i in held_out])
    probs, single = [], []
    for m in range(MEMBERS):
        seed = base.train.seed + m
        cfg = load_pipeline("pipelines/rt_polarity.yaml",
                            ["train.verbose=0", "train.tensorboard=false", f"train.seed={seed}"])
        tr, va = stratified_split([labels[i] for i in keep], cfg.data.validation_fraction, seed)
        tr, va = [keep[i] for i in tr], [keep[i] for i in va]
        keras.utils.set_random_seed(seed)
        clf = TextClassifier(cfg).fit([texts[i] for i in tr], [labels[i] for i in tr],
                                      validation=([texts[i] for i in va], [labels[i] for i in va]))
        names = clf.label_names
        p = clf.predict_proba(held_texts)[:, names.index("1")]
        probs.append(p)
        single.append(float(np.mean((p > 0.5) == held_y)))
        keras.backend.clear_session()
        print(f"fold {k} member {m}: {single[-1]:.4f}  bag of {m + 1}: "
              f"{np.mean((np.mean(probs, 0) > 0.5) == held_y):.4f}  ({time.perf_counter() - start:.0f} s)",
              file=sys.stderr, flush=True)
    bag = {n: float(np.mean((np.mean(probs[:n], 0) > 0.5) == held_y)) for n in range(1, MEMBERS + 1)}
    result["folds"].append({"member_accuracy": single, "bag_accuracy": bag})
    if OUT:
        json.dump(result, open(OUT, "w"), indent=2)
summary = {}
for n in range(1, MEMBERS + 1):
    accs = [f["bag_accuracy"][n] for f in result["folds"]]
    summary[n] = {"fold_accuracy": [round(a, 4) for a in accs], "mean": round(statistics.mean(accs), 4),
                  "stderr": round(statistics.stdev(accs) / len(accs) ** 0.5, 4)}
members = [statistics.mean(f["member_accuracy"][m] for f in result["folds"]) for m in range(MEMBERS)]
result.update(bag_summary=summary, member_mean_accuracy=[round(a, 4) for a in members],
              seconds=round(time.perf_counter() - start, 1))
if OUT:
    json.dump(result, open(OUT, "w"), indent=2)
print(json.dumps(result, indent=2))
