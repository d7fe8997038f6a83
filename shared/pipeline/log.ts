/**
 * One JSON line per event on stdout, which CloudWatch Logs (and `kubectl logs | jq`) read as structured data.
 * Silent when TEXTOPS_LOG=silent (the local runtime's tests), so test output stays readable.
 */
export function logJson(message: string, fields: Record<string, unknown> = {}): void {
  if (process.env.TEXTOPS_LOG === 'silent') return;
  process.stdout.write(
    `${JSON.stringify({ level: 'info', time: new Date().toISOString(), message, ...fields })}\n`,
  );
}
