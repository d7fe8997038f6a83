"""scikit-learn's grid over textops' sweep space, on the same cleaned documents and the same folds.

Reads a JSON job (path in argv[1]): cleaned training/test documents (tokens joined by spaces), labels, the fold
assignment textops uses (fold id per training row; -1: only ever fitted on), the space, the TF-IDF settings and the
metric. Scores every candidate (features x C x class_weight x nb_blend; nb_blend as textops defines it: logistic
scores + blend x MultinomialNB joint log-likelihoods, so it needs no fit of its own), refits the best on the whole
training part and prints its test scores as JSON.
"""
import json
import sys
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import FeatureUnion

with open(sys.argv[1], encoding="utf-8") as f:
    job = json.load(f)
start = time.perf_counter()
min_df = int(job["min_df"]) if job["min_df"] >= 1 else float(job["min_df"])
common = dict(lowercase=False, min_df=min_df, max_df=float(job["max_df"]), sublinear_tf=job["sublinear_tf"])


def vectorizer(features):
    word = TfidfVectorizer(
        tokenizer=str.split, token_pattern=None, ngram_range=tuple(features.get("ngram_range", [1, 2])), **common
    )
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(features.get("char_ngram_range", [2, 5])), **common)
    if features["analyzer"] == "word":
        return word
    if features["analyzer"] == "char_wb":
        return char
    return FeatureUnion([("word", word), ("char", char)])


def scores(model, nb, x, blend):
    s = model.decision_function(x)
    if blend == 0:
        return s
    jll = nb.predict_joint_log_proba(x)
    return s + blend * (jll[:, 1] - jll[:, 0]) if s.ndim == 1 else s + blend * jll


def predict(model, nb, x, blend):
    s = scores(model, nb, x, blend)
    return model.classes_[(s > 0).astype(int)] if s.ndim == 1 else model.classes_[s.argmax(axis=1)]


def metric(truth, predicted):
    if job["metric"] == "accuracy":
        return accuracy_score(truth, predicted)
    return f1_score(truth, predicted, average="macro" if job["metric"] == "f1_macro" else "weighted")


docs = job["train_docs"]
labels = np.array(job["train_labels"])
folds = np.array(job["folds"])
space = job["space"]
results = []
for fi, features in enumerate(space["features"]):
    per = {}
    for f in sorted(set(folds.tolist()) - {-1}):
        fit, val = np.where(folds != f)[0], np.where(folds == f)[0]
        v = vectorizer(features)
        x_fit = v.fit_transform([docs[i] for i in fit])
        x_val = v.transform([docs[i] for i in val])
        nb = MultinomialNB(alpha=job["alpha"]).fit(x_fit, labels[fit])
        for C in space["C"]:
            for cw in space["class_weight"]:
                model = LogisticRegression(C=C, class_weight=cw, max_iter=1000).fit(x_fit, labels[fit])
                for blend in space["nb_blend"]:
                    per.setdefault((C, cw, blend), []).append(metric(labels[val], predict(model, nb, x_val, blend)))
    for (C, cw, blend), s in per.items():
        results.append({"features": features, "C": C, "class_weight": cw, "nb_blend": blend, "cv": float(np.mean(s))})
best = max(results, key=lambda r: r["cv"])  # the first of equals: Python's max keeps the first
v = vectorizer(best["features"])
x = v.fit_transform(docs)
model = LogisticRegression(C=best["C"], class_weight=best["class_weight"], max_iter=1000).fit(x, labels)
nb = MultinomialNB(alpha=job["alpha"]).fit(x, labels)
predicted = predict(model, nb, v.transform(job["test_docs"]), best["nb_blend"])
truth = job["test_labels"]
print(
    json.dumps(
        {
            "best": best,
            "candidates": len(results),
            "seconds": time.perf_counter() - start,
            "accuracy": accuracy_score(truth, predicted),
            "f1_macro": f1_score(truth, predicted, average="macro"),
        }
    )
)
