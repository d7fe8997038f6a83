"""scikit-learn as an oracle for the TypeScript ML core.

Reads a JSON job on stdin: pre-tokenized documents (tokens joined by single spaces), labels, and the
vectorizer/classifier settings; writes the vocabulary, idf, the TF-IDF matrix (CSR), the fitted linear
coefficients and the predicted probabilities of the test documents as JSON on stdout.
"""
import json
import sys

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import FeatureUnion

job = json.load(sys.stdin)
# JSON cannot tell 1 from 1.0; textops reads min_df >= 1 as a count and max_df <= 1 as a share.
min_df = int(job["min_df"]) if job["min_df"] >= 1 else float(job["min_df"])
max_df = float(job["max_df"]) if job["max_df"] <= 1 else int(job["max_df"])
common = dict(
    lowercase=False,
    min_df=min_df,
    max_df=max_df,
    max_features=job.get("max_features"),
    sublinear_tf=job["sublinear_tf"],
    smooth_idf=True,
    norm="l2",
)
analyzer = job.get("analyzer", "word")
# textops' word analyzer: the cleaned tokens are the words. char_wb: sklearn finds the words itself by splitting
# on whitespace; preprocessor=None with lowercase=False leaves the cleaned text as it is.
word = TfidfVectorizer(tokenizer=str.split, token_pattern=None, ngram_range=tuple(job["ngram_range"]), **common)
char = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(job.get("char_ngram_range", [2, 5])), **common)
if analyzer == "word":
    parts = [word]
    vectorizer = word
elif analyzer == "char_wb":
    parts = [char]
    vectorizer = char
else:
    # word+char: scikit-learn's horizontal union; each transformer normalises its own rows.
    parts = [word, char]
    vectorizer = FeatureUnion([("word", word), ("char", char)])
x_train = vectorizer.fit_transform(job["train_docs"]).tocsr()
x_train.sort_indices()
x_test = vectorizer.transform(job["test_docs"]).tocsr()
x_test.sort_indices()
if analyzer == "word+char":
    parts = [fitted for _, fitted in vectorizer.transformer_list]
# Unprefixed names (FeatureUnion would prefix them "word__", "char__") and idf in column order.
vocabulary = [name for part in parts for name in part.get_feature_names_out().tolist()]
idf = np.concatenate([part.idf_ for part in parts])

if job["classifier"] == "naive_bayes":
    model = MultinomialNB(alpha=job["alpha"])
else:
    model = LogisticRegression(
        C=job["C"], tol=1e-10, max_iter=100000, class_weight=job.get("class_weight")
    )
model.fit(x_train, job["train_labels"])
test_proba = np.asarray(model.predict_proba(x_test))

blend = job.get("nb_blend", 0)
if job["classifier"] != "naive_bayes" and blend > 0:
    # textops' nb_blend: logistic scores + blend x MultinomialNB joint log-likelihoods, then the link function.
    nb = MultinomialNB(alpha=job["alpha"]).fit(x_train, job["train_labels"])
    jll = nb.predict_joint_log_proba(x_test)
    scores = model.decision_function(x_test)
    if scores.ndim == 1:
        positive = 1 / (1 + np.exp(-(scores + blend * (jll[:, 1] - jll[:, 0]))))
        test_proba = np.column_stack([1 - positive, positive])
    else:
        scores = scores + blend * jll
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        test_proba = scores / scores.sum(axis=1, keepdims=True)

json.dump(
    {
        "vocabulary": vocabulary,
        "idf": idf.tolist(),
        "indptr": x_train.indptr.tolist(),
        "indices": x_train.indices.tolist(),
        "values": x_train.data.tolist(),
        "test_indptr": x_test.indptr.tolist(),
        "test_indices": x_test.indices.tolist(),
        "test_values": x_test.data.tolist(),
        "classes": model.classes_.tolist(),
        "test_proba": test_proba.tolist(),
        "coef": model.coef_.tolist() if job["classifier"] != "naive_bayes" else None,
        "intercept": model.intercept_.tolist() if job["classifier"] != "naive_bayes" else None,
    },
    sys.stdout,
)
