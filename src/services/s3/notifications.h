// S3 bucket notification configurations: parsing PutBucketNotificationConfiguration bodies,
// answering GetBucketNotificationConfiguration, storing them as JSON, matching events against
// them and writing the event message S3 delivers. Pure logic: no HTTP, no Store, no clock.
//
// Threads: every function is a pure function of its arguments (parse_notification_config draws
// random Ids from base/ids.h, which is thread-safe); call them from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace nubo::s3 {

// The event types a notification configuration may name [botocore s3 2006-03-01 service-2.json,
// shape "Event"; S3 User Guide, "Event notification types and destinations"]. s3:TestEvent is
// what S3 sends on its own when a configuration is put; it is not valid in a configuration.
inline constexpr std::array<std::string_view, 27> kNotificationEvents = {
    "s3:ReducedRedundancyLostObject",
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectAcl:Put",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
};

// The record versions of the event message for object created/removed events [S3 User Guide,
// "Event message structure", version 2.1 of the structure].
inline constexpr std::string_view kEventVersion = "2.1";
inline constexpr std::string_view kS3SchemaVersion = "1.0";
// Hex digits of make_sequencer's answer (S3's own sequencers are 16 or more hex digits and are
// compared as hex numbers [S3 User Guide, "Event message structure", sequencer]).
inline constexpr size_t kSequencerDigits = 16;

enum class TargetKind { kLambda, kQueue, kTopic };

struct FilterRule {
  std::string name;  // "prefix" or "suffix", as sent (compared without case)
  std::string value;
};

struct NotificationTarget {
  // The configuration's Id; parse_notification_config generates one when the input has none.
  std::string id;
  TargetKind kind = TargetKind::kLambda;
  std::string arn;                  // the Lambda function, SQS queue or SNS topic
  std::vector<std::string> events;  // "s3:ObjectCreated:*", "s3:ObjectRemoved:Delete", ...
  std::vector<FilterRule> rules;    // Filter/S3Key/FilterRule, at most one prefix and one suffix
};

struct NotificationConfig {
  std::vector<NotificationTarget> targets;  // in the order of the document
  bool event_bridge = false;                // <EventBridgeConfiguration/> was present
};

// Parses a PutBucketNotificationConfiguration body: <NotificationConfiguration> holding any number
// of <TopicConfiguration> (ARN in <Topic>), <QueueConfiguration> (<Queue>),
// <CloudFunctionConfiguration> or <LambdaFunctionConfiguration> (<CloudFunction> or <Function>),
// and at most one <EventBridgeConfiguration/>. An empty <NotificationConfiguration/> is valid and
// clears the bucket's configuration. A configuration without an Id gets a generated one (base64 of
// a UUID, the form S3 generates).
// Errors, as S3 answers them:
//   MalformedXML (400): not well-formed, the root is not NotificationConfiguration, an element
//     S3's schema does not have at the top level, or a configuration without an Event;
//   InvalidArgument (400): an ARN that is missing or does not start with "arn:"; an event S3 does
//     not support for notifications; a filter rule name other than prefix/suffix; two prefix (or
//     two suffix) rules in one filter; two configurations with the same Id; two configurations
//     that share an event type (a wildcard covers its members) and whose filters overlap (one
//     prefix is a prefix of the other and one suffix is a suffix of the other, an absent rule
//     being the empty string) [S3 User Guide, "Configuring event notifications using object key
//     name filtering"].
Result<NotificationConfig> parse_notification_config(std::string_view xml);

// The GetBucketNotificationConfiguration body: <NotificationConfiguration xmlns=kXmlns> with a
// TopicConfiguration / QueueConfiguration / CloudFunctionConfiguration per target, in `c`'s order
// (each with Id, Topic / Queue / CloudFunction, its Events and Filter/S3Key/FilterRule), then
// <EventBridgeConfiguration/> when enabled. Element names are those of the botocore output shape
// (LambdaFunctionConfigurations is "CloudFunctionConfiguration", LambdaFunctionArn
// "CloudFunction"). Filter rule names come out capitalised, "Prefix" / "Suffix", as S3 answers
// whatever was sent [aws/aws-sdk issue 389]. No XML declaration: the caller adds it.
std::string notification_config_xml(const NotificationConfig& c);

// Storage round trip: a JSON text the service keeps in a table column. from_json answers
// InternalError (500) for a text notification_config_json did not write.
std::string notification_config_json(const NotificationConfig& c);
Result<NotificationConfig> notification_config_from_json(std::string_view text);

// Whether an event on `key` is one `t` subscribes to: event_name (e.g. "s3:ObjectCreated:Put";
// the "s3:" may be left out) equals one of t's events or falls under one of its wildcards
// ("s3:ObjectCreated:*" covers every "s3:ObjectCreated:..."), and the key starts with the prefix
// rule's value and ends with the suffix rule's value. `key` is the raw (decoded) key; the rules
// are tried against it and, since S3 asks for filter values in URL-encoded form (a space as '+'
// [S3 User Guide, "Configuring event notifications using object key name filtering"]), against
// the key encoded as in the event message; either form satisfying both rules matches.
bool matches(const NotificationTarget& t, std::string_view event_name, std::string_view key);

// What happened, for one event record.
struct EventObject {
  // "ObjectCreated:Put", the record's eventName; a leading "s3:" is accepted and dropped.
  std::string event_name;
  std::string bucket;
  std::string key;  // raw (decoded); the record carries it URL-encoded
  int64_t size = 0;
  std::string etag;        // lower-case hex, no quotes
  std::string version_id;  // empty when the bucket is not versioned (then left out)
  std::string sequencer;   // see make_sequencer
  int64_t time_ms = 0;     // when S3 finished the request, ms since the epoch
  std::string region;
  std::string account_id;    // the bucket owner (s3.bucket.ownerIdentity.principalId)
  std::string principal_id;  // who caused the event (userIdentity.principalId)
  std::string source_ip;
  std::string request_id;  // x-amz-request-id, and x-amz-id-2 (nubo's host id is the request id)
  std::string configuration_id;  // the matching target's id
};

// The S3 event message {"Records":[<one record>]} as S3 delivers it to Lambda, SQS and SNS
// [S3 User Guide, "Event message structure"]: eventVersion "2.1", eventSource "aws:s3", awsRegion,
// eventTime ("1970-01-01T00:00:00.000Z"), eventName, userIdentity, requestParameters,
// responseElements, and s3 {s3SchemaVersion, configurationId, bucket {name, ownerIdentity, arn},
// object {key, size, eTag, versionId, sequencer}}. The key is URL-encoded as S3 encodes it (a
// space as '+', '/' kept, every other byte outside A-Z a-z 0-9 - _ . ~ as %XX: "red flower.jpg"
// is "red+flower.jpg"). versionId only when set; ObjectRemoved and LifecycleExpiration records
// carry no size or eTag.
std::string event_message_json(const EventObject& e);

// The sequencer of a node's n-th event: n as kSequencerDigits upper-case hex digits, zero-padded,
// so that later events compare greater both as strings and as hex numbers.
// REQUIRES: the caller keeps n increasing across the events of a key (a counter of the node).
std::string make_sequencer(uint64_t n);

}  // namespace nubo::s3
