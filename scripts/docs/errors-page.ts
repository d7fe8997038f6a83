import { anchor, byText, code, fence, fromReference, page, prose, table } from './markdown.ts';

/** One entry of the API's problem table (shared/serving/problem.ts `PROBLEMS`). */
export interface ProblemEntry {
  status: number;
  title: string;
  description: string;
}

/** One class of the error hierarchy, as the page shows it. */
export interface ErrorClassEntry {
  name: string;
  retryable: boolean;
  /** The class's doc comment. */
  doc: string;
  /** Whether a pipeline step may throw it (`ERROR_NAMES`); else only the CLI does. */
  pipeline: boolean;
}

/**
 * What to do about each problem code, for the client that got it. The table in shared/serving/problem.ts says
 * what a code means; this says what to change. A code without advice, or advice for a code that is gone,
 * fails the render.
 */
export const PROBLEM_ADVICE: Readonly<Record<string, string>> = {
  malformed_json: 'Send valid JSON; `detail` quotes the parser.',
  invalid_body:
    'Fix each field `errors` names; the request shapes are in the [HTTP API reference](http-api.md#schemas).',
  request_aborted: 'The client closed the connection while sending the body; send it again.',
  request_size_invalid: 'Send a body exactly as long as its `Content-Length` (a client or proxy fault).',
  bad_request: 'Read `detail`; the status is the one the HTTP layer chose.',
  unauthorized: 'Send the API key as `X-API-Key: <key>` or `Authorization: Bearer <key>`.',
  not_found: 'Use a path of the [HTTP API reference](http-api.md).',
  unknown_request:
    'The server answering did not make that prediction, restarted since, or has forgotten it (it remembers `feedback.remember_predictions`); send the `text` with the label instead.',
  method_not_allowed: 'Use a method the `Allow` header lists.',
  invalid_model_name:
    'Name a model as the registry does: lowercase letters, digits, `-` and `_`, starting with a letter or digit (`GET /models` lists them).',
  unknown_model:
    'Use a name `GET /models` lists; a model of the deployment is named under `models:` in params.yaml, and with `model.name: null` a model needs a production version in the registry.',
  body_too_large: 'Send fewer or shorter texts per request, or raise `serving.max_body_bytes`.',
  text_too_long: 'Shorten the text, or raise `serving.max_text_chars`.',
  too_many_texts: 'Split the batch, or raise `serving.max_batch_items`.',
  too_many_items: 'Split the feedback into several requests, or raise `feedback.max_items`.',
  unsupported_media_type: 'Send `Content-Type: application/json`.',
  unsupported_charset: 'Send the body in UTF-8.',
  unsupported_encoding: 'Send the body without a `Content-Encoding`.',
  unknown_label: 'Use one of the labels `GET /readyz` (or `GET /model`) lists.',
  internal_error:
    'Retry; if it persists, report it with the `requestId`: the server logged the error in full under it.',
  no_model:
    'Retry after the `Retry-After` seconds: the server is loading a model, or the registry has no production version yet (train one).',
  too_many_models:
    'The process holds as many models as it may beside its default; serve that model from a deployment of its own.',
  feedback_unavailable:
    'Run the server with a data bucket (`TEXTOPS_BUCKET`) so feedback has somewhere to go.',
};

/** What to do about each error name, for the user who met it. Complete both ways, as `PROBLEM_ADVICE`. */
export const ERROR_ADVICE: Readonly<Record<string, string>> = {
  ConfigError:
    'Fix the setting the message names: a key of `params.yaml` or an override file ([params reference](params.md)), or an environment variable.',
  InvalidDatasetError:
    'Fix the CSV as the message says (it names the row or column), then upload it again ([data guide](../guides/data.md)).',
  DataContractError:
    "The upload differs from production's training data more than a check of `data.checks` set to `fail` allows; the run stopped before training and production keeps serving. Read the checks (`textops runs <id>`, the console's run page), then fix the data, or set that check to `warn` in the upload's params file if the change is intended ([data guide](../guides/data.md#checks-on-every-upload)).",
  ModelFormatError:
    'The artifact is not a textops model of this version, or its bytes do not match the checksum: export it again (`textops models --export`) or train a new one.',
  QualityGateFailedError:
    'The model is kept in the registry, not promoted: compare it with production (`textops runs --compare`), change the data or params, or promote it by hand (`textops promote`) if that is what you want.',
  ApprovalRejectedError:
    'A person rejected the version (`textops reject`, or the console): it stays registered at stage `rejected`, with their reason in `textops models`. Fix what they named and upload again, or promote it by hand after all (`textops promote`).',
  ApprovalExpiredError:
    'Nobody answered within `release.approval_timeout_hours`: the version stays registered at stage `expired`. Promote it by hand after checking (`textops promote <version>`), or upload again and answer in time (`textops approve <runId>`).',
  ReleaseRolledBackError:
    'The shadow or canary failed a rule of `release.rules` on live requests (the rule, its figure and bound are in `runs/<runId>/release/decision.json` and `textops runs <runId>`): stage `rolled-back`, production never moved. Look at the per-class agreement; upload corrected data, or promote by hand after checking (`textops promote <version>`).',
  ReleaseExpiredError:
    'The shadow or canary saw fewer than `min_requests` requests before its bake ended: stage `expired`, not promoted. Give it more time or traffic (`bake_minutes`, `min_requests`), or promote it by hand after checking (`textops promote <version>`).',
  ReleaseEndedError:
    'Production moved while the shadow or canary baked (a promotion or rollback by hand, or another run): the candidate is back at stage `candidate`, with why in `textops models`. Promote it by hand if you want it, or upload again.',
  TrainingError:
    'Change the params the message points at (for example a lower `features.min_df` when no feature survived), or give more data.',
  NotFoundError: 'Check the run id or version (`textops runs`, `textops models`) and the bucket.',
  ConflictError:
    'Another writer changed the object first. Pipeline steps retry it; for a command, read the state again and re-run it.',
  TransientError:
    'Pipeline steps retry it. If it persists, check the object store or the state machine service the message names.',
  InvalidKeyError:
    'Rename the file: S3 keys are at most 1,024 bytes of UTF-8, and the pipeline takes no key with control characters, an empty path segment (`//`) or `..`/`.` segments. Retrying the same name cannot help.',
  JobFailedError:
    'Read why the job stopped: out of memory (raise `eks.memory_mb`), past its deadline (`eks.active_deadline_seconds`) or an exit code (its pod log). Then `textops runs retry <runId>`.',
  DownloadError:
    'Check the network, or fetch from a mirror with `--url <address>`, or give the path of a copy of the source file fetched another way: `--url ./aclImdb_v1.tar.gz` (and `--sha256` to pin it).',
  StackNotRunningError:
    'Start the local stack again (`npm start`, or `textops start --dir <dir>` for another runtime directory); a run it was doing is marked aborted when it starts, and `textops runs retry <runId>` resumes it from the step it was in. For a real bucket instead, set `TEXTOPS_BUCKET`.',
  RunNotRetryableError:
    'A run is retried only when a retry can help: not while it runs, once it succeeded or was rejected, nor after a data or config error. Fix the cause and upload again under another `--name` (the same content again starts no new run).',
};

function checkComplete(kind: string, names: readonly string[], advice: Readonly<Record<string, string>>) {
  const known = new Set(names);
  for (const name of names)
    if (!advice[name])
      throw new Error(
        `${kind} ${name} has no advice: add it in scripts/docs/errors-page.ts, then run npm run docs:reference`,
      );
  for (const name of Object.keys(advice))
    if (!known.has(name))
      throw new Error(`scripts/docs/errors-page.ts advises on ${kind} ${name}, which is gone`);
}

/**
 * docs/reference/errors.md: the inference API's problem codes (status, meaning, from the problem table) and
 * the error names runs and the CLI report (retryable or not, meaning from each class's doc comment), each
 * with what to do.
 */
export function renderErrorsPage(input: {
  problems: Readonly<Record<string, ProblemEntry>>;
  /** A problem document as the server writes it, shown as the example. */
  example: unknown;
  errors: readonly ErrorClassEntry[];
  sources: readonly string[];
  problemAdvice?: Readonly<Record<string, string>>;
  errorAdvice?: Readonly<Record<string, string>>;
}): string {
  const problemAdvice = input.problemAdvice ?? PROBLEM_ADVICE;
  const errorAdvice = input.errorAdvice ?? ERROR_ADVICE;
  const codes = Object.keys(input.problems).sort(
    (a, b) => input.problems[a].status - input.problems[b].status || byText(a, b),
  );
  checkComplete('problem code', codes, problemAdvice);
  const errors = [...input.errors].sort((a, b) => byText(a.name, b.name));
  checkComplete(
    'error',
    errors.map((e) => e.name),
    errorAdvice,
  );

  const problemSections = codes.flatMap((c) => {
    const p = input.problems[c];
    return [`### ${code(c)}`, `**${p.status} ${p.title}**: ${prose(p.description)}.\n\n${problemAdvice[c]}`];
  });
  const errorSections = errors.flatMap((e) => [
    `### ${e.name}`,
    `${prose(e.doc)}\n\n${[
      e.pipeline ? 'Thrown by pipeline steps and the CLI.' : 'Thrown by the CLI only.',
      e.retryable
        ? 'Retryable: a pipeline step retries it.'
        : 'Not retryable: the same input fails the same way.',
    ].join(' ')} ${errorAdvice[e.name]}`,
  ]);

  return page('Errors reference', input.sources, [
    'textops reports a failure in one of two ways: the inference API answers with a **problem code**, and pipeline runs and the CLI report an **error name**. Both are stable: scripts and alarms may match on them.',
    '## Problem codes (HTTP API)',
    `Every error answer of the inference API is an RFC 9457 problem document, ${code('application/problem+json')}, whose ${code('code')} says what went wrong. Below 500, and for 503, its ${code('detail')} is meant for the client; a 500 says only "internal error" and carries the ${code('requestId')} under which the server logged the error in full. The [HTTP API reference](${fromReference('reference/http-api.md')}) lists which codes each operation may answer. For example, ${code('{"text": ""}')} sent to ${code('POST /predict')}:`,
    fence(JSON.stringify(input.example, null, 2), 'json'),
    table(
      ['Code', 'Status', 'Meaning'],
      codes.map((c) => [
        `[${code(c)}](#${anchor(c)})`,
        `${input.problems[c].status} ${input.problems[c].title}`,
        prose(input.problems[c].description),
      ]),
    ),
    ...problemSections,
    '## Error names (pipeline runs and the CLI)',
    `Every error textops throws is a ${code('TextopsError')} with one of the names below. A run that fails records the error's name and message in ${code('runs/<runId>/status.json')} (${code('textops runs <runId>')} and the console show them; see the [bucket layout](bucket-layout.md)), and counts it in the ${code('pipeline_runs_failed_total')} metric by ${code('error')} ([metrics reference](metrics.md)). The CLI prints ${code('textops: <ErrorName>: <message>')} and exits with status 1. Any other name in a run (${code('States.Timeout')}, ${code('Lambda.Unknown')}…) comes from AWS, not from textops.`,
    ...errorSections,
  ]);
}
