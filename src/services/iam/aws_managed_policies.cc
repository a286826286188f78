// The data of aws_managed_policies.h.
//
// Source of the documents and version ids: the default versions of these policies as AWS
// publishes them (`aws iam get-policy-version`), taken from the zoph-io/MAMIP mirror of AWS
// managed policies (2026 snapshot); policy ids and dates from `aws iam get-policy` outputs. Three
// ids could not be confirmed and are nubo's own (marked below). AWSLambda_FullAccess and
// AWSLambda_ReadOnlyAccess are small enough to keep whole; none is shortened.
#include "services/iam/aws_managed_policies.h"

#include <algorithm>

namespace nubo::iam {

namespace {

constexpr const char* kAdministratorAccess = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*"
        }
    ]
})";

constexpr const char* kPowerUserAccess = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "NotAction": [
                "iam:*",
                "organizations:*",
                "account:*"
            ],
            "Resource": "*"
        },
        {
            "Effect": "Allow",
            "Action": [
                "account:GetAccountInformation",
                "account:GetGovCloudAccountInformation",
                "account:GetPrimaryEmail",
                "account:ListRegions",
                "iam:CreateServiceLinkedRole",
                "iam:DeleteServiceLinkedRole",
                "iam:ListRoles",
                "organizations:DescribeEffectivePolicy",
                "organizations:DescribeOrganization"
            ],
            "Resource": "*"
        }
    ]
})";

constexpr const char* kIAMFullAccess = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "iam:*",
                "organizations:DescribeAccount",
                "organizations:DescribeOrganization",
                "organizations:DescribeOrganizationalUnit",
                "organizations:DescribePolicy",
                "organizations:ListChildren",
                "organizations:ListParents",
                "organizations:ListPoliciesForTarget",
                "organizations:ListRoots",
                "organizations:ListPolicies",
                "organizations:ListTargetsForPolicy"
            ],
            "Resource": "*"
        }
    ]
})";

constexpr const char* kIAMReadOnlyAccess = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "iam:GenerateCredentialReport",
                "iam:GenerateServiceLastAccessedDetails",
                "iam:Get*",
                "iam:List*",
                "iam:SimulateCustomPolicy",
                "iam:SimulatePrincipalPolicy"
            ],
            "Resource": "*"
        }
    ]
})";

constexpr const char* kAWSLambdaBasicExecutionRole = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents"
            ],
            "Resource": "*"
        }
    ]
})";

constexpr const char* kAWSLambdaRole = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "lambda:InvokeFunction"
            ],
            "Resource": [
                "*"
            ]
        }
    ]
})";

constexpr const char* kAWSLambda_FullAccess = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "cloudformation:DescribeStacks",
                "cloudformation:ListStackResources",
                "cloudwatch:ListMetrics",
                "cloudwatch:GetMetricData",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
                "kms:DescribeKey",
                "kms:ListAliases",
                "iam:GetPolicy",
                "iam:GetPolicyVersion",
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListAttachedRolePolicies",
                "iam:ListRolePolicies",
                "iam:ListRoles",
                "lambda:*",
                "logs:DescribeLogGroups",
                "states:DescribeStateMachine",
                "states:ListStateMachines",
                "tag:GetResources",
                "xray:GetTraceSummaries",
                "xray:BatchGetTraces"
            ],
            "Resource": "*"
        },
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "iam:PassedToService": "lambda.amazonaws.com"
                }
            }
        },
        {
            "Effect": "Allow",
            "Action": [
                "logs:DescribeLogStreams",
                "logs:GetLogEvents",
                "logs:FilterLogEvents",
                "logs:StartLiveTail",
                "logs:StopLiveTail"
            ],
            "Resource": "arn:aws:logs:*:*:log-group:/aws/lambda/*"
        },
        {
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": "arn:aws:iam::*:role/aws-service-role/lambda.amazonaws.com/AWSServiceRoleForLambda",
            "Condition": {
                "StringEquals": {
                    "iam:AWSServiceName": "lambda.amazonaws.com"
                }
            }
        }
    ]
})";

constexpr const char* kAWSLambda_ReadOnlyAccess = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "cloudformation:DescribeStacks",
                "cloudformation:ListStacks",
                "cloudformation:ListStackResources",
                "cloudwatch:GetMetricData",
                "cloudwatch:ListMetrics",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
                "kms:ListAliases",
                "iam:GetPolicy",
                "iam:GetPolicyVersion",
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListAttachedRolePolicies",
                "iam:ListRolePolicies",
                "iam:ListRoles",
                "logs:DescribeLogGroups",
                "lambda:Get*",
                "lambda:List*",
                "states:DescribeStateMachine",
                "states:ListStateMachines",
                "tag:GetResources",
                "xray:GetTraceSummaries",
                "xray:BatchGetTraces"
            ],
            "Resource": "*"
        },
        {
            "Effect": "Allow",
            "Action": [
                "logs:DescribeLogStreams",
                "logs:GetLogEvents",
                "logs:FilterLogEvents",
                "logs:StartQuery",
                "logs:StopQuery",
                "logs:DescribeQueries",
                "logs:GetLogGroupFields",
                "logs:GetLogRecord",
                "logs:GetQueryResults"
            ],
            "Resource": "arn:aws:logs:*:*:log-group:/aws/lambda/*"
        }
    ]
})";

constexpr const char* kAWSLambdaSQSQueueExecutionRole = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents"
            ],
            "Resource": "*"
        }
    ]
})";

constexpr const char* kAWSLambdaDynamoDBExecutionRole = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents"
            ],
            "Resource": "*"
        }
    ]
})";

constexpr const char* kAmazonS3FullAccess = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "s3:*",
                "s3-object-lambda:*"
            ],
            "Resource": "*"
        }
    ]
})";

constexpr const char* kAmazonS3ReadOnlyAccess = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "s3:Get*",
                "s3:List*",
                "s3:Describe*",
                "s3-object-lambda:Get*",
                "s3-object-lambda:List*"
            ],
            "Resource": "*"
        }
    ]
})";

constexpr const char* kAmazonDynamoDBFullAccess = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Action": [
                "dynamodb:*",
                "dax:*",
                "application-autoscaling:DeleteScalingPolicy",
                "application-autoscaling:DeregisterScalableTarget",
                "application-autoscaling:DescribeScalableTargets",
                "application-autoscaling:DescribeScalingActivities",
                "application-autoscaling:DescribeScalingPolicies",
                "application-autoscaling:PutScalingPolicy",
                "application-autoscaling:RegisterScalableTarget",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:DescribeAlarmHistory",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:DescribeAlarmsForMetric",
                "cloudwatch:GetMetricStatistics",
                "cloudwatch:ListMetrics",
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:GetMetricData",
                "datapipeline:ActivatePipeline",
                "datapipeline:CreatePipeline",
                "datapipeline:DeletePipeline",
                "datapipeline:DescribeObjects",
                "datapipeline:DescribePipelines",
                "datapipeline:GetPipelineDefinition",
                "datapipeline:ListPipelines",
                "datapipeline:PutPipelineDefinition",
                "datapipeline:QueryObjects",
                "ec2:DescribeVpcs",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "iam:GetRole",
                "iam:ListRoles",
                "kms:DescribeKey",
                "kms:ListAliases",
                "sns:CreateTopic",
                "sns:DeleteTopic",
                "sns:ListSubscriptions",
                "sns:ListSubscriptionsByTopic",
                "sns:ListTopics",
                "sns:Subscribe",
                "sns:Unsubscribe",
                "sns:SetTopicAttributes",
                "lambda:CreateFunction",
                "lambda:ListFunctions",
                "lambda:ListEventSourceMappings",
                "lambda:CreateEventSourceMapping",
                "lambda:DeleteEventSourceMapping",
                "lambda:GetFunctionConfiguration",
                "lambda:DeleteFunction",
                "resource-groups:ListGroups",
                "resource-groups:ListGroupResources",
                "resource-groups:GetGroup",
                "resource-groups:GetGroupQuery",
                "resource-groups:DeleteGroup",
                "resource-groups:CreateGroup",
                "tag:GetResources",
                "kinesis:ListStreams",
                "kinesis:DescribeStream",
                "kinesis:DescribeStreamSummary"
            ],
            "Effect": "Allow",
            "Resource": "*"
        },
        {
            "Action": "cloudwatch:GetInsightRuleReport",
            "Effect": "Allow",
            "Resource": "arn:aws:cloudwatch:*:*:insight-rule/DynamoDBContributorInsights*"
        },
        {
            "Action": [
                "iam:PassRole"
            ],
            "Effect": "Allow",
            "Resource": "*",
            "Condition": {
                "StringLike": {
                    "iam:PassedToService": [
                        "application-autoscaling.amazonaws.com",
                        "application-autoscaling.amazonaws.com.cn",
                        "dax.amazonaws.com"
                    ]
                }
            }
        },
        {
            "Effect": "Allow",
            "Action": [
                "iam:CreateServiceLinkedRole"
            ],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "iam:AWSServiceName": [
                        "replication.dynamodb.amazonaws.com",
                        "dax.amazonaws.com",
                        "dynamodb.application-autoscaling.amazonaws.com",
                        "contributorinsights.dynamodb.amazonaws.com",
                        "kinesisreplication.dynamodb.amazonaws.com"
                    ]
                }
            }
        }
    ]
})";

constexpr const char* kAmazonDynamoDBReadOnlyAccess = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "GeneralReadOnlyAccess",
            "Action": [
                "application-autoscaling:DescribeScalableTargets",
                "application-autoscaling:DescribeScalingActivities",
                "application-autoscaling:DescribeScalingPolicies",
                "cloudwatch:DescribeAlarmHistory",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:DescribeAlarmsForMetric",
                "cloudwatch:GetMetricStatistics",
                "cloudwatch:ListMetrics",
                "cloudwatch:GetMetricData",
                "datapipeline:DescribeObjects",
                "datapipeline:DescribePipelines",
                "datapipeline:GetPipelineDefinition",
                "datapipeline:ListPipelines",
                "datapipeline:QueryObjects",
                "dynamodb:BatchGetItem",
                "dynamodb:Describe*",
                "dynamodb:List*",
                "dynamodb:GetItem",
                "dynamodb:GetResourcePolicy",
                "dynamodb:Query",
                "dynamodb:Scan",
                "dynamodb:PartiQLSelect",
                "dax:Describe*",
                "dax:List*",
                "dax:GetItem",
                "dax:BatchGetItem",
                "dax:Query",
                "dax:Scan",
                "ec2:DescribeVpcs",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "iam:GetRole",
                "iam:ListRoles",
                "kms:DescribeKey",
                "kms:ListAliases",
                "sns:ListSubscriptionsByTopic",
                "sns:ListTopics",
                "lambda:ListFunctions",
                "lambda:ListEventSourceMappings",
                "lambda:GetFunctionConfiguration",
                "resource-groups:ListGroups",
                "resource-groups:ListGroupResources",
                "resource-groups:GetGroup",
                "resource-groups:GetGroupQuery",
                "tag:GetResources",
                "kinesis:ListStreams",
                "kinesis:DescribeStream",
                "kinesis:DescribeStreamSummary"
            ],
            "Effect": "Allow",
            "Resource": "*"
        },
        {
            "Sid": "CCIAccess",
            "Action": "cloudwatch:GetInsightRuleReport",
            "Effect": "Allow",
            "Resource": "arn:aws:cloudwatch:*:*:insight-rule/DynamoDBContributorInsights*"
        }
    ]
})";

constexpr const char* kAmazonSQSFullAccess = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Action": [
                "sqs:*"
            ],
            "Effect": "Allow",
            "Resource": "*"
        }
    ]
})";

constexpr const char* kAmazonSQSReadOnlyAccess = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ListDeadLetterSourceQueues",
                "sqs:ListQueues",
                "sqs:ListMessageMoveTasks"
            ],
            "Resource": "*"
        }
    ]
})";

constexpr const char* kAmazonSNSFullAccess = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Action": [
                "sns:*"
            ],
            "Effect": "Allow",
            "Resource": "*"
        }
    ]
})";

constexpr const char* kSecretsManagerReadWrite = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "BasePermissions",
            "Effect": "Allow",
            "Action": [
                "secretsmanager:*",
                "cloudformation:CreateChangeSet",
                "cloudformation:DescribeChangeSet",
                "cloudformation:DescribeStackResource",
                "cloudformation:DescribeStacks",
                "cloudformation:ExecuteChangeSet",
                "docdb-elastic:GetCluster",
                "docdb-elastic:ListClusters",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
                "kms:DescribeKey",
                "kms:ListAliases",
                "kms:ListKeys",
                "lambda:ListFunctions",
                "rds:DescribeDBClusters",
                "rds:DescribeDBInstances",
                "redshift:DescribeClusters",
                "redshift-serverless:ListWorkgroups",
                "redshift-serverless:GetNamespace",
                "tag:GetResources"
            ],
            "Resource": "*"
        },
        {
            "Sid": "LambdaPermissions",
            "Effect": "Allow",
            "Action": [
                "lambda:AddPermission",
                "lambda:CreateFunction",
                "lambda:GetFunction",
                "lambda:InvokeFunction",
                "lambda:UpdateFunctionConfiguration"
            ],
            "Resource": "arn:aws:lambda:*:*:function:SecretsManager*"
        },
        {
            "Sid": "SARPermissions",
            "Effect": "Allow",
            "Action": [
                "serverlessrepo:CreateCloudFormationChangeSet",
                "serverlessrepo:GetApplication"
            ],
            "Resource": "arn:aws:serverlessrepo:*:*:applications/SecretsManager*"
        },
        {
            "Sid": "S3Permissions",
            "Effect": "Allow",
            "Action": [
                "s3:GetObject"
            ],
            "Resource": [
                "arn:aws:s3:::awsserverlessrepo-changesets*",
                "arn:aws:s3:::secrets-manager-rotation-apps-*/*"
            ]
        },
        {
            "Sid": "CloudFormationTagOnCreate",
            "Effect": "Allow",
            "Action": [
                "cloudformation:TagResource",
                "cloudformation:UntagResource"
            ],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "cloudformation:CreateAction": [
                        "CreateChangeSet",
                        "ExecuteChangeSet"
                    ]
                }
            }
        }
    ]
})";

constexpr const char* kAWSStepFunctionsFullAccess = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "states:*",
            "Resource": "*"
        }
    ]
})";

constexpr const char* kCloudWatchLogsFullAccess = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "CloudWatchLogsFullAccess",
            "Effect": "Allow",
            "Action": [
                "logs:*",
                "cloudwatch:GenerateQuery",
                "cloudwatch:GenerateQueryResultsSummary"
            ],
            "Resource": "*"
        }
    ]
})";

std::vector<AwsManagedPolicy> make() {
  std::vector<AwsManagedPolicy> v = {
      {"AdministratorAccess", "/", "ANPAIWMBCKSKIEE64ZLYK",
       "Provides full access to AWS services and resources.", "2015-02-06T18:39:46Z",
       "2015-02-06T18:39:46Z", "v1", kAdministratorAccess},
      {"PowerUserAccess", "/", "ANPAJYRXTHIB4FOVS3ZXS",
       "Provides full access to AWS services and resources, but does not allow management of "
       "Users and groups.",
       "2015-02-06T18:39:47Z", "2026-02-12T17:59:14Z", "v12", kPowerUserAccess},
      {"IAMFullAccess", "/", "ANPAI7XKCFMBPM3QQRRVQ",
       "Provides full access to IAM via the AWS Management Console.", "2015-02-06T18:40:38Z",
       "2019-06-21T19:40:00Z", "v2", kIAMFullAccess},
      {"IAMReadOnlyAccess", "/", "ANPAJKSO7NDY4T57MWDSQ",
       "Provides read only access to IAM via the AWS Management Console.", "2015-02-06T18:40:39Z",
       "2018-01-25T19:11:27Z", "v4", kIAMReadOnlyAccess},
      {"AWSLambdaBasicExecutionRole", "/service-role/", "ANPAJNCQGXC42545SKXIK",
       "Provides write permissions to CloudWatch Logs.", "2015-04-09T15:03:43Z",
       "2015-04-09T15:03:43Z", "v1", kAWSLambdaBasicExecutionRole},
      {"AWSLambdaRole", "/service-role/", "ANPAJX4DPCRGTC4NFDUXI",
       "Default policy for AWS Lambda service role.", "2015-02-06T18:41:28Z",
       "2015-02-06T18:41:28Z", "v1", kAWSLambdaRole},
      {"AWSLambda_FullAccess", "/", "ANPAZKAPJZG4OXQPYWZ5D",
       "Grants full access to AWS Lambda service, AWS Lambda console features, and other related "
       "AWS services.",
       "2020-11-23T20:54:23Z", "2026-02-11T22:18:56Z", "v5", kAWSLambda_FullAccess},
      // Policy id not confirmed: nubo's own.
      {"AWSLambda_ReadOnlyAccess", "/", "ANPALVQL5A3ZR7XPFFGUE",
       "Grants read-only access to AWS Lambda service, AWS Lambda console features, and other "
       "related AWS services.",
       "2020-11-23T20:54:23Z", "2023-07-27T17:32:05Z", "v2", kAWSLambda_ReadOnlyAccess},
      // Policy id not confirmed.
      {"AWSLambdaSQSQueueExecutionRole", "/service-role/", "ANPAJFWJZI6JNND4TSELK",
       "Provides receive message, delete message, and read attribute access to SQS queues, and "
       "write permissions to CloudWatch logs.",
       "2018-06-14T21:50:45Z", "2018-06-14T21:50:45Z", "v1", kAWSLambdaSQSQueueExecutionRole},
      {"AWSLambdaDynamoDBExecutionRole", "/service-role/", "ANPAIP7WNAGMIPYNW4WQG",
       "Provides list and read access to DynamoDB streams and write permissions to CloudWatch "
       "logs.",
       "2015-04-09T15:09:29Z", "2015-04-09T15:09:29Z", "v1", kAWSLambdaDynamoDBExecutionRole},
      {"AmazonS3FullAccess", "/", "ANPAIFIR6V6BVTRAHWINE",
       "Provides full access to all buckets via the AWS Management Console.",
       "2015-02-06T18:40:58Z", "2021-09-27T20:16:37Z", "v2", kAmazonS3FullAccess},
      {"AmazonS3ReadOnlyAccess", "/", "ANPAIZTJ4DXE7G6AGAE6M",
       "Provides read only access to all buckets via the AWS Management Console.",
       "2015-02-06T18:40:59Z", "2023-08-10T21:31:39Z", "v3", kAmazonS3ReadOnlyAccess},
      {"AmazonDynamoDBFullAccess", "/", "ANPAINUGF2JSOSUY76KYA",
       "Provides full access to Amazon DynamoDB via the AWS Management Console.",
       "2015-02-06T18:40:11Z", "2021-01-29T17:38:30Z", "v15", kAmazonDynamoDBFullAccess},
      {"AmazonDynamoDBReadOnlyAccess", "/", "ANPAIY2XFNA232XJ6J7X2",
       "Provides read only access to Amazon DynamoDB via the AWS Management Console.",
       "2015-02-06T18:40:12Z", "2024-03-20T15:45:01Z", "v14", kAmazonDynamoDBReadOnlyAccess},
      {"AmazonSQSFullAccess", "/", "ANPAI65L554VRJ33ECQS6",
       "Provides full access to Amazon SQS via the AWS Management Console.", "2015-02-06T18:41:07Z",
       "2015-02-06T18:41:07Z", "v1", kAmazonSQSFullAccess},
      {"AmazonSQSReadOnlyAccess", "/", "ANPAIUGSSQY362XGCM6KW",
       "Provides read only access to Amazon SQS via the AWS Management Console.",
       "2015-02-06T18:41:06Z", "2023-06-15T15:37:35Z", "v3", kAmazonSQSReadOnlyAccess},
      {"AmazonSNSFullAccess", "/", "ANPAJWEKLCXXUNT2SOLSG",
       "Provides full access to Amazon SNS via the AWS Management Console.", "2015-02-06T18:41:05Z",
       "2015-02-06T18:41:05Z", "v1", kAmazonSNSFullAccess},
      // Policy id not confirmed: nubo's own.
      {"SecretsManagerReadWrite", "/", "ANPAGSUMYPFSTAJVF7JUQ",
       "Provides read/write access to AWS Secrets Manager via the AWS Management Console. Note: "
       "this exludes IAM actions, so combine with IAMFullAccess if rotation configuration is "
       "required.",
       "2018-04-04T18:05:29Z", "2026-08-25T23:37:10Z", "v6", kSecretsManagerReadWrite},
      {"AWSStepFunctionsFullAccess", "/", "ANPAJXKA6VP3UFBVHDPPA",
       "An access policy for providing a user/role/etc access to the AWS StepFunctions API. For "
       "full access, in addition to this policy, a user MUST have iam:PassRole permission on at "
       "least one IAM role that can be assumed by the service.",
       "2017-01-11T21:51:32Z", "2017-01-11T21:51:32Z", "v1", kAWSStepFunctionsFullAccess},
      {"CloudWatchLogsFullAccess", "/", "ANPAJ3ZGNWK2R5HW5BQFO",
       "Provides full access to CloudWatch Logs", "2015-02-06T18:40:02Z", "2025-05-20T17:07:06Z",
       "v3", kCloudWatchLogsFullAccess},
  };
  std::sort(v.begin(), v.end(), [](const AwsManagedPolicy& a, const AwsManagedPolicy& b) {
    return std::string_view(a.name) < std::string_view(b.name);
  });
  return v;
}

}  // namespace

std::string aws_managed_policy_arn(const AwsManagedPolicy& p) {
  return std::string("arn:aws:iam::aws:policy") + p.path + p.name;
}

const std::vector<AwsManagedPolicy>& aws_managed_policies() {
  static const std::vector<AwsManagedPolicy> all = make();
  return all;
}

const AwsManagedPolicy* find_aws_managed_policy(std::string_view arn) {
  for (const auto& p : aws_managed_policies()) {
    if (aws_managed_policy_arn(p) == arn) return &p;
  }
  return nullptr;
}

bool is_aws_managed_arn(std::string_view arn) {
  return arn.rfind("arn:aws:iam::aws:", 0) == 0;
}

}  // namespace nubo::iam
