// Secrets Manager's limits and defaults, each with where AWS states it: the API reference and
// botocore's model (secretsmanager/2017-10-17/service-2.json, "min"/"max"/"pattern"), and the
// user guide ("AWS Secrets Manager quotas", "Rotation", "Password generation").
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nubo::secretsmanager {

// The JSON 1.1 target prefix (service-2.json "targetPrefix") and the service's IAM prefix.
inline constexpr std::string_view kTargetPrefix = "secretsmanager.";
inline constexpr std::string_view kActionPrefix = "secretsmanager:";

// Secret values: SecretString / SecretBinary, 1..65536 bytes (SecretStringType,
// SecretBinaryType; quotas "Secret value size").
inline constexpr size_t kSecretValueMax = 65536;

// Names: 1..512 (NameType). ASCII letters, digits and /_+=.@- (CreateSecret "Name"); AWS's
// validation message also names '!' (the names of secrets other services own: "rds!...").
inline constexpr size_t kNameMax = 512;
inline constexpr std::string_view kNamePunctuation = "/_+=.@-!";
// SecretIdType: a name or an ARN, 1..2048.
inline constexpr size_t kSecretIdMax = 2048;
// The ARN's suffix: a hyphen and six random characters after the name ("Finding a secret from
// a partial ARN").
inline constexpr size_t kArnSuffixLength = 6;

inline constexpr size_t kDescriptionMax = 2048;  // DescriptionType
inline constexpr size_t kKmsKeyIdMax = 2048;     // KmsKeyIdType
inline constexpr size_t kTypeMax = 256;          // MedeaTypeType

// Tags (TagKeyType 1..128, TagValueType 0..256; "Tag restrictions": 50 per resource, the
// "aws:" prefix reserved).
inline constexpr size_t kTagsMax = 50;
inline constexpr size_t kTagKeyMax = 128;
inline constexpr size_t kTagValueMax = 256;
inline constexpr std::string_view kReservedTagPrefix = "aws:";
// The tag that marks a secret another service manages (ListSecrets "owning-service").
inline constexpr std::string_view kOwningServiceTag = "aws:secretsmanager:owningService";

// Resource policies: NonEmptyResourcePolicyType 1..20480 characters (quotas "Resource-based
// policy size").
inline constexpr size_t kResourcePolicyMax = 20480;

// Versions and staging labels: SecretVersionStagesType 1..20 labels per version,
// SecretVersionStageType 1..256 characters, SecretVersionIdType / ClientRequestTokenType
// 32..64 characters.
inline constexpr size_t kStagesPerVersionMax = 20;
inline constexpr size_t kStageMax = 256;
inline constexpr size_t kVersionIdMin = 32;
inline constexpr size_t kVersionIdMax = 64;
inline constexpr std::string_view kStageCurrent = "AWSCURRENT";
inline constexpr std::string_view kStagePrevious = "AWSPREVIOUS";
inline constexpr std::string_view kStagePending = "AWSPENDING";
// "Secrets Manager removes unlabeled versions when there are more than 100, but it does not
// remove versions created less than 24 hours ago" (quotas).
inline constexpr size_t kUnlabeledVersionsKept = 100;
inline constexpr std::chrono::hours kUnlabeledMinAge{24};
// RotationTokenType: 36..256 characters of [a-zA-Z0-9-].
inline constexpr size_t kRotationTokenMin = 36;
inline constexpr size_t kRotationTokenMax = 256;

// DeleteSecret: RecoveryWindowInDays 7..30, 30 when neither it nor ForceDeleteWithoutRecovery
// is given.
inline constexpr int64_t kRecoveryWindowMinDays = 7;
inline constexpr int64_t kRecoveryWindowMaxDays = 30;
inline constexpr int64_t kRecoveryWindowDefaultDays = 30;

// ListSecrets / ListSecretVersionIds: MaxResults 1..100 (MaxResultsType). BatchGetSecretValue:
// MaxResults 1..20 (MaxResultsBatchType), SecretIdList 1..20 (SecretIdListType). Filters: at
// most 10 (FiltersListType), 1..10 values each (FilterValuesStringList), a value at most 512
// characters of [a-zA-Z0-9 :_@/+=.-!] with an optional leading '!' (FilterValueStringType).
inline constexpr int64_t kListMaxResultsMax = 100;
inline constexpr int64_t kListMaxResultsDefault = 100;
inline constexpr int64_t kBatchMaxResultsMax = 20;
inline constexpr size_t kBatchSecretIdsMax = 20;
inline constexpr size_t kFiltersMax = 10;
inline constexpr size_t kFilterValuesMax = 10;
inline constexpr size_t kFilterValueMax = 512;
inline constexpr std::string_view kFilterValuePunctuation = " :_@/+=.-!";
inline constexpr size_t kNextTokenMax = 4096;  // NextTokenType

// GetRandomPassword: PasswordLength 1..4096, 32 by default; the punctuation set
// (ExcludePunctuation: ! " # $ % & ' ( ) * + , - . / : ; < = > ? @ [ \ ] ^ _ ` { | } ~).
inline constexpr int64_t kPasswordLengthDefault = 32;
inline constexpr int64_t kPasswordLengthMax = 4096;
inline constexpr std::string_view kPasswordPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
inline constexpr size_t kExcludeCharactersMax = 4096;  // ExcludeCharactersType

// Rotation (RotationRulesType): AutomaticallyAfterDays 1..1000; Duration "[0-9]+h" of 2..3
// characters, the window at most a day; ScheduleExpression 1..256 characters, "You can rotate a
// secret as often as every four hours".
inline constexpr int64_t kRotationDaysMin = 1;
inline constexpr int64_t kRotationDaysMax = 1000;
inline constexpr int64_t kRotationHoursMin = 4;
inline constexpr int64_t kDurationHoursMax = 24;
inline constexpr size_t kScheduleExpressionMax = 256;
inline constexpr size_t kRotationLambdaArnMax = 2048;  // RotationLambdaARNType

}  // namespace nubo::secretsmanager
