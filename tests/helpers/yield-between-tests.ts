import { afterEach } from 'vitest';

// A test that computes for a long stretch without awaiting holds its fork's event loop, and vitest's RPC replies
// wait behind it; a file of such tests back to back (fast-path-identity, on a loaded machine) can outlast the
// 60 s RPC timeout ("Timeout calling onTaskUpdate"), which fails the run though every test passed. One turn of
// the event loop after each test lets the replies through.
afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
