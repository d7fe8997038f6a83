import { handler as evaluate } from '../functions/evaluate/handler.ts';
import { handler as featurize } from '../functions/featurize/handler.ts';
import { handler as ingest } from '../functions/ingest/handler.ts';
import { handler as preprocess } from '../functions/preprocess/handler.ts';
import { handler as recordFailure } from '../functions/record-failure/handler.ts';
import { handler as register } from '../functions/register/handler.ts';
import { handler as train } from '../functions/train/handler.ts';
import { handler as tuneCandidates } from '../functions/tune-candidates/handler.ts';
import { handler as tunePlan } from '../functions/tune-plan/handler.ts';
import { handler as tuneSelect } from '../functions/tune-select/handler.ts';
import type { LambdaHandler } from './local-engine.ts';

/**
 * The pipeline's Lambda functions as the local engine resolves them: the ASL placeholder, the function name it
 * stands for, and the handler module AWS runs (the same import, not a copy).
 */
export const PIPELINE_FUNCTIONS: readonly { placeholder: string; name: string; handler: LambdaHandler }[] = [
  { placeholder: 'IngestFunctionArn', name: 'textops-ingest', handler: ingest as LambdaHandler },
  { placeholder: 'PreprocessFunctionArn', name: 'textops-preprocess', handler: preprocess as LambdaHandler },
  { placeholder: 'TunePlanFunctionArn', name: 'textops-tune-plan', handler: tunePlan as LambdaHandler },
  {
    placeholder: 'TuneCandidatesFunctionArn',
    name: 'textops-tune-candidates',
    handler: tuneCandidates as LambdaHandler,
  },
  { placeholder: 'TuneSelectFunctionArn', name: 'textops-tune-select', handler: tuneSelect as LambdaHandler },
  { placeholder: 'FeaturizeFunctionArn', name: 'textops-featurize', handler: featurize as LambdaHandler },
  { placeholder: 'TrainFunctionArn', name: 'textops-train', handler: train as LambdaHandler },
  { placeholder: 'EvaluateFunctionArn', name: 'textops-evaluate', handler: evaluate as LambdaHandler },
  { placeholder: 'RegisterFunctionArn', name: 'textops-register', handler: register as LambdaHandler },
  {
    placeholder: 'RecordFailureFunctionArn',
    name: 'textops-record-failure',
    handler: recordFailure as LambdaHandler,
  },
];

export const LOCAL_ACCOUNT = '000000000000';

export function localFunctionArn(region: string, name: string): string {
  return `arn:aws:lambda:${region}:${LOCAL_ACCOUNT}:function:${name}`;
}
