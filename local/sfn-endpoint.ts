import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { applyHttpTimeouts, LOCAL_HTTP_TIMEOUTS } from '../shared/config/http-timeouts.ts';
import { loopbackHostOnly } from '../shared/http/loopback-host.ts';
import {
  ExecutionDoesNotExist,
  ExecutionNotRedrivable,
  InvalidOutput,
  type LocalStateMachine,
  TaskDoesNotExist,
  TaskTimedOut,
} from './local-engine.ts';

/**
 * A loopback endpoint that speaks the part of the Step Functions API the trigger uses (`StartExecution`), plus
 * `RedriveExecution` for `textops runs retry`, `SendTaskSuccess`/`SendTaskFailure` for `textops approve`/`reject`
 * and the console, and `DescribeExecution` for tools, in the AWS JSON 1.0 protocol, in front of the local engine. The trigger's
 * SFNClient reaches it through `AWS_ENDPOINT_URL_SFN`: the same code path as in AWS, only the endpoint differs.
 */
export interface SfnEndpoint {
  url: string;
  server: Server;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function fail(res: ServerResponse, status: number, type: string, message: string): void {
  res.setHeader('x-amzn-errortype', type);
  send(res, status, { __type: `com.amazonaws.states#${type}`, message });
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

export async function startSfnEndpoint(
  engine: LocalStateMachine,
  stateMachineArn: string,
  port = 0,
  /** Further state machines by ARN (the batch-predictions one): StartExecution and DescribeExecution reach them. */
  others: Record<string, LocalStateMachine> = {},
): Promise<SfnEndpoint> {
  const engines: Record<string, LocalStateMachine> = { ...others, [stateMachineArn]: engine };
  const engineOfExecution = (arn: string) =>
    Object.entries(engines).find(([machine]) =>
      arn.startsWith(`${machine.replace(':stateMachine:', ':execution:')}:`),
    )?.[1];
  const server = createServer(
    loopbackHostOnly((req, res) => {
      void (async () => {
        const target = String(req.headers['x-amz-target'] ?? '');
        let body: Record<string, unknown>;
        try {
          body = await readBody(req);
        } catch {
          return fail(res, 400, 'SerializationException', 'the request body is not JSON');
        }
        const operation = target.split('.').pop();
        if (operation === 'StartExecution') {
          const machine = engines[String(body.stateMachineArn)];
          if (!machine) {
            return fail(
              res,
              400,
              'StateMachineDoesNotExist',
              `State Machine Does Not Exist: '${String(body.stateMachineArn)}'`,
            );
          }
          const name = typeof body.name === 'string' ? body.name : crypto.randomUUID();
          if (!/^[A-Za-z0-9_-]{1,80}$/.test(name))
            return fail(res, 400, 'InvalidName', `Invalid Name: '${name}'`);
          let input: unknown;
          try {
            input = JSON.parse(typeof body.input === 'string' ? body.input : '{}');
          } catch {
            return fail(res, 400, 'InvalidExecutionInput', 'Invalid State Machine Execution Input: not JSON');
          }
          try {
            const { executionArn, alreadyStarted } = await machine.start(name, input);
            if (alreadyStarted)
              return fail(res, 400, 'ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
            return send(res, 200, { executionArn, startDate: Date.now() / 1000 });
          } catch (error) {
            return fail(res, 500, 'InternalFailure', (error as Error).message);
          }
        }
        if (operation === 'RedriveExecution') {
          const arn = String(body.executionArn ?? '');
          const prefix = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:`;
          const name = arn.slice(prefix.length);
          if (!arn.startsWith(prefix) || !/^[A-Za-z0-9_-]{1,80}$/.test(name))
            return fail(res, 400, 'ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
          try {
            const { redriveDate } = await engine.redrive(name);
            return send(res, 200, { redriveDate: Date.parse(redriveDate) / 1000 });
          } catch (error) {
            if (error instanceof ExecutionDoesNotExist || error instanceof ExecutionNotRedrivable)
              return fail(res, 400, error.name, error.message);
            return fail(res, 500, 'InternalFailure', (error as Error).message);
          }
        }
        if (operation === 'SendTaskSuccess' || operation === 'SendTaskFailure') {
          const token = typeof body.taskToken === 'string' ? body.taskToken : '';
          if (!token) return fail(res, 400, 'InvalidToken', 'The provided token is not valid');
          const machines = Object.values(engines);
          for (const [i, machine] of machines.entries()) {
            try {
              if (operation === 'SendTaskSuccess') machine.sendTaskSuccess(token, String(body.output ?? ''));
              else machine.sendTaskFailure(token, String(body.error ?? ''), String(body.cause ?? ''));
              return send(res, 200, {});
            } catch (error) {
              if (error instanceof InvalidOutput) return fail(res, 400, error.name, error.message);
              if (error instanceof TaskTimedOut) return fail(res, 400, error.name, error.message);
              if (error instanceof TaskDoesNotExist) {
                if (i === machines.length - 1) return fail(res, 400, error.name, error.message);
                continue;
              }
              return fail(res, 500, 'InternalFailure', (error as Error).message);
            }
          }
        }
        if (operation === 'DescribeExecution') {
          const arn = String(body.executionArn ?? '');
          const execution = (engineOfExecution(arn) ?? engine).execution(arn.split(':').pop() ?? '');
          if (!execution)
            return fail(res, 400, 'ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
          const h = await Promise.race([execution, Promise.resolve(undefined)]);
          return send(res, 200, {
            executionArn: arn,
            stateMachineArn:
              Object.keys(engines).find((m) => engines[m] === engineOfExecution(arn)) ?? stateMachineArn,
            name: arn.split(':').pop(),
            status: h?.status ?? 'RUNNING',
            ...(h?.error ? { error: h.error, cause: h.cause } : {}),
          });
        }
        return fail(
          res,
          400,
          'UnknownOperationException',
          `operation '${target}' is not supported by the local engine`,
        );
      })();
    }),
  );
  applyHttpTimeouts(server, LOCAL_HTTP_TIMEOUTS);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
