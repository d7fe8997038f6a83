/**
 * The one error hierarchy of textops. Error names are stable: Step Functions `Retry`/`Catch` match them,
 * the failure recorder writes them into `runs/<id>/status.json`, and HTTP mappers turn them into problems.
 * A test checks that every name the state machine matches is listed in `ERROR_NAMES`.
 *
 * Each class spells its name as a string literal rather than reading `new.target.name`: a minifier renames
 * classes (`class ConfigError` becomes `class s`), and the bundles keep their names only while the build says
 * `keepNames`. tests/unit/error-names.test.ts bundles this file minified and checks every name survives.
 */
export class TextopsError extends Error {
  override readonly name: string = 'TextopsError';
  /** Whether a retry may succeed (network, throttling); steps retry only these. */
  readonly retryable: boolean = false;
  /** Extra machine-readable context (row, column, key…), safe to show a user. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }
}

/** A setting in params.yaml, an override file or the environment is missing or invalid. */
export class ConfigError extends TextopsError {
  override readonly name: string = 'ConfigError';
}

/** The uploaded data cannot be trained on: bad CSV, missing column, one class, empty… */
export class InvalidDatasetError extends TextopsError {
  override readonly name: string = 'InvalidDatasetError';
}

/**
 * The upload breaks the data contract against production's training data: a check set to `fail` in params
 * `data.checks` is over its threshold. The run ends before training; production is untouched.
 */
export class DataContractError extends TextopsError {
  override readonly name: string = 'DataContractError';
}

/** A model artifact is foreign, of another version, or does not match its checksum. */
export class ModelFormatError extends TextopsError {
  override readonly name: string = 'ModelFormatError';
}

/** A model trained but did not pass the quality gate; it is kept, not promoted. */
export class QualityGateFailedError extends TextopsError {
  override readonly name: string = 'QualityGateFailedError';
}

/** A person rejected a version waiting for approval (the AwaitApproval callback failed with this name). */
export class ApprovalRejectedError extends TextopsError {
  override readonly name: string = 'ApprovalRejectedError';
}

/** Nobody approved a waiting version within `release.approval_timeout_hours`; it was not promoted. */
export class ApprovalExpiredError extends TextopsError {
  override readonly name: string = 'ApprovalExpiredError';
}

/** A shadow or canary failed a rule of `release.rules` during its bake: rolled back, production never moved. */
export class ReleaseRolledBackError extends TextopsError {
  override readonly name: string = 'ReleaseRolledBackError';
}

/** A shadow or canary saw fewer than `min_requests` requests before its bake ended: expired, not promoted. */
export class ReleaseExpiredError extends TextopsError {
  override readonly name: string = 'ReleaseExpiredError';
}

/** A promotion or rollback by hand (or another run's promotion) ended a shadow or canary before its verdict. */
export class ReleaseEndedError extends TextopsError {
  override readonly name: string = 'ReleaseEndedError';
}

/** Training could not produce a usable model (e.g. no features survived min_df). */
export class TrainingError extends TextopsError {
  override readonly name: string = 'TrainingError';
}

/** An object or version that was asked for does not exist. */
export class NotFoundError extends TextopsError {
  override readonly name: string = 'NotFoundError';
}

/** A conditional write lost a race (S3 412/409): the caller may re-read and retry. */
export class ConflictError extends TextopsError {
  override readonly name: string = 'ConflictError';
  override readonly retryable = true;
}

/**
 * An object key the store or the pipeline refuses: longer than S3's 1,024 bytes (S3's KeyTooLong), or one with
 * control characters or path segments the pipeline does not accept. Retrying the same key cannot help: rename it.
 */
export class InvalidKeyError extends TextopsError {
  override readonly name: string = 'InvalidKeyError';
}

/** A dependency (object store, state machine service) failed in a way a retry may fix. */
export class TransientError extends TextopsError {
  override readonly name: string = 'TransientError';
  override readonly retryable = true;
}

/** A public corpus could not be fetched or is not what its source should serve (`textops data download`). */
export class DownloadError extends TextopsError {
  override readonly name: string = 'DownloadError';
}

/** A run cannot be retried as it is (its data or configuration is wrong, it passed, or it is still running). */
export class RunNotRetryableError extends TextopsError {
  override readonly name: string = 'RunNotRetryableError';
}

/**
 * The local stack a command talks to (`textops start`, `npm start`) is not running: never started, stopped, or
 * killed while the command waited on it. The message names where it should answer and how to start it again.
 */
export class StackNotRunningError extends TextopsError {
  override readonly name: string = 'StackNotRunningError';
}

/**
 * A pipeline step that ran as a Kubernetes Job (the EKS route for a step too big for one Lambda) did not complete:
 * the message names the job and why (exit code, out of memory, deadline).
 */
export class JobFailedError extends TextopsError {
  override readonly name: string = 'JobFailedError';
}

/** Every error name a pipeline step can throw; the state machine may match only these (and States.*). */
export const ERROR_NAMES = [
  'TextopsError',
  'ConfigError',
  'InvalidDatasetError',
  'DataContractError',
  'ModelFormatError',
  'QualityGateFailedError',
  'TrainingError',
  'NotFoundError',
  'ConflictError',
  'TransientError',
  'InvalidKeyError',
  'JobFailedError',
  'ApprovalRejectedError',
  'ApprovalExpiredError',
  'ReleaseRolledBackError',
  'ReleaseExpiredError',
  'ReleaseEndedError',
] as const;

export type ErrorName = (typeof ERROR_NAMES)[number];

/**
 * Errors only the CLI throws, never a pipeline step, so the state machine does not match them. Their names are
 * still a contract: the CLI prints them (`textops: DownloadError: …`) and scripts match on that.
 */
export const CLI_ERROR_NAMES = ['DownloadError', 'RunNotRetryableError', 'StackNotRunningError'] as const;

/** A readable one-line description of any thrown value, for logs and status files. */
export function describeError(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}
