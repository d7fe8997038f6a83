import './polyfills.ts';
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { ExecutionError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { describeError } from '../shared/errors.ts';
import {
  applyEvent,
  type ExecutionHistory,
  type HistoryEvent,
  redrivePoint,
} from '../shared/pipeline/run/history.ts';
import type { PipelineStarter } from '../shared/ports.ts';

/** A Lambda handler as the engine calls it: the same module AWS would run. */
export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

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
  /**
   * Called once an execution has ended and its history is saved, before `idle()` resolves: what Step Functions'
   * "Execution Status Change" event reaches on AWS (an EventBridge rule).
   */
  onEnd?: (name: string, history: ExecutionHistory) => Promise<void>;
  /**
   * An execution this engine did not run (one from before a restart), for redrives: its input, and its saved
   * history when one was saved (a process can die before the first).
   */
  loadExecution?: (name: string) => Promise<{ input: unknown; history?: ExecutionHistory } | undefined>;
  /** Overrides every Retry interval (tests); undefined keeps the definition's backoff. */
  retryIntervalMs?: number;
  /**
   * Runs an `arn:aws:states:::eks:runJob.sync` Task: gets the Task's resolved Parameters (ClusterName, Endpoint,
   * Namespace, Job…) and answers as the integration does (`{ResponseBody: <the finished Job>, logs}`), or throws
   * the job's failure. Without it such a Task fails, naming the state.
   */
  runJob?: (request: JsonValue) => Promise<JsonValue>;
}

/** The integration a Task state runs as a Kubernetes Job on EKS instead of a Lambda. */
export const EKS_RUN_JOB = /^arn:aws:states:::eks:runJob(\.sync)?$/;

/** A Task using the callback pattern: it invokes its Lambda, then waits for SendTaskSuccess/SendTaskFailure. */
export const WAIT_FOR_TASK_TOKEN = /\.waitForTaskToken$/;

/**
 * The longest Task timeout the engine can keep: aws-local-stepfunctions times a Task with one setTimeout, and
 * Node's timers reach 2^31 − 1 ms (24.8 days).
 */
const MAX_LOCAL_TIMEOUT_S = Math.floor((2 ** 31 - 1) / 1000);

/** The answers Step Functions gives to a callback that finds no task waiting; the endpoint maps their names. */
export class TaskDoesNotExist extends Error {
  override readonly name = 'TaskDoesNotExist';
}
export class TaskTimedOut extends Error {
  override readonly name = 'TaskTimedOut';
}
export class InvalidOutput extends Error {
  override readonly name = 'InvalidOutput';
}

/** The value at a simple reference path (`$.a.b`) of a state's input; undefined when any step is missing. */
function referencePath(input: unknown, path: string): unknown {
  if (!/^\$(\.[A-Za-z0-9_]+)*$/.test(path)) throw new Error(`unsupported reference path ${path}`);
  let value: unknown = input;
  for (const key of path.split('.').slice(1)) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
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

/**
 * The definition as a redrive runs it: StartAt is the state to resume, and the states that cannot be reached from
 * it (the ones already passed) are left out, since the validator refuses unreachable states. Everything else,
 * Retry and Catch included, is the deployed definition's.
 */
export function startingAt(definition: StateMachineDefinition, startAt: string): StateMachineDefinition {
  const states = definition.States as unknown as Record<string, Record<string, unknown>>;
  if (!states[startAt]) throw new Error(`the state machine has no state ${startAt}`);
  const reachable = new Set<string>();
  const visit = (name: unknown) => {
    if (typeof name !== 'string' || reachable.has(name) || !states[name]) return;
    reachable.add(name);
    const state = states[name];
    visit(state.Next);
    visit(state.Default);
    for (const c of (state.Choices as { Next?: string }[] | undefined) ?? []) visit(c.Next);
    for (const c of (state.Catch as { Next?: string }[] | undefined) ?? []) visit(c.Next);
  };
  visit(startAt);
  return {
    ...definition,
    StartAt: startAt,
    States: Object.fromEntries(Object.entries(definition.States).filter(([name]) => reachable.has(name))),
  } as StateMachineDefinition;
}

type StatesJson = Record<
  string,
  {
    Type: string;
    Resource?: string;
    ItemProcessor?: { States: StatesJson };
    Iterator?: { States: StatesJson };
  }
>;

/** The Task states, at any depth, whose Resource matches `resource`. */
export function tasksWithResource(states: StatesJson, resource: RegExp): Set<string> {
  const found = new Set<string>();
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Task' && resource.test(state.Resource ?? '')) found.add(name);
    const inner = state.ItemProcessor ?? state.Iterator;
    if (state.Type === 'Map' && inner)
      for (const n of tasksWithResource(inner.States, resource)) found.add(n);
  }
  return found;
}

/**
 * The Task states of a definition → the Map state whose ItemProcessor holds them (undefined at the top level).
 * aws-local-stepfunctions hands the run options (local handlers, retry overrides) to a Map's iterations, keyed by
 * state name, so nested Task names must be distinct from top-level ones (ASL requires unique names anyway).
 */
export function taskStatesOf(states: StatesJson, map?: string): Map<string, string | undefined> {
  const tasks = new Map<string, string | undefined>();
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Task') tasks.set(name, map);
    const inner = state.ItemProcessor ?? state.Iterator;
    if (state.Type === 'Map' && inner)
      for (const [n, m] of taskStatesOf(inner.States, map ?? name)) tasks.set(n, m);
  }
  return tasks;
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

/** Step Functions' answers to a redrive it refuses; the endpoint maps the names to its error types. */
export class ExecutionNotRedrivable extends Error {
  override readonly name = 'ExecutionNotRedrivable';
}
export class ExecutionDoesNotExist extends Error {
  override readonly name = 'ExecutionDoesNotExist';
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
  /** Names whose execution is in progress in this process (`running` keeps finished ones too). */
  private readonly active = new Set<string>();
  /** Every Task state, those inside a Map's ItemProcessor too, with the Map state that runs it (if any). */
  private readonly taskStates: Map<string, string | undefined>;
  /** The Task states that run a Kubernetes Job (eks:runJob) rather than invoke a Lambda. */
  private readonly jobStates: Set<string>;
  /**
   * The callback Tasks (`.waitForTaskToken`) → their TimeoutSecondsPath, which this engine evaluates itself
   * against the state's input, as Step Functions does (aws-local-stepfunctions has no callback pattern and
   * reads the path from the Task's Parameters instead).
   */
  private readonly callbackStates = new Map<string, string | undefined>();
  /** Callback Tasks waiting now, by task token. */
  private readonly waiting = new Map<
    string,
    { resolve: (output: JsonValue) => void; reject: (error: Error) => void }
  >();
  /** Tokens whose wait timed out, so a late answer is told so (TaskTimedOut) rather than "no such task". */
  private readonly timedOut = new Set<string>();

  constructor(private readonly options: LocalEngineOptions) {
    this.definition = JSON.parse(
      substitute(options.definition, options.substitutions),
    ) as StateMachineDefinition;
    // The execution's own timeout is one setTimeout in the library too: past Node's limit it would fire at
    // once. A longer one (the training pipeline's covers the longest approval wait plus the longest bake) is
    // kept at that limit here, 24.8 days.
    const definition = this.definition as unknown as { TimeoutSeconds?: number };
    if (typeof definition.TimeoutSeconds === 'number')
      definition.TimeoutSeconds = Math.min(definition.TimeoutSeconds, MAX_LOCAL_TIMEOUT_S);
    this.taskStates = taskStatesOf(this.definition.States as unknown as StatesJson);
    this.jobStates = tasksWithResource(this.definition.States as unknown as StatesJson, EKS_RUN_JOB);
    for (const name of tasksWithResource(
      this.definition.States as unknown as StatesJson,
      WAIT_FOR_TASK_TOKEN,
    )) {
      const state = (this.definition.States as unknown as Record<string, Record<string, unknown>>)[name];
      if (!state)
        throw new Error(
          `${name}: the local engine runs callback Tasks (.waitForTaskToken) at the top level only`,
        );
      if (state.HeartbeatSeconds !== undefined || state.HeartbeatSecondsPath !== undefined)
        throw new Error(`${name}: the local engine does not run HeartbeatSeconds on a callback Task`);
      const path = typeof state.TimeoutSecondsPath === 'string' ? state.TimeoutSecondsPath : undefined;
      this.callbackStates.set(name, path);
      // The engine keeps the wait's own timeout (below); the library's is set past it.
      delete state.TimeoutSecondsPath;
      state.TimeoutSeconds = Math.min(
        MAX_LOCAL_TIMEOUT_S,
        typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds + 60 : MAX_LOCAL_TIMEOUT_S,
      );
    }
  }

  /**
   * SendTaskSuccess: the callback Task waiting on `token` succeeds with `output` (JSON text) as its result.
   * A token nobody waits on is TaskDoesNotExist (or TaskTimedOut, when its wait ran out).
   */
  sendTaskSuccess(token: string, output: string): void {
    const waiter = this.waiterOf(token);
    let value: JsonValue;
    try {
      value = JSON.parse(output) as JsonValue;
    } catch {
      throw new InvalidOutput('The provided JSON output data is not valid');
    }
    this.waiting.delete(token);
    waiter.resolve(value);
  }

  /** SendTaskFailure: the callback Task waiting on `token` fails with `error` and `cause`, for its Catch. */
  sendTaskFailure(token: string, error: string, cause: string): void {
    const waiter = this.waiterOf(token);
    this.waiting.delete(token);
    const failure = new Error(cause);
    failure.name = error || 'States.TaskFailed';
    waiter.reject(failure);
  }

  private waiterOf(token: string) {
    const waiter = this.waiting.get(token);
    if (waiter) return waiter;
    if (this.timedOut.has(token)) throw new TaskTimedOut('Task Timed Out');
    throw new TaskDoesNotExist('Task does not exist anymore');
  }

  /**
   * A callback Task: invokes its Lambda with the resolved Parameters (which carry `$$.Task.Token`), then waits for
   * the token's answer, or fails with States.Timeout when the TimeoutSecondsPath of the state's input passes.
   */
  private async callback(token: string, payload: JsonValue, stateInput: unknown, path: string | undefined) {
    const timeoutS = path === undefined ? undefined : Number(referencePath(stateInput, path));
    if (timeoutS !== undefined && !(Number.isInteger(timeoutS) && timeoutS >= 1)) {
      const error = new Error(`TimeoutSecondsPath ${path} is not a positive integer (${String(timeoutS)})`);
      error.name = 'States.Runtime';
      throw error;
    }
    const answer = new Promise<JsonValue>((resolve, reject) => {
      this.waiting.set(token, { resolve, reject });
    });
    // The answer may come while the Lambda is still running (it has written the token somewhere a person reads):
    // a failure then is awaited below, after the invoke, not an unhandled rejection now.
    answer.catch(() => undefined);
    try {
      await this.invoke(payload);
    } catch (error) {
      this.waiting.delete(token);
      throw error;
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout =
      timeoutS === undefined
        ? new Promise<never>(() => {})
        : new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              this.waiting.delete(token);
              this.timedOut.add(token);
              const error = new Error('the callback Task was not answered within its TimeoutSecondsPath');
              error.name = 'States.Timeout';
              reject(error);
            }, Math.min(timeoutS, MAX_LOCAL_TIMEOUT_S) * 1000);
          });
    try {
      return await Promise.race([answer, timeout]);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  private mapStates(): string[] {
    return Object.entries(this.definition.States)
      .filter(([, state]) => state.Type === 'Map')
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

  /**
   * RedriveExecution: continues a failed or aborted execution from the state that did not succeed, with the
   * input that state was given, under the same name; the states that succeeded are not run again (every step
   * works over run files in the store, so running the failed one again is safe). The engine runs a derived
   * definition whose StartAt is that state, the rest unchanged, which is what a redrive amounts to here.
   */
  async redrive(name: string): Promise<{ executionArn: string; redriveDate: string }> {
    const executionArn = this.executionArn(name);
    if (this.active.has(name))
      throw new ExecutionNotRedrivable(`Execution is RUNNING and cannot be redriven: '${executionArn}'`);
    // Claim the name now, so a second redrive arriving before this one starts is refused.
    this.active.add(name);
    try {
      const previous = this.running.get(name);
      const history = previous ? await previous : await this.savedHistory(name);
      if (!history) throw new ExecutionDoesNotExist(`Execution Does Not Exist: '${executionArn}'`);
      if (history.status === 'SUCCEEDED')
        throw new ExecutionNotRedrivable(`Execution is SUCCEEDED and cannot be redriven: '${executionArn}'`);
      const point = this.resumePoint(history);
      if (!point)
        throw new ExecutionNotRedrivable(`Execution has no failed state to redrive from: '${executionArn}'`);
      if (point.input === undefined)
        throw new ExecutionNotRedrivable(
          `the history of '${executionArn}' has no recorded input for state ${point.name} (it was saved by an older textops)`,
        );
      const redriveDate = new Date().toISOString();
      const resumed: ExecutionHistory = {
        ...structuredClone(history),
        status: 'RUNNING',
        redriveCount: (history.redriveCount ?? 0) + 1,
        redriveDate,
      };
      delete resumed.stopDate;
      delete resumed.error;
      delete resumed.cause;
      delete resumed.ms;
      const event: HistoryEvent = {
        type: 'ExecutionRedriven',
        at: redriveDate,
        t: Date.parse(redriveDate) - Date.parse(history.startDate),
        state: point.name,
        attempt: resumed.redriveCount,
      };
      resumed.events.push(event);
      this.options.onEvent?.(name, event, resumed);
      const execution = this.execute(name, (history.input ?? null) as JsonValue, {
        history: resumed,
        startAt: point.name,
        stateInput: point.input as JsonValue,
      });
      this.running.set(name, execution);
      return { executionArn, redriveDate };
    } catch (error) {
      this.active.delete(name);
      throw error;
    }
  }

  /**
   * The state a redrive starts at and its input: the state that did not succeed; or, when the process died
   * between two states (the last record is a success), the state after it, given the output recorded. A Choice
   * is evaluated again from its own input rather than guessed.
   */
  private resumePoint(history: ExecutionHistory): { name: string; input: unknown } | undefined {
    const failed = redrivePoint(history);
    if (failed) return { name: failed.name, input: failed.input };
    const last = history.states.findLast((s) => s.iteration === undefined);
    if (!last || history.status === 'SUCCEEDED') return undefined;
    const state = this.definition.States[last.name] as { Type: string; Next?: string } | undefined;
    if (state?.Type === 'Choice') return { name: last.name, input: last.input };
    if (state?.Next && last.output !== undefined) return { name: state.Next, input: last.output };
    return undefined;
  }

  /** A saved execution's history; one that died before its first save failed in its first state, input as given. */
  private async savedHistory(name: string): Promise<ExecutionHistory | undefined> {
    const saved = await this.options.loadExecution?.(name);
    if (!saved) return undefined;
    if (saved.history) return { input: saved.input, ...saved.history };
    const at = new Date().toISOString();
    const first = this.definition.StartAt;
    return {
      name,
      executionArn: this.executionArn(name),
      stateMachineArn: this.options.stateMachineArn,
      status: 'ABORTED',
      startDate: at,
      input: saved.input,
      states: [
        {
          name: first,
          type: this.definition.States[first]?.Type ?? 'Task',
          enteredAt: at,
          status: 'failed',
          retries: 0,
          input: saved.input,
        },
      ],
      events: [],
    };
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

  private async runJob(state: string, request: JsonValue): Promise<JsonValue> {
    if (!this.options.runJob) {
      const error = new Error(`${state} runs an EKS job, and this engine has no job runner`);
      error.name = 'States.TaskFailed';
      throw error;
    }
    return this.options.runJob(request);
  }

  private async execute(
    name: string,
    input: JsonValue,
    resume?: { history: ExecutionHistory; startAt: string; stateInput: JsonValue },
  ): Promise<ExecutionHistory> {
    this.active.add(name);
    try {
      return await this.run(name, input, resume);
    } finally {
      this.active.delete(name);
    }
  }

  private async run(
    name: string,
    input: JsonValue,
    resume?: { history: ExecutionHistory; startAt: string; stateInput: JsonValue },
  ): Promise<ExecutionHistory> {
    const history: ExecutionHistory = resume?.history ?? {
      name,
      executionArn: this.executionArn(name),
      stateMachineArn: this.options.stateMachineArn,
      status: 'RUNNING',
      startDate: new Date().toISOString(),
      input,
      states: [],
      events: [],
    };
    // Event times and the duration count from the first start, redrives included, as the console shows them.
    const started = Date.parse(history.startDate);
    let saving = Promise.resolve();
    const save = () => {
      const snapshot = structuredClone(history);
      saving = saving.then(() => this.options.saveHistory?.(name, input, snapshot)).catch(() => undefined);
      return saving;
    };
    const machine = new StateMachine(resume ? startingAt(this.definition, resume.startAt) : this.definition, {
      validationOptions: { checkArn: true, checkPaths: true },
    });
    if (resume) void save();
    let changed!: () => void;
    let tick = new Promise<void>((r) => {
      changed = r;
    });
    // A step's handler starts only once the saved history says its state was entered: a process that dies while
    // the step runs then leaves a history naming that state, with the input a redrive needs.
    // Inside a Map, iterations run concurrently: there the condition is that the Map state was entered (a redrive
    // restarts the whole Map from its input).
    // One task token per execution attempt, in the context as `$$.Task.Token` (aws-local-stepfunctions gives no
    // Task object): the pipeline has one callback Task, so one token names its wait.
    const taskToken = `local-${randomUUID()}`;
    const invokeAt = (state: string, map: string | undefined) => async (payload: JsonValue) => {
      // (A retry invokes the handler again within the same visit, whatever its status says meanwhile.)
      const entered = map
        ? () => history.states.findLast((s) => s.iteration === undefined)?.name === map
        : () => history.states.at(-1)?.name === state;
      while (!entered()) await tick;
      await saving;
      if (this.callbackStates.has(state))
        return this.callback(
          taskToken,
          payload,
          history.states.at(-1)?.input,
          this.callbackStates.get(state),
        );
      return this.jobStates.has(state) ? this.runJob(state, payload) : this.invoke(payload);
    };
    const taskNames = [...this.taskStates.keys()];
    const execution = machine.run(resume ? resume.stateInput : input, {
      overrides: {
        taskResourceLocalHandlers: Object.fromEntries(
          [...this.taskStates].map(([s, map]) => [s, invokeAt(s, map)]),
        ),
        ...(this.options.retryIntervalMs !== undefined
          ? {
              retryIntervalOverrides: Object.fromEntries(
                [...taskNames, ...this.mapStates()].map((s) => [s, this.options.retryIntervalMs!]),
              ),
            }
          : {}),
      },
      context: {
        Execution: { Id: history.executionArn, Name: name, Input: input, StartTime: history.startDate },
        Task: { Token: taskToken },
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
          index?: number;
        };
        const data = (log as { state?: { input?: unknown; output?: unknown } }).state;
        const entered = e.type === 'StateEntered' ? data?.input : undefined;
        const exited = e.type === 'StateExited' ? data?.output : undefined;
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
        if (typeof e.index === 'number') event.iteration = e.index;
        if (entered !== undefined) event.input = structuredClone(entered);
        if (exited !== undefined) event.output = structuredClone(exited);
        applyEvent(history, event);
        this.options.onEvent?.(name, event, history);
        if (e.type.startsWith('State')) void save();
        const notify = changed;
        tick = new Promise<void>((r) => {
          changed = r;
        });
        notify();
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
    await this.options.onEnd?.(name, history).catch(() => undefined);
    return history;
  }
}
