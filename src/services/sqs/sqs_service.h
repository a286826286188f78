// SqsService: Amazon SQS on both of its wire protocols, over queues.h (the logic): the Query
// protocol (form-encoded Action=...&Version=2012-11-05, XML answers) that awscli v2.9 and
// boto3 1.26 speak, and the JSON protocol (X-Amz-Target: AmazonSQS.<Action>, JSON 1.0) that
// boto3 1.43 and the SDK v3 speak. A Query request is read into the JSON protocol's request
// shape first, so every action has one implementation; its result leaves as JSON or as the
// Query protocol's XML.
//
// Every action is authorised with auth::authorize: action "sqs:<Action>", resource the queue's
// ARN (ListQueues: the account's "arn:aws:sqs:<region>:<account>:*"), and the queue's Policy
// attribute as its resource policy.
//
// ReceiveMessage long-polls (WaitTimeSeconds, or the queue's ReceiveMessageWaitTimeSeconds):
// it waits for a send to the queue, a message becoming visible, or the wait's end.
//
// Threads: handle() runs on io threads and moves the Store work to the blocking pool; waiting
// receives wait on the io thread of their request. Thread-safe.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/authorize.h"
#include "base/clock.h"
#include "base/result.h"
#include "net/http.h"
#include "services/sqs/queues.h"
#include "storage/store.h"

namespace nubo::sqs {

struct SqsDeps {
  storage::Store* store = nullptr;
  const Clock* clock = nullptr;
  boost::asio::thread_pool* blocking = nullptr;
  std::string region;
};

class SqsService {
 public:
  // Applies the schema (blocks).
  static Result<std::unique_ptr<SqsService>> make(SqsDeps deps);
  ~SqsService();
  SqsService(const SqsService&) = delete;
  SqsService& operator=(const SqsService&) = delete;

  // Answers one SQS request (either protocol) from caller, authenticated by the front door.
  // Never throws for bad input: errors leave in the request's protocol.
  net::Task<net::Response> handle(net::Request& req, const auth::Caller& caller);

  // Ends every long poll now (they answer with what they have) and every later one at once.
  // Any thread.
  void stop();

  // Wakes the long polls waiting on a queue (after a write that is not a SendMessage of this
  // service: another service's delivery).
  void notify(const QueueRef& q);

  Queues& queues();

  // For other services (Lambda's event source mappings), without authorisation: the queue an
  // SQS ARN names (nullopt for another kind of ARN); a receive of up to max (1..10) messages
  // with every system attribute, long-polling up to wait_s; deletes; making received messages
  // visible again now. Run on io threads.
  static std::optional<QueueRef> queue_of_arn(const std::string& arn);
  net::Task<Result<ReceiveResult>> receive_for_service(QueueRef q, int max, int wait_s);
  net::Task<Status> delete_for_service(QueueRef q, std::vector<std::string> receipts);
  net::Task<Status> release_for_service(QueueRef q, std::vector<std::string> receipts);

  // Whether the queue `queue_arn` exists and its Policy lets the AWS service principal
  // `service_principal` ("s3.amazonaws.com") perform sqs:SendMessage on it, with aws:SourceArn
  // = source_arn and aws:SourceAccount = source_account (each set only when not empty): false
  // without a policy or a statement that allows it, as on AWS. QueueDoesNotExist when there is
  // no such queue. Blocks (the blocking pool).
  Result<bool> service_may_send(const std::string& queue_arn, const std::string& service_principal,
                                const std::string& source_arn, const std::string& source_account);
  // Sends `body` to the queue on behalf of a service (no authorisation: the caller checked
  // service_may_send) and wakes its long polls; Ok once the message is stored. Runs on an io
  // thread.
  // `attributes`: String message attributes (name -> value).
  net::Task<Status> send_for_service(std::string queue_arn, std::string body, std::string sender_id,
                                     std::map<std::string, std::string> attributes = {});

  struct Impl;
  explicit SqsService(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace nubo::sqs
