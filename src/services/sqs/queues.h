// Queues: SQS's logic layer (no HTTP types): queues with their attributes and tags, and their
// messages, all in the Store (one transaction per write, so an acknowledged message survives a
// kill -9), with SQS's semantics: visibility timeouts, delays, retention, receive counts and the
// redrive to a dead-letter queue after maxReceiveCount, FIFO queues (group order, a group held
// while one of its messages is in flight, 5-minute deduplication).
//
// Queues are named by account and name. Receive never waits: long polling is the caller's (it
// waits for changed() or the ReceiveResult's next_visible_ms and asks again).
//
// Threads: every method blocks on the Store (call it from the blocking pool) and is
// thread-safe; writes that change one queue's messages are serialised by the Store.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "services/sqs/messages.h"
#include "storage/store.h"

namespace nubo::sqs {

struct QueueRef {
  std::string account;
  std::string name;
};

struct QueueInfo {
  std::string account;
  std::string name;
  std::string arn;
  bool fifo = false;
  // The attributes set on the queue (CreateQueue, SetQueueAttributes), without defaults.
  std::map<std::string, std::string> attributes;
  std::map<std::string, std::string> tags;
  int64_t created_s = 0;
  int64_t modified_s = 0;

  // An attribute as SQS reports it: the set value, or SQS's default ("" when it has none).
  std::string attribute(const std::string& name) const;
  int64_t int_attribute(const std::string& name) const;
};

struct NewMessage {
  std::string body;
  MessageAttributes attributes;
  MessageAttributes system_attributes;  // AWSTraceHeader
  std::optional<int64_t> delay_seconds;
  std::string group_id;  // MessageGroupId
  std::string dedup_id;  // MessageDeduplicationId
  std::string sender_id;
};

struct SendResult {
  std::string message_id;
  std::string md5_body;
  std::string md5_attributes;         // empty without attributes
  std::string md5_system_attributes;  // empty without system attributes
  std::string sequence_number;        // FIFO only
};

struct ReceivedMessage {
  std::string message_id;
  std::string receipt_handle;
  std::string body;
  std::string md5_body;
  std::string md5_attributes;
  MessageAttributes attributes;
  MessageAttributes system_attributes;
  int64_t sent_ms = 0;
  int64_t first_receive_ms = 0;
  int64_t receive_count = 0;
  std::string sender_id;
  std::string group_id;
  std::string dedup_id;
  std::string sequence_number;
};

struct ReceiveResult {
  std::vector<ReceivedMessage> messages;
  // When a message not visible now becomes visible (for a long poll's wait); none when none.
  std::optional<int64_t> next_visible_ms;
};

struct QueueCounts {
  int64_t visible = 0;
  int64_t in_flight = 0;
  int64_t delayed = 0;
};

// Where a message ended up when it was moved (redrive), for the caller to wake long polls.
using MovedTo = std::function<void(const QueueRef&)>;

class Queues {
 public:
  struct Deps {
    storage::Store* store = nullptr;
    const Clock* clock = nullptr;
    std::string region;
  };
  // Applies the schema. Blocks.
  static Result<std::unique_ptr<Queues>> open(Deps deps);

  // The queue's ARN.
  std::string arn(const QueueRef& q) const;

  // CreateQueue: a new queue, or the existing one when its attributes are the same as those
  // asked for (else QueueAlreadyExists). Validates the name and every attribute.
  Result<QueueInfo> create(const QueueRef& q, const std::map<std::string, std::string>& attributes,
                           const std::map<std::string, std::string>& tags);
  // QueueDoesNotExist when there is none.
  Result<QueueInfo> get(const QueueRef& q);
  // The account's queue names beginning with prefix, in name order, from the one after
  // `after` (empty: the first), at most `max`.
  Result<std::vector<std::string>> list(const std::string& account, const std::string& prefix,
                                        const std::string& after, size_t max);
  Status remove(const QueueRef& q);  // the queue and its messages
  Status set_attributes(const QueueRef& q, const std::map<std::string, std::string>& attributes);
  Status tag(const QueueRef& q, const std::map<std::string, std::string>& tags);
  Status untag(const QueueRef& q, const std::vector<std::string>& keys);
  Status purge(const QueueRef& q);
  Result<QueueCounts> counts(const QueueRef& q);
  // The queues whose RedrivePolicy names q as their dead-letter queue.
  Result<std::vector<std::string>> dead_letter_sources(const QueueRef& q);

  // SendMessage (validated against the queue: size, delay, FIFO ids). The message is stored
  // before this returns.
  Result<SendResult> send(const QueueRef& q, NewMessage m);

  // ReceiveMessage without waiting: up to max messages visible now, made invisible for the
  // visibility timeout (the queue's, or visibility_timeout). A message past its queue's
  // maxReceiveCount moves to the dead-letter queue instead (moved_to is told).
  Result<ReceiveResult> receive(const QueueRef& q, int max,
                                std::optional<int64_t> visibility_timeout,
                                const MovedTo& moved_to = {});

  // DeleteMessage: ReceiptHandleIsInvalid for a handle that is not this queue's; a handle of a
  // message deleted already, or received again since, succeeds without deleting anything.
  Status delete_message(const QueueRef& q, const std::string& receipt_handle);
  // ChangeMessageVisibility: MessageNotInflight when the message is not in flight with this
  // handle.
  Status change_visibility(const QueueRef& q, const std::string& receipt_handle,
                           int64_t visibility_timeout);

  // Checks one attribute's value as CreateQueue and SetQueueAttributes do (the wire layer
  // uses it for names it does not know).
  static Status validate_attribute(const std::string& name, const std::string& value, bool fifo);

  explicit Queues(Deps deps);

 private:
  Deps deps_;
};

}  // namespace nubo::sqs
