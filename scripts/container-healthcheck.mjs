// The image's HEALTHCHECK: exit 0 when the inference server in this container answers GET /healthz, else 1.
// No dependencies, so it costs one short-lived node process per check.
const port = process.env.PORT || '8080';
const url = process.env.TEXTOPS_HEALTHCHECK_URL || `http://127.0.0.1:${port}/healthz`;
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
