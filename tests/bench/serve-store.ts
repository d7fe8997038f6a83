/**
 * The local S3 store of `bench:serve`, in a process of its own so that the bench's load generator and
 * bookkeeping never slow the store a cold-starting server reads its model from. Prints `{"url": …}` once
 * listening; stops on SIGTERM. Usage: node --import tsx tests/bench/serve-store.ts <directory> <bucket>
 */
import { startLocalS3 } from '../../local/local-s3.ts';

const [directory, bucket] = process.argv.slice(2);
const s3 = await startLocalS3({ directory, bucket });
process.stdout.write(`${JSON.stringify({ url: s3.url })}\n`);
process.once('SIGTERM', () => {
  void s3.close().then(() => process.exit(0));
});
