// The stack's side of the EKS runtime (docs/design.md, "Runtimes"): the state machine's route to Kubernetes Jobs,
// and the roles the cluster's service accounts assume.
import { type BucketAccess, type BucketUser, bucketStatements } from './bucket-access.ts';
import { arn, type Json, type JsonObject, sub } from './cfn.ts';
import type { DeployOptions } from './deploy-options.ts';
import { CONSUME_TRAIN_REQUESTS, irsaRole, START_BATCH, START_TRAINING } from './iam.ts';

/** The Kubernetes group the state machine's role is mapped to; k8s/base/pipeline-job-rbac.yaml binds it. */
const PIPELINE_K8S_GROUP = 'textops-pipeline';

/**
 * The EKS job route, when a cluster is named: the state machine may describe that cluster (its eks:runJob.sync
 * Task), and an access entry maps its role to the Kubernetes group k8s/base binds to creating and reading Jobs
 * (and their pods' logs) in the textops namespace — the cluster must accept access entries (authentication
 * mode API or API_AND_CONFIG_MAP).
 */
export function eksJobRoute(
  cluster: DeployOptions['eksCluster'],
  codeVersion: string,
): {
  statements: JsonObject[];
  resources: JsonObject;
  environment: JsonObject;
} {
  if (!cluster) return { statements: [], resources: {}, environment: {} };
  return {
    statements: [
      {
        Effect: 'Allow',
        Action: ['eks:DescribeCluster'],
        Resource: sub(
          `arn:\${AWS::Partition}:eks:\${AWS::Region}:\${AWS::AccountId}:cluster/${cluster.name}`,
        ),
      },
    ],
    resources: {
      TrainingPipelineAccessEntry: {
        Type: 'AWS::EKS::AccessEntry',
        Properties: {
          ClusterName: cluster.name,
          PrincipalArn: arn('TrainingPipelineRole'),
          Type: 'STANDARD',
          KubernetesGroups: [PIPELINE_K8S_GROUP],
        },
      },
    },
    environment: {
      TEXTOPS_EKS_CLUSTER_NAME: cluster.name,
      TEXTOPS_EKS_ENDPOINT: cluster.endpoint,
      TEXTOPS_EKS_CERTIFICATE_AUTHORITY: cluster.certificateAuthority,
      // The image the deploy workflow pushes for this commit (tags are immutable), unless one is named.
      TEXTOPS_JOB_IMAGE:
        cluster.image ??
        ({
          'Fn::Join': [':', [{ 'Fn::GetAtt': ['ImageRepository', 'RepositoryUri'] }, codeVersion]],
        } as Json),
    },
  };
}

/** The EKS fallback's identities, when a cluster is named: `textops serve` reads the registry, `worker` = trigger. */
export function eksResources(
  provider: string | undefined,
  access: Record<BucketUser, BucketAccess>,
): { resources: JsonObject; outputs: JsonObject } {
  if (!provider) return { resources: {}, outputs: {} };
  return {
    resources: {
      ServeIrsaRole: irsaRole(provider, 'textops-serve', bucketStatements(access.predict)),
      WorkerIrsaRole: irsaRole(provider, 'textops-worker', [
        CONSUME_TRAIN_REQUESTS,
        START_TRAINING,
        START_BATCH,
        ...bucketStatements(access.trigger),
      ]),
      // The EKS route's jobs (`textops step train`): what the train Lambda may do in the bucket, nothing more.
      PipelineJobIrsaRole: irsaRole(provider, 'textops-pipeline-job', bucketStatements(access.train)),
    },
    outputs: {
      ServeIrsaRoleArn: {
        Description: 'k8s: textops-serve service account role',
        Value: arn('ServeIrsaRole'),
      },
      WorkerIrsaRoleArn: {
        Description: 'k8s: textops-worker service account role',
        Value: arn('WorkerIrsaRole'),
      },
      PipelineJobIrsaRoleArn: {
        Description: "k8s: textops-pipeline-job service account role (the EKS route's jobs)",
        Value: arn('PipelineJobIrsaRole'),
      },
    },
  };
}
