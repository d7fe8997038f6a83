"""scikit-learn's time for textops' single recipe (the params' fixed settings, `train --no-tune`).

Reads a JSON job (path in argv[1]): cleaned training documents (tokens joined by spaces), labels and the settings
(word n-gram range, min_df, max_df, sublinear_tf, C, nb_blend, naive Bayes alpha, class_weight). Times what
textops' featurize and train stages do: TfidfVectorizer.fit_transform, LogisticRegression.fit and, with a blend,
MultinomialNB.fit, on the same documents. Prints {"featurize": s, "train": s} (the best of `repeat` runs, so a
busy machine inflates it less).
"""
import json
import sys
import time

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB

with open(sys.argv[1], encoding="utf-8") as f:
    job = json.load(f)
min_df = int(job["min_df"]) if job["min_df"] >= 1 else float(job["min_df"])
best = {"featurize": float("inf"), "train": float("inf")}
for _ in range(job.get("repeat", 3)):
    t0 = time.perf_counter()
    v = TfidfVectorizer(
        tokenizer=str.split,
        token_pattern=None,
        lowercase=False,
        ngram_range=tuple(job["ngram_range"]),
        min_df=min_df,
        max_df=float(job["max_df"]),
        sublinear_tf=job["sublinear_tf"],
    )
    x = v.fit_transform(job["train_docs"])
    t1 = time.perf_counter()
    LogisticRegression(C=job["C"], class_weight=job["class_weight"], max_iter=job["max_iter"]).fit(
        x, job["train_labels"]
    )
    if job["nb_blend"] > 0:
        MultinomialNB(alpha=job["alpha"]).fit(x, job["train_labels"])
    t2 = time.perf_counter()
    best["featurize"] = min(best["featurize"], t1 - t0)
    best["train"] = min(best["train"], t2 - t1)
print(json.dumps(best))
