#!/usr/bin/env bash
# CI smoke test of a built image (needs Docker): train a tiny model from a generated CSV, serve it from the
# image as a non-root container with a read-only root file system, wait for its own HEALTHCHECK to say
# healthy, and ask for a prediction. Usage: bash scripts/container-smoke-test.sh <image>
set -euo pipefail
image=${1:?usage: container-smoke-test.sh <image>}
work=$(mktemp -d)
trap 'docker rm -f textops-smoke >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

node -e '
  const good = ["a wonderful film", "great acting and a moving story", "I loved every minute", "superb and touching"];
  const bad = ["a dull film", "terrible acting and a boring story", "I hated every minute", "awful and tedious"];
  const rows = ["review,sentiment"];
  for (let i = 0; i < 160; i++) rows.push(`"${good[i % 4]} (${i})",positive`, `"${bad[i % 4]} (${i})",negative`);
  require("node:fs").writeFileSync(process.argv[1], rows.join("\n") + "\n");
' "$work/smoke.csv"
node bin/textops.mjs train "$work/smoke.csv" --out "$work/model"
chmod -R a+rX "$work/model"

docker run -d --name textops-smoke --read-only --tmpfs /tmp --health-interval 2s \
  -p 127.0.0.1:8080:8080 -v "$work/model:/model:ro" -e TEXTOPS_MODEL_DIR=/model \
  "$image" serve --workers 1
for _ in $(seq 60); do
  status=$(docker inspect --format '{{.State.Health.Status}}' textops-smoke)
  [ "$status" = healthy ] && break
  sleep 1
done
docker logs textops-smoke
test "$status" = healthy
curl -fsS -X POST -H 'content-type: application/json' -d '{"text": "a wonderful film"}' http://127.0.0.1:8080/predict \
  | tee /dev/stderr | grep -q '"label":"positive"'
