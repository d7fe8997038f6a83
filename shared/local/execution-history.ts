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
  states: StateVisit[];
  events: HistoryEvent[];
}

/** Folds an event into the per-state view (the last visit of a state is the one an event refers to). */
export function applyEvent(history: ExecutionHistory, event: HistoryEvent): void {
  history.events.push(event);
  if (!event.state) return;
  const visits = history.states.filter((s) => s.name === event.state);
  const last = visits[visits.length - 1];
  switch (event.type) {
    case 'StateEntered':
      history.states.push({
        name: event.state,
        type: event.stateType ?? '',
        enteredAt: event.at,
        status: 'running',
        retries: 0,
      });
      break;
    case 'StateExited':
      // A caught failure also exits the state (towards the Catch target); it stays 'caught'.
      if (last)
        Object.assign(last, {
          exitedAt: event.at,
          ms: Date.parse(event.at) - Date.parse(last.enteredAt),
          status: last.status === 'caught' ? 'caught' : 'succeeded',
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
