// SQS's limits and defaults, each with where AWS states it: the API reference (CreateQueue,
// SetQueueAttributes, SendMessage, ReceiveMessage, ChangeMessageVisibility), botocore's model
// (sqs/2012-11-05/service-2.json) and the developer guide ("Amazon SQS quotas").
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nubo::sqs {

// The Query protocol's API version, the JSON protocol's target prefix and the IAM prefix.
inline constexpr std::string_view kVersion = "2012-11-05";
inline constexpr std::string_view kTargetPrefix = "AmazonSQS.";
inline constexpr std::string_view kActionPrefix = "sqs:";
inline constexpr std::string_view kXmlns = "http://queue.amazonaws.com/doc/2012-11-05/";

// Queue names: 1..80 characters, alphanumerics, hyphens and underscores; a FIFO queue's name
// ends with ".fifo", which counts (CreateQueue "QueueName").
inline constexpr size_t kQueueNameMax = 80;
inline constexpr std::string_view kFifoSuffix = ".fifo";

// Queue attributes (CreateQueue "Attributes"): ranges and defaults.
inline constexpr int64_t kVisibilityTimeoutMax = 43200;  // 12 hours
inline constexpr int64_t kVisibilityTimeoutDefault = 30;
inline constexpr int64_t kDelaySecondsMax = 900;  // 15 minutes
inline constexpr int64_t kRetentionMin = 60;
inline constexpr int64_t kRetentionMax = 1209600;     // 14 days
inline constexpr int64_t kRetentionDefault = 345600;  // 4 days
inline constexpr int64_t kReceiveWaitMax = 20;
// MaximumMessageSize: 1,024 bytes to 1 MiB, 1 MiB by default (raised from 256 KiB in August
// 2025: "Amazon SQS increases maximum message payload size to 1 MiB").
inline constexpr int64_t kMessageSizeMin = 1024;
inline constexpr int64_t kMessageSizeMax = 1048576;
// RedrivePolicy maxReceiveCount: 1..1000.
inline constexpr int64_t kMaxReceiveCountMax = 1000;

// ReceiveMessage: MaxNumberOfMessages 1..10 (default 1).
inline constexpr int kReceiveMax = 10;
// Batch actions: at most 10 entries, ids of up to 80 alphanumerics, hyphens and underscores.
inline constexpr size_t kBatchEntriesMax = 10;
inline constexpr size_t kBatchIdMax = 80;

// Message attributes: at most 10 per message; names up to 256 characters of alphanumerics,
// hyphen, underscore and period (not first or last, never two in a row), not starting with
// "AWS." or "Amazon."; data types up to 256 characters (SendMessage "MessageAttributes").
inline constexpr size_t kMessageAttributesMax = 10;
inline constexpr size_t kAttributeNameMax = 256;
inline constexpr size_t kDataTypeMax = 256;

// FIFO: a deduplication id is remembered for 5 minutes; group and deduplication ids are up to
// 128 characters (SendMessage "MessageDeduplicationId", "MessageGroupId").
inline constexpr std::chrono::minutes kDeduplicationInterval{5};
inline constexpr size_t kFifoIdMax = 128;

// Tags: 50 per queue (quotas), keys 1..128, values 0..256.
inline constexpr size_t kTagsMax = 50;
inline constexpr size_t kTagKeyMax = 128;
inline constexpr size_t kTagValueMax = 256;

// ListQueues: at most 1000 URLs per call; MaxResults 1..1000 pages them.
inline constexpr size_t kListQueuesMax = 1000;

// A queue's Policy attribute: up to 20 KB (quotas).
inline constexpr size_t kPolicyMax = 20480;

}  // namespace nubo::sqs
