"""The reference Python pipeline of the field, timed on textops' own split (the baseline of `npm run bench:train`).

scikit-learn TfidfVectorizer(ngram_range=(1, 3), max_features=20000, sublinear_tf=True) + LogisticRegression(C=10),
read → fitted model, then accuracy / macro-F1 on the test split, peak RSS, pickled size and, given a third
argument (a file holding one review), the latency of predicting that review in-process.
"""
import csv
import pickle
import resource
import sys
import time

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

csv.field_size_limit(10**9)
train_path, test_path = sys.argv[1], sys.argv[2]
review_path = sys.argv[3] if len(sys.argv) > 3 else None

start = time.perf_counter()
with open(train_path, newline="", encoding="utf-8") as f:
    rows = list(csv.reader(f))[1:]
texts = [r[0] for r in rows]
labels = [r[1] for r in rows]
vectorizer = TfidfVectorizer(ngram_range=(1, 3), max_features=20000, sublinear_tf=True)
x = vectorizer.fit_transform(texts)
model = LogisticRegression(C=10, max_iter=1000).fit(x, labels)
train_seconds = time.perf_counter() - start

with open(test_path, newline="", encoding="utf-8") as f:
    test = list(csv.reader(f))[1:]
predicted = model.predict(vectorizer.transform([r[0] for r in test]))
truth = [r[1] for r in test]
size = len(pickle.dumps((vectorizer, model)))

latency = ""
if review_path:
    with open(review_path, encoding="utf-8") as f:
        review = f.read()
    for _ in range(300):
        model.predict_proba(vectorizer.transform([review]))
    times = []
    for _ in range(2000):
        t = time.perf_counter()
        model.predict_proba(vectorizer.transform([review]))
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    latency = f', "predict_p50_ms": {times[len(times) // 2]:.4f}, "predict_p99_ms": {times[int(len(times) * 0.99)]:.4f}'
print(
    f'{{"train_seconds": {train_seconds:.3f}, "accuracy": {accuracy_score(truth, predicted):.4f}, '
    f'"f1_macro": {f1_score(truth, predicted, average="macro"):.4f}, '
    f'"peak_rss_mb": {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}, "artifact_mb": {size / 1e6:.1f}{latency}}}'
)
