import './polyfills.ts';
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { ExecutionError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { describeError } from '../errors.ts';
import type { PipelineStarter } from '../ports.ts';
import { applyEvent, type ExecutionHistory, type HistoryEvent } from './execution-history.ts';

/** A Lambda handler as the engine calls it: the same module AWS would run. */
export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface LocalEngineOptions {
  /** The ASL text with `${…}` placeholders, exactly as deployed. */
  definition: string;
  /** Placeholder values, as serverless-step-functions' `definitionSubstitutions` gives them in AWS. */
  substitutions: Record<string, string>;
  /** Function name or ARN → handler. */
  functions: Record<string, LambdaHandler>;
  stateMachineArn: string;
  /**
   * Claims an execution name for good (e.g. a create-only write); false when it was already used, which makes
   * a duplicate start a no-op across restarts, as Step Functions keeps names for 90 days.
   */
  claim?: (name: string, input: unknown) => Promise<boolean>;
  /** Saves the history as it grows (each state event) and when the execution ends. */
  saveHistory?: (name: string, input: unknown, history: ExecutionHistory) => Promise<void>;
  onEvent?: (name: string, event: HistoryEvent, history: ExecutionHistory) => void;
  /** Overrides every Retry interval (tests); undefined keeps the definition's backoff. */
  retryIntervalMs?: number;
}

/** Replaces `${Name}` placeholders; an unknown one is an error, as a deploy with a missing substitution is. */
export function substitute(definition: string, values: Record<string, string>): string {
  return definition.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined)
      throw new Error(`the state machine definition uses \${${name}}, which has no substitution`);
    return value;
  });
}

/** Like Lambda's error output: Step Functions gets `Error` = errorType and `Cause` = this JSON. */
class LambdaFunctionError extends Error {
  constructor(error: unknown) {
    const { name, message } = describeError(error);
    const trace = error instanceof Error && error.stack ? error.stack.split('\n').slice(0, 8) : [];
    super(JSON.stringify({ errorType: name, errorMessage: message, trace }));
    this.name = name;
  }
}

/**
 * A local Step Functions: runs the deployed ASL definition with aws-local-stepfunctions, every
 * `arn:aws:states:::lambda:invoke` Task calling the same handler module Lambda would, with the same payload
 * and result shapes (`{Payload, StatusCode}`) and the same error names in Retry/Catch. Executions run in the
 * background; their histories are saved as they go.
 */
export class LocalStateMachine implements PipelineStarter {
  private readonly definition: StateMachineDefinition;
  private readonly running = new Map<string, Promise<ExecutionHistory>>();
  private readonly taskStates: string[];

  constructor(private readonly options: LocalEngineOptions) {
    this.definition = JSON.parse(
      substitute(options.definition, options.substitutions),
    ) as StateMachineDefinition;
    this.taskStates = Object.entries(this.definition.States)
      .filter(([, state]) => state.Type === 'Task')
      .map(([name]) => name);
  }

  executionArn(name: string): string {
    return `${this.options.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
  }

  async start(name: string, input: unknown): Promise<{ executionArn: string; alreadyStarted: boolean }> {
    const executionArn = this.executionArn(name);
    if (this.running.has(name)) return { executionArn, alreadyStarted: true };
    // Reserve the name synchronously, so a concurrent duplicate sees it before the claim resolves.
    let release!: (history: Promise<ExecutionHistory>) => void;
    this.running.set(
      name,
      new Promise<ExecutionHistory>((resolve) => {
        release = (h) => resolve(h);
      }),
    );
    const claimed = this.options.claim
      ? await this.options.claim(name, input).catch((e: unknown) => {
          this.running.delete(name);
          throw e;
        })
      : true;
    if (!claimed) {
      this.running.delete(name);
      return { executionArn, alreadyStarted: true };
    }
    release(this.execute(name, input as JsonValue));
    return { executionArn, alreadyStarted: false };
  }

  /** The history of an execution started by this engine (running or finished), or undefined. */
  execution(name: string): Promise<ExecutionHistory> | undefined {
    return this.running.get(name);
  }

  /** Resolves when every execution started so far has finished. */
  async idle(): Promise<void> {
    let size: number;
    do {
      size = this.running.size;
      await Promise.all(this.running.values());
    } while (this.running.size !== size);
  }

  private async invoke(input: JsonValue): Promise<JsonValue> {
    const request = input as { FunctionName?: string; Payload?: JsonValue };
    const name = String(request.FunctionName ?? '');
    const handler = this.options.functions[name] ?? this.options.functions[name.split(':').pop() ?? ''];
    if (!handler) {
      const error = new Error(`Function not found: ${name}`);
      error.name = 'Lambda.ResourceNotFoundException';
      throw error;
    }
    const context = {
      functionName: name.split(':').pop(),
      invokedFunctionArn: name,
      awsRequestId: randomUUID(),
      memoryLimitInMB: '1769',
      callbackWaitsForEmptyEventLoop: true,
    } as unknown as Context;
    let result: unknown;
    try {
      // Lambda hands the function a fresh copy of the JSON payload and serialises its result.
      result = await handler(JSON.parse(JSON.stringify(request.Payload ?? null)), context);
    } catch (error) {
      throw new LambdaFunctionError(error);
    }
    return {
      ExecutedVersion: '$LATEST',
      StatusCode: 200,
      Payload: JSON.parse(JSON.stringify(result ?? null)),
    };
  }

  private async execute(name: string, input: JsonValue): Promise<ExecutionHistory> {
    const started = Date.now();
    const history: ExecutionHistory = {
      name,
      executionArn: this.executionArn(name),
      stateMachineArn: this.options.stateMachineArn,
      status: 'RUNNING',
      startDate: new Date(started).toISOString(),
      states: [],
      events: [],
    };
    let saving = Promise.resolve();
    const save = () => {
      const snapshot = structuredClone(history);
      saving = saving.then(() => this.options.saveHistory?.(name, input, snapshot)).catch(() => undefined);
      return saving;
    };
    const machine = new StateMachine(this.definition, {
      validationOptions: { checkArn: true, checkPaths: true },
    });
    const invoke = (payload: JsonValue) => this.invoke(payload);
    const execution = machine.run(input, {
      overrides: {
        taskResourceLocalHandlers: Object.fromEntries(this.taskStates.map((s) => [s, invoke])),
        ...(this.options.retryIntervalMs !== undefined
          ? {
              retryIntervalOverrides: Object.fromEntries(
                this.taskStates.map((s) => [s, this.options.retryIntervalMs!]),
              ),
            }
          : {}),
      },
      context: {
        Execution: { Id: history.executionArn, Name: name, Input: input, StartTime: history.startDate },
      },
    });
    const events = (async () => {
      for await (const log of execution.eventLogs) {
        const e = log as {
          type: string;
          timestamp: number;
          state?: { name: string; type: string };
          Error?: string;
          Cause?: unknown;
          retry?: { attempt: number };
        };
        const event: HistoryEvent = {
          type: e.type,
          at: new Date(e.timestamp).toISOString(),
          t: e.timestamp - started,
        };
        if (e.state) Object.assign(event, { state: e.state.name, stateType: e.state.type });
        if (e.Error !== undefined) event.error = e.Error;
        if (e.Cause !== undefined)
          event.cause = typeof e.Cause === 'string' ? e.Cause : JSON.stringify(e.Cause);
        if (e.retry) event.attempt = e.retry.attempt;
        applyEvent(history, event);
        this.options.onEvent?.(name, event, history);
        if (e.type.startsWith('State')) void save();
      }
    })();
    // The outcome is recorded only once every event is in, so a saved history that is no longer RUNNING is
    // always the complete one (with its stop date).
    let outcome: Pick<ExecutionHistory, 'status' | 'error' | 'cause'>;
    try {
      await execution.result;
      outcome = { status: 'SUCCEEDED' };
    } catch (error) {
      const cause = error instanceof ExecutionError ? (error.cause as Error | undefined) : (error as Error);
      outcome = { status: 'FAILED', error: cause?.name ?? 'Error', cause: cause?.message ?? String(error) };
    }
    await events.catch(() => undefined);
    Object.assign(history, outcome, { stopDate: new Date().toISOString(), ms: Date.now() - started });
    await save();
    return history;
  }
}
