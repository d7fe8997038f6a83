import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { PipelineStarter } from '../ports.ts';

/**
 * The PipelineStarter port over Step Functions. An execution name can be used once per state machine (for 90
 * days after it closes), so `ExecutionAlreadyExists` means a duplicate event: reported, not thrown.
 */
export class SfnPipelineStarter implements PipelineStarter {
  constructor(
    private readonly client: SFNClient,
    readonly stateMachineArn: string,
  ) {}

  /** `arn:aws:states:r:a:stateMachine:Name` → `arn:aws:states:r:a:execution:Name:<name>`. */
  executionArn(name: string): string {
    return `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
  }

  async start(name: string, input: unknown): Promise<{ executionArn: string; alreadyStarted: boolean }> {
    try {
      const out = await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name,
          input: JSON.stringify(input),
        }),
      );
      return { executionArn: out.executionArn ?? this.executionArn(name), alreadyStarted: false };
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists)
        return { executionArn: this.executionArn(name), alreadyStarted: true };
      throw error;
    }
  }
}
