/**
 * npm run bench:release — the release figures of docs/benchmarks.md: the end-to-end canary scenario on the
 * local stack (./release-scenario.ts). Figures are printed, never asserted.
 */
import { releaseScenario } from './release-scenario.ts';

const TRAIN_ROWS = Number(process.env.BENCH_RELEASE_ROWS ?? 3000);
const result = await releaseScenario({
  trainRows: TRAIN_ROWS,
  percent: 20,
  bakeMinutes: Number(process.env.BENCH_RELEASE_BAKE_MINUTES ?? 1.5),
  minRequests: 300,
  log: (line) => process.stderr.write(`${line}\n`),
});
process.stdout.write(
  `\nRelease scenario (AG News, ${result.trainRows} training rows, canary ${result.percent} %, 4 clients)\n\n`,
);
process.stdout.write(
  '| upload | run state | production before → after | bake s | requests | answered by candidate | decision | events |\n|---|---|---|---|---|---|---|---|\n',
);
for (const u of result.uploads) {
  const decision = u.decision
    ? String(u.decision.outcome ?? u.decision.verdict ?? '') +
      (u.decision.reason ? `: ${u.decision.reason}` : '')
    : '—';
  process.stdout.write(
    `| ${u.name} | ${u.state} | v${u.productionBefore ?? '-'} → v${u.productionAfter ?? '-'} | ${u.bakeSeconds?.toFixed(1) ?? '—'} | ${u.requests} | ${u.answeredByCandidate} | ${decision.slice(0, 160)} | ${u.events.join(', ')} |\n`,
  );
}
for (const u of result.uploads) {
  process.stdout.write(
    `\n${u.name} (textops runs ${u.runId}):\n${u.runLines.map((l) => `  ${l}`).join('\n')}\n`,
  );
}
