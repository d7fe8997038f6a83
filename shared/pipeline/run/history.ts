/** One line of an execution's history, as saved to `runs/<runId>/history.json`. */
export interface HistoryEvent {
  type: string;
  at: string;
  /** Milliseconds since the execution started. */
  t: number;
  state?: string;
  stateType?: string;
  error?: string;
  cause?: string;
  attempt?: number;
  /** The Map iteration (item index) an event of a state inside a Map's ItemProcessor belongs to. */
  iteration?: number;
  /** A state's input (StateEntered) and output (StateExited); kept in the state's visit, not in the event list. */
  input?: unknown;
  output?: unknown;
}

/** A state's visit: entered, exited (or failed/caught), and how long it took. */
export interface StateVisit {
  name: string;
  type: string;
  enteredAt: string;
  exitedAt?: string;
  ms?: number;
  status: 'running' | 'succeeded' | 'failed' | 'caught';
  retries: number;
  error?: string;
  /**
   * Set on the visits of states inside a Map's ItemProcessor: the item index. Such a visit is part of its Map's
   * visit; a redrive restarts the Map, never a state inside it (the top-level definition has no such state).
   */
  iteration?: number;
  /** The state's input as it entered: what a redrive hands the state again. */
  input?: unknown;
  /** The state's output as it exited: what a redrive hands the next state when this is the last record. */
  output?: unknown;
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

/** `runs/<runId>/history.json`: the local engine's record of one execution, like the Step Functions console's. */
export interface ExecutionHistory {
  name: string;
  executionArn: string;
  stateMachineArn: string;
  status: ExecutionStatus;
  startDate: string;
  stopDate?: string;
  ms?: number;
  error?: string;
  cause?: string;
  /** The execution's input. */
  input?: unknown;
  /** How many times the execution was redriven (`textops runs retry`), and when last. */
  redriveCount?: number;
  redriveDate?: string;
  states: StateVisit[];
  events: HistoryEvent[];
}

/**
 * Folds an event into the per-state view (the last visit of a state is the one an event refers to; inside a Map,
 * the last visit of that state in the same iteration, since iterations run concurrently and interleave).
 */
export function applyEvent(history: ExecutionHistory, event: HistoryEvent): void {
  const { input: _input, output: _output, ...logged } = event;
  history.events.push(logged);
  if (!event.state) return;
  const last = history.states.findLast((s) => s.name === event.state && s.iteration === event.iteration);
  switch (event.type) {
    case 'StateEntered':
      history.states.push({
        name: event.state,
        type: event.stateType ?? '',
        enteredAt: event.at,
        status: 'running',
        retries: 0,
        ...(event.iteration !== undefined ? { iteration: event.iteration } : {}),
        ...(event.input !== undefined ? { input: event.input } : {}),
      });
      break;
    case 'StateExited':
      // A caught failure also exits the state (towards the Catch target); it stays 'caught'.
      if (last)
        Object.assign(last, {
          exitedAt: event.at,
          ms: Date.parse(event.at) - Date.parse(last.enteredAt),
          status: last.status === 'caught' ? 'caught' : 'succeeded',
          ...(event.output !== undefined ? { output: event.output } : {}),
        });
      break;
    case 'StateRetried':
      if (last) last.retries++;
      break;
    case 'StateFailed':
      if (last)
        Object.assign(last, {
          exitedAt: event.at,
          ms: Date.parse(event.at) - Date.parse(last.enteredAt),
          status: 'failed',
          error: event.error,
        });
      break;
    case 'StateCaught':
      if (last) last.status = 'caught';
      break;
  }
}

/**
 * Closes the history of an execution whose process died: ABORTED, with the state that was running marked failed
 * with the same error, so the history says where it stopped (and a redrive knows where to resume).
 */
export function abortHistory(history: ExecutionHistory, error: string, cause: string, at = new Date()): void {
  const when = at.toISOString();
  for (const visit of history.states) {
    if (visit.status !== 'running') continue;
    Object.assign(visit, {
      status: 'failed',
      error,
      exitedAt: when,
      ms: Date.parse(when) - Date.parse(visit.enteredAt),
    });
  }
  history.events.push({
    type: 'ExecutionAborted',
    at: when,
    t: Date.parse(when) - Date.parse(history.startDate),
    error,
    cause,
  });
  Object.assign(history, {
    status: 'ABORTED',
    error,
    cause,
    stopDate: when,
    ms: Date.parse(when) - Date.parse(history.startDate),
  });
}

/**
 * Where a redrive resumes: the last state that did not succeed (was running when the process died, failed, or
 * failed into a Catch), leaving out Fail states, which only end the path of a failure already caught.
 */
export function redrivePoint(history: ExecutionHistory): StateVisit | undefined {
  return history.states.findLast(
    (s) => s.status !== 'succeeded' && s.type !== 'Fail' && s.iteration === undefined,
  );
}
