import { CommanderError } from 'commander';
import { TextopsError } from '../shared/errors.ts';

/** A failed connection: the address that did not answer, and how it failed. */
export interface ConnectionFailure {
  code: string;
  /** `host:port` when the error names them. */
  address?: string;
}

/**
 * Connections that a stopped server leaves: refused (nothing listens), reset or a broken pipe (it died while
 * answering). DNS and TLS failures are not among them: those are not a stopped local server.
 */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

interface NodeErrorFields {
  code?: unknown;
  address?: unknown;
  port?: unknown;
  path?: unknown;
  syscall?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/**
 * The connection failure in an error, looked for where Node and its clients put it: the error itself (the AWS SDK
 * passes the socket's error on), its `cause` (fetch), or one of an AggregateError's errors (a host name that
 * resolves to several addresses).
 */
export function connectionFailure(error: unknown, depth = 0): ConnectionFailure | undefined {
  if (typeof error !== 'object' || error === null || depth > 4) return undefined;
  const e = error as NodeErrorFields;
  if (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) {
    const address =
      typeof e.address === 'string'
        ? `${e.address}${typeof e.port === 'number' ? `:${e.port}` : ''}`
        : undefined;
    return { code: e.code, ...(address ? { address } : {}) };
  }
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const found = connectionFailure(inner, depth + 1);
      if (found) return found;
    }
  }
  return connectionFailure(e.cause, depth + 1);
}

/** A file the command was given that cannot be read or written, in words: `no such file: x.csv`. */
function fileProblem(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, path } = error as NodeErrorFields;
  // Reading a folder fails in read(), after open(): Node's error then has no path.
  if (code === 'EISDIR' && typeof path !== 'string') return 'a folder was given where a file is expected';
  if (typeof path !== 'string') return undefined;
  switch (code) {
    case 'ENOENT':
      return `no such file: ${path}`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied: ${path}`;
    case 'EISDIR':
      return `${path} is a folder, not a file`;
    case 'ENOTDIR':
      return `not a folder: ${path} (a part of the path is a file)`;
    default:
      return undefined;
  }
}

/**
 * The one line the CLI prints for a failed command (after `textops: `): a textops error by its name and message;
 * a command given the wrong arguments (checked in its action, where commander does not catch it) as a usage line;
 * a missing or unreadable file by its path; a server that does not answer by its address; anything else as
 * unexpected, with its message. Every command's failures go through here, so each kind reads the same wherever
 * it happens.
 */
export function errorLine(error: unknown): string {
  if (error instanceof TextopsError) return `${error.name}: ${error.message}`;
  if (error instanceof CommanderError) return `usage: ${error.message} (see the command's --help)`;
  const file = fileProblem(error);
  if (file) return file;
  const connection = connectionFailure(error);
  if (connection) {
    const where = connection.address ? ` at ${connection.address}` : '';
    return connection.code === 'ECONNREFUSED'
      ? `nothing answers${where} (connection refused): is the server running?`
      : `the server${where} closed the connection (${connection.code}): it may have stopped`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return `unexpected error: ${message}`;
}
