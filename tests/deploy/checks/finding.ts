/** One problem a deployment check found: which check, where, and what a reviewer should read. */
export interface Finding {
  check: string;
  where: string;
  message: string;
}

export const finding = (check: string, where: string, message: string): Finding => ({
  check,
  where,
  message,
});

/** Findings as readable lines, for assertion messages. */
export const describeFindings = (findings: readonly Finding[]): string =>
  findings.map((f) => `${f.check} @ ${f.where}: ${f.message}`).join('\n');
