import { createHash } from 'node:crypto';
import type { ReleaseInFlight } from '../registry/release.ts';

/**
 * Where a caller key falls in [0, 100): the first 32 bits of SHA-256(runId, key), scaled. Every process
 * (cluster worker, pod, Lambda sandbox) computes the same value, so a client keeps one version wherever its
 * requests land. The release's run id salts the hash: each release draws its own share of clients, rather than
 * the same clients trying every candidate.
 */
export function canaryBucket(key: string, salt: string): number {
  const digest = createHash('sha256').update(salt).update('\0').update(key).digest();
  return (digest.readUInt32BE(0) / 2 ** 32) * 100;
}

/** Whether the candidate answers this caller: canary only, for `percent` % of keys. */
export function candidateAnswers(release: ReleaseInFlight, key: string): boolean {
  if (release.strategy !== 'canary' || !(release.percent > 0)) return false;
  return canaryBucket(key, release.runId) < release.percent;
}
