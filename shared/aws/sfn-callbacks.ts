import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { ConflictError } from '../errors.ts';
import type { TaskCallbacks } from '../ports.ts';

/** Step Functions' answers when no task waits on a token any more, and what each means to a person. */
const GONE: Record<string, string> = {
  TaskTimedOut: 'its wait timed out',
  TaskDoesNotExist: 'its wait is over (answered, expired, or the run stopped)',
  InvalidToken: 'its task token is not valid',
};

/** The TaskCallbacks port over Step Functions (SendTaskSuccess / SendTaskFailure). */
export class SfnTaskCallbacks implements TaskCallbacks {
  constructor(private readonly client: SFNClient) {}

  async succeed(taskToken: string, output: unknown): Promise<void> {
    await this.send(() =>
      this.client.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) })),
    );
  }

  async fail(taskToken: string, error: string, cause: string): Promise<void> {
    // Step Functions caps `cause` at 32,768 characters and `error` at 256.
    await this.send(() =>
      this.client.send(
        new SendTaskFailureCommand({ taskToken, error: error.slice(0, 256), cause: cause.slice(0, 32_768) }),
      ),
    );
  }

  private async send(call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (error) {
      const why = GONE[(error as Error).name];
      if (why) throw new ConflictError(why, { cause: error, details: { reason: (error as Error).name } });
      throw error;
    }
  }
}
