import { ConfigError } from '../errors.ts';

/** Reads a required environment variable; the error names the variable. */
export function getStringFromEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') throw new ConfigError(`environment variable ${name} is not set`);
  return value;
}

/** Reads an optional environment variable, falling back to `fallback` when unset or empty. */
export function getOptionalStringFromEnv(
  name: string,
  fallback?: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? fallback : value;
}

/** Reads an optional integer variable; a non-integer value is a ConfigError naming it. */
export function getIntFromEnv(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed))
    throw new ConfigError(`environment variable ${name} must be an integer, got '${value}'`);
  return parsed;
}
