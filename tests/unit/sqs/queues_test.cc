#include "services/sqs/queues.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/crypto.h"
#include "base/ids.h"
#include "services/sqs/limits.h"
#include "storage/store.h"

namespace nubo::sqs {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using Attrs = std::map<std::string, std::string>;

constexpr const char* kAccount = "000000000000";
constexpr const char* kOtherAccount = "111111111111";
constexpr const char* kRegion = "us-east-1";
// 2023-11-14T22:13:20Z.
const SystemTime kStart = SystemTime(seconds(1700000000));
const int64_t kStartMs = 1700000000000;

template <typename T>
std::string code_of(const Result<T>& r) {
  return r.ok() ? "ok" : r.error().code;
}

std::vector<std::string> bodies(const std::vector<ReceivedMessage>& ms) {
  std::vector<std::string> out;
  for (const auto& m : ms) out.push_back(m.body);
  return out;
}

class QueuesTest : public ::testing::Test {
 protected:
  QueuesTest() {
    dir_ = (std::filesystem::temp_directory_path() / ("nubo-sqs-test-" + random_hex(6))).string();
    std::filesystem::create_directories(dir_);
  }
  void SetUp() override { open(); }
  ~QueuesTest() override {
    queues_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // (Re)opens the store and Queues over the same database file, as a restart does.
  void open() {
    queues_.reset();
    store_.reset();
    auto st = storage::open_sqlite_store({.path = dir_ + "/nubo.db"});
    ASSERT_TRUE(st.ok()) << st.error().message;
    store_ = std::move(st).value();
    auto q = Queues::open({.store = store_.get(), .clock = &clock_, .region = kRegion});
    ASSERT_TRUE(q.ok()) << q.error().message;
    queues_ = std::move(q).value();
  }

  static QueueRef ref(const std::string& name) { return QueueRef{kAccount, name}; }

  QueueRef make(const std::string& name, const Attrs& attributes = {}) {
    auto r = queues_->create(ref(name), attributes, {});
    EXPECT_TRUE(r.ok()) << name << ": " << r.error().code << ": " << r.error().message;
    return ref(name);
  }
  QueueRef make_fifo(const std::string& name, Attrs attributes = {}) {
    attributes["FifoQueue"] = "true";
    return make(name, attributes);
  }

  SendResult send(const QueueRef& q, NewMessage m) {
    auto r = queues_->send(q, std::move(m));
    EXPECT_TRUE(r.ok()) << r.error().code << ": " << r.error().message;
    return r.ok() ? *r : SendResult{};
  }
  SendResult send(const QueueRef& q, const std::string& body) {
    NewMessage m;
    m.body = body;
    return send(q, std::move(m));
  }
  SendResult send_fifo(const QueueRef& q, const std::string& body, const std::string& group,
                       const std::string& dedup = "") {
    NewMessage m;
    m.body = body;
    m.group_id = group;
    m.dedup_id = dedup.empty() ? body : dedup;
    return send(q, std::move(m));
  }
  // The send's error code ("ok" when it succeeded).
  std::string send_code(const QueueRef& q, NewMessage m) {
    return code_of(queues_->send(q, std::move(m)));
  }

  ReceiveResult receive_all(const QueueRef& q, int max = kReceiveMax,
                            std::optional<int64_t> vt = std::nullopt,
                            const MovedTo& moved_to = {}) {
    auto r = queues_->receive(q, max, vt, moved_to);
    EXPECT_TRUE(r.ok()) << r.error().code << ": " << r.error().message;
    return r.ok() ? *r : ReceiveResult{};
  }
  std::vector<ReceivedMessage> receive(const QueueRef& q, int max = kReceiveMax,
                                       std::optional<int64_t> vt = std::nullopt) {
    return receive_all(q, max, vt).messages;
  }
  // Exactly one message, or a test failure and an empty one.
  ReceivedMessage receive_one(const QueueRef& q, std::optional<int64_t> vt = std::nullopt) {
    auto ms = receive(q, 1, vt);
    EXPECT_EQ(ms.size(), 1u);
    return ms.empty() ? ReceivedMessage{} : ms[0];
  }

  QueueCounts counts(const QueueRef& q) {
    auto c = queues_->counts(q);
    EXPECT_TRUE(c.ok()) << c.error().code;
    return c.ok() ? *c : QueueCounts{-1, -1, -1};
  }
  // "visible/in_flight/delayed", for readable failures.
  std::string counts_text(const QueueRef& q) {
    QueueCounts c = counts(q);
    return std::to_string(c.visible) + "/" + std::to_string(c.in_flight) + "/" +
           std::to_string(c.delayed);
  }

  std::string dir_;
  FakeClock clock_{kStart};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Queues> queues_;
};

// ---- create ----

TEST_F(QueuesTest, CreateRefusesBadQueueNames) {
  for (const std::string& name :
       {std::string(kQueueNameMax + 1, 'q'), std::string(""), std::string("a b"),
        std::string("a.b"), std::string("a/b"), std::string("a:b"),
        std::string("\xC3\xA9t\xC3\xA9"), std::string(".fifo")}) {
    auto r =
        queues_->create(ref(name), name == ".fifo" ? Attrs{{"FifoQueue", "true"}} : Attrs{}, {});
    ASSERT_FALSE(r.ok()) << "'" << name << "'";
    EXPECT_EQ(r.error().code, "InvalidParameterValue") << name;
    EXPECT_EQ(r.error().status, 400);
  }
  EXPECT_EQ(code_of(queues_->create(ref(std::string(kQueueNameMax, 'q')), {}, {})), "ok");
  EXPECT_EQ(code_of(queues_->create(ref("Mixed-Case_09"), {}, {})), "ok");
  // The ".fifo" suffix counts against the 80 characters.
  EXPECT_EQ(
      code_of(queues_->create(ref(std::string(75, 'f') + ".fifo"), {{"FifoQueue", "true"}}, {})),
      "ok");
  EXPECT_EQ(
      code_of(queues_->create(ref(std::string(76, 'f') + ".fifo"), {{"FifoQueue", "true"}}, {})),
      "InvalidParameterValue");
}

TEST_F(QueuesTest, AFifoNameNeedsFifoQueueTrueAndFifoQueueTrueNeedsAFifoName) {
  EXPECT_EQ(code_of(queues_->create(ref("x.fifo"), {}, {})), "InvalidParameterValue");
  EXPECT_EQ(code_of(queues_->create(ref("x.fifo"), {{"FifoQueue", "false"}}, {})),
            "InvalidParameterValue");
  EXPECT_EQ(code_of(queues_->create(ref("x"), {{"FifoQueue", "true"}}, {})),
            "InvalidParameterValue");
  EXPECT_EQ(code_of(queues_->get(ref("x.fifo"))), "AWS.SimpleQueueService.NonExistentQueue");
  EXPECT_EQ(code_of(queues_->get(ref("x"))), "AWS.SimpleQueueService.NonExistentQueue");

  auto f = queues_->create(ref("x.fifo"), {{"FifoQueue", "true"}}, {});
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_TRUE(f->fifo);
  // As on AWS, FifoQueue is not an attribute of a standard queue, not even as "false".
  auto s = queues_->create(ref("x"), {{"FifoQueue", "false"}}, {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "InvalidAttributeName");
  EXPECT_EQ(code_of(queues_->create(ref("x"), {}, {})), "ok");
}

TEST_F(QueuesTest, CreatingTwiceWithTheSameAttributesReturnsTheSameQueue) {
  auto first = queues_->create(ref("q"), {{"VisibilityTimeout", "60"}}, {{"team", "core"}});
  ASSERT_TRUE(first.ok()) << first.error().message;
  clock_.advance(seconds(100));
  auto again = queues_->create(ref("q"), {{"VisibilityTimeout", "60"}}, {});
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->arn, first->arn);
  EXPECT_EQ(again->created_s, first->created_s);
  EXPECT_EQ(again->attribute("VisibilityTimeout"), "60");
  EXPECT_EQ(again->tags, (Attrs{{"team", "core"}}));
  // Asking for a default explicitly, or for fewer attributes, is asking for the same queue.
  EXPECT_EQ(code_of(queues_->create(ref("q"), {{"DelaySeconds", "0"}}, {})), "ok");
  EXPECT_EQ(code_of(queues_->create(ref("q"), {}, {})), "ok");
  auto names = queues_->list(kAccount, "", "", 100);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"q"});
}

TEST_F(QueuesTest, CreatingAgainWithADifferentVisibilityTimeoutIsQueueAlreadyExists) {
  make("q", {{"VisibilityTimeout", "60"}});
  auto r = queues_->create(ref("q"), {{"VisibilityTimeout", "61"}}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "QueueAlreadyExists");
  EXPECT_EQ(r.error().status, 400);
  // A default value differs from a set one as well.
  EXPECT_EQ(code_of(queues_->create(ref("q"), {{"VisibilityTimeout", "30"}}, {})),
            "QueueAlreadyExists");
  auto info = queues_->get(ref("q"));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->attribute("VisibilityTimeout"), "60");
}

TEST_F(QueuesTest, CreateChecksAttributeRanges) {
  struct Case {
    const char* name;
    const char* value;
    const char* code;
  };
  for (Case c : {
           Case{"VisibilityTimeout", "43201", "InvalidAttributeValue"},
           Case{"VisibilityTimeout", "-1", "InvalidAttributeValue"},
           Case{"VisibilityTimeout", "ten", "InvalidAttributeValue"},
           Case{"MaximumMessageSize", "1023", "InvalidAttributeValue"},
           Case{"MaximumMessageSize", "1048577", "InvalidAttributeValue"},
           Case{"DelaySeconds", "901", "InvalidAttributeValue"},
           Case{"MessageRetentionPeriod", "59", "InvalidAttributeValue"},
           Case{"MessageRetentionPeriod", "1209601", "InvalidAttributeValue"},
           Case{"ReceiveMessageWaitTimeSeconds", "21", "InvalidAttributeValue"},
           Case{"SqsManagedSseEnabled", "yes", "InvalidAttributeValue"},
           Case{"Policy", "not json", "InvalidAttributeValue"},
           Case{"NoSuchAttribute", "1", "InvalidAttributeName"},
           Case{"ContentBasedDeduplication", "true", "InvalidAttributeName"},  // FIFO only
       }) {
    auto r = queues_->create(ref("q"), {{c.name, c.value}}, {});
    ASSERT_FALSE(r.ok()) << c.name << "=" << c.value;
    EXPECT_EQ(r.error().code, c.code) << c.name << "=" << c.value;
  }
  EXPECT_EQ(code_of(queues_->get(ref("q"))), "AWS.SimpleQueueService.NonExistentQueue");
  EXPECT_EQ(code_of(queues_->create(ref("q"),
                                    {{"VisibilityTimeout", "43200"},
                                     {"MaximumMessageSize", "1024"},
                                     {"DelaySeconds", "900"},
                                     {"MessageRetentionPeriod", "60"},
                                     {"ReceiveMessageWaitTimeSeconds", "20"}},
                                    {})),
            "ok");
}

TEST_F(QueuesTest, ARedrivePolicyNeedsATargetArnAndAMaxReceiveCount) {
  make("dlq");
  const std::string dlq_arn = queues_->arn(ref("dlq"));
  for (const std::string& policy : {
           "{\"deadLetterTargetArn\":\"" + dlq_arn + "\"}",
           std::string("{\"maxReceiveCount\":3}"),
           "{\"deadLetterTargetArn\":\"" + dlq_arn + "\",\"maxReceiveCount\":0}",
           "{\"deadLetterTargetArn\":\"" + dlq_arn + "\",\"maxReceiveCount\":1001}",
           std::string("{\"deadLetterTargetArn\":\"not-an-arn\",\"maxReceiveCount\":3}"),
           std::string("not json"),
       }) {
    auto r = queues_->create(ref("src"), {{"RedrivePolicy", policy}}, {});
    ASSERT_FALSE(r.ok()) << policy;
    EXPECT_EQ(r.error().code, "InvalidParameterValue") << policy;
  }
  // maxReceiveCount as a number or as a string, as the SDKs send it.
  EXPECT_EQ(code_of(queues_->create(ref("src1"),
                                    {{"RedrivePolicy", "{\"deadLetterTargetArn\":\"" + dlq_arn +
                                                           "\",\"maxReceiveCount\":1000}"}},
                                    {})),
            "ok");
  EXPECT_EQ(code_of(queues_->create(ref("src2"),
                                    {{"RedrivePolicy", "{\"deadLetterTargetArn\":\"" + dlq_arn +
                                                           "\",\"maxReceiveCount\":\"5\"}"}},
                                    {})),
            "ok");
}

TEST_F(QueuesTest, ValidateAttributeChecksFifoOnlyAttributesAgainstTheQueueType) {
  EXPECT_TRUE(Queues::validate_attribute("ContentBasedDeduplication", "true", true).ok());
  EXPECT_EQ(code_of(Queues::validate_attribute("ContentBasedDeduplication", "true", false)),
            "InvalidAttributeName");
  EXPECT_EQ(code_of(Queues::validate_attribute("DeduplicationScope", "everything", true)),
            "InvalidAttributeValue");
  EXPECT_TRUE(Queues::validate_attribute("DeduplicationScope", "messageGroup", true).ok());
  EXPECT_EQ(code_of(Queues::validate_attribute("FifoQueue", "false", true)),
            "InvalidAttributeValue");
  EXPECT_EQ(code_of(Queues::validate_attribute("RedriveAllowPolicy",
                                               "{\"redrivePermission\":\"some\"}", false)),
            "InvalidAttributeValue");
}

// ---- attributes ----

TEST_F(QueuesTest, AttributesReportSqsDefaultsOnAStandardQueue) {
  auto info = queues_->create(ref("q"), {}, {});
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->arn, "arn:aws:sqs:us-east-1:000000000000:q");
  EXPECT_FALSE(info->fifo);
  EXPECT_TRUE(info->attributes.empty());
  EXPECT_EQ(info->attribute("VisibilityTimeout"), "30");
  EXPECT_EQ(info->int_attribute("VisibilityTimeout"), kVisibilityTimeoutDefault);
  EXPECT_EQ(info->attribute("MaximumMessageSize"), "1048576");
  EXPECT_EQ(info->attribute("MessageRetentionPeriod"), "345600");
  EXPECT_EQ(info->attribute("DelaySeconds"), "0");
  EXPECT_EQ(info->attribute("ReceiveMessageWaitTimeSeconds"), "0");
  EXPECT_EQ(info->attribute("SqsManagedSseEnabled"), "true");
  EXPECT_EQ(info->attribute("Policy"), "");
  EXPECT_EQ(info->attribute("RedrivePolicy"), "");
  // FIFO-only attributes have no value on a standard queue.
  EXPECT_EQ(info->attribute("FifoQueue"), "");
  EXPECT_EQ(info->attribute("ContentBasedDeduplication"), "");
  EXPECT_EQ(info->attribute("DeduplicationScope"), "");
  EXPECT_EQ(info->attribute("FifoThroughputLimit"), "");
  EXPECT_EQ(info->attribute("NoSuchAttribute"), "");
  EXPECT_EQ(info->created_s, 1700000000);
}

TEST_F(QueuesTest, AttributesReportFifoDefaultsAndSetValues) {
  auto info =
      queues_->create(ref("q.fifo"), {{"FifoQueue", "true"}, {"VisibilityTimeout", "45"}}, {});
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_TRUE(info->fifo);
  EXPECT_EQ(info->attribute("FifoQueue"), "true");
  EXPECT_EQ(info->attribute("ContentBasedDeduplication"), "false");
  EXPECT_EQ(info->attribute("DeduplicationScope"), "queue");
  EXPECT_EQ(info->attribute("FifoThroughputLimit"), "perQueue");
  EXPECT_EQ(info->attribute("VisibilityTimeout"), "45");
  EXPECT_EQ(info->int_attribute("VisibilityTimeout"), 45);
  // get() reads back what create() stored.
  auto got = queues_->get(ref("q.fifo"));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->attributes, (Attrs{{"VisibilityTimeout", "45"}}));
  EXPECT_EQ(got->attribute("FifoQueue"), "true");
}

TEST_F(QueuesTest, SetAttributesChangesLaterReceivesAndEmptyPoliciesAreRemoved) {
  QueueRef q = make("q", {{"Policy", "{\"Version\":\"2012-10-17\"}"}});
  ASSERT_TRUE(queues_->set_attributes(q, {{"VisibilityTimeout", "5"}, {"Policy", ""}}).ok());
  auto info = queues_->get(q);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->attributes, (Attrs{{"VisibilityTimeout", "5"}}));
  EXPECT_EQ(code_of(queues_->set_attributes(q, {{"VisibilityTimeout", "43201"}})),
            "InvalidAttributeValue");
  EXPECT_EQ(code_of(queues_->set_attributes(ref("nope"), {{"VisibilityTimeout", "1"}})),
            "AWS.SimpleQueueService.NonExistentQueue");

  send(q, "m");
  receive_one(q);
  clock_.advance(seconds(5));
  EXPECT_EQ(receive(q).size(), 1u) << "the new 5 s visibility timeout did not apply";
}

TEST_F(QueuesTest, TagAndUntagChangeTheQueuesTags) {
  QueueRef q = make("q");
  ASSERT_TRUE(queues_->tag(q, {{"a", "1"}, {"b", "2"}}).ok());
  ASSERT_TRUE(queues_->tag(q, {{"a", "3"}}).ok());
  ASSERT_TRUE(queues_->untag(q, {"b", "missing"}).ok());
  auto info = queues_->get(q);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->tags, (Attrs{{"a", "3"}}));
  Attrs many;
  for (size_t i = 0; i < kTagsMax; ++i) many["k" + std::to_string(i)] = "v";
  EXPECT_EQ(code_of(queues_->tag(q, many)), "InvalidParameterValue");  // 51 with "a"
}

// ---- send, receive, delete ----

TEST_F(QueuesTest, AReceivedMessageIsInvisibleUntilItsVisibilityTimeoutEnds) {
  QueueRef q = make("q");
  SendResult sent = send(q, "hello");
  EXPECT_EQ(sent.message_id.size(), 36u) << sent.message_id;
  EXPECT_EQ(sent.md5_body, "5d41402abc4b2a76b9719d911017c592");
  EXPECT_EQ(sent.md5_attributes, "");
  EXPECT_EQ(sent.sequence_number, "");

  ReceivedMessage first = receive_one(q);
  EXPECT_EQ(first.message_id, sent.message_id);
  EXPECT_EQ(first.body, "hello");
  EXPECT_EQ(first.md5_body, sent.md5_body);
  EXPECT_EQ(first.receive_count, 1);
  EXPECT_EQ(first.sent_ms, kStartMs);
  EXPECT_EQ(first.first_receive_ms, kStartMs);
  EXPECT_FALSE(first.receipt_handle.empty());

  ReceiveResult during = receive_all(q);
  EXPECT_TRUE(during.messages.empty());
  EXPECT_EQ(during.next_visible_ms, kStartMs + 30000);
  clock_.advance(seconds(29));
  EXPECT_TRUE(receive(q).empty()) << "visible before its 30 s visibility timeout ended";

  clock_.advance(seconds(1));
  ReceivedMessage second = receive_one(q);
  EXPECT_EQ(second.message_id, sent.message_id);
  EXPECT_EQ(second.body, "hello");
  EXPECT_EQ(second.receive_count, 2);
  EXPECT_NE(second.receipt_handle, first.receipt_handle);
  EXPECT_EQ(second.first_receive_ms, kStartMs);
}

TEST_F(QueuesTest, ReceiveUsesTheCallersVisibilityTimeoutOverTheQueues) {
  QueueRef q = make("q", {{"VisibilityTimeout", "600"}});
  send(q, "m");
  receive_one(q, /*vt=*/5);
  clock_.advance(seconds(4));
  EXPECT_TRUE(receive(q).empty());
  clock_.advance(seconds(1));
  ReceivedMessage again = receive_one(q, /*vt=*/0);
  EXPECT_EQ(again.receive_count, 2);
  // A visibility timeout of 0 leaves it visible at once.
  EXPECT_EQ(receive_one(q).receive_count, 3);
}

TEST_F(QueuesTest, AnEmptyQueueReceivesNothingAndHasNoNextVisibleTime) {
  QueueRef q = make("q");
  ReceiveResult r = receive_all(q);
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(r.next_visible_ms, std::nullopt);
  EXPECT_EQ(code_of(queues_->receive(ref("nope"), 1, std::nullopt)),
            "AWS.SimpleQueueService.NonExistentQueue");
}

TEST_F(QueuesTest, ReceiveReturnsAtMostMaxMessages) {
  QueueRef q = make("q");
  for (int i = 0; i < 15; ++i) send(q, "m" + std::to_string(i));
  EXPECT_EQ(receive(q, 3).size(), 3u);
  EXPECT_EQ(receive(q, 10).size(), 10u);
  EXPECT_EQ(receive(q, 10).size(), 2u);
  EXPECT_EQ(counts_text(q), "0/15/0");
}

TEST_F(QueuesTest, MessageAttributesAndTheirDigestsRoundTrip) {
  QueueRef q = make("q");
  NewMessage m;
  m.body = "b";
  m.attributes = {{"timestamp", {"Number", "1493147359900"}},
                  {"blob", {"Binary", std::string("\x00\xFF", 2)}}};
  m.system_attributes = {{"AWSTraceHeader", {"String", "Root=1-abc"}}};
  m.sender_id = "AIDAEXAMPLE";
  SendResult sent = send(q, m);
  EXPECT_EQ(sent.md5_attributes, md5_of_attributes(m.attributes));
  EXPECT_EQ(sent.md5_system_attributes, md5_of_attributes(m.system_attributes));
  ReceivedMessage got = receive_one(q);
  ASSERT_EQ(got.attributes.size(), 2u);
  EXPECT_EQ(got.attributes["blob"].data_type, "Binary");
  EXPECT_EQ(got.attributes["blob"].value, std::string("\x00\xFF", 2));
  EXPECT_EQ(got.attributes["timestamp"].value, "1493147359900");
  EXPECT_EQ(got.system_attributes["AWSTraceHeader"].value, "Root=1-abc");
  EXPECT_EQ(got.md5_attributes, sent.md5_attributes);
  EXPECT_EQ(got.sender_id, "AIDAEXAMPLE");
}

TEST_F(QueuesTest, DeletingWithTheCurrentHandleDeletesTheMessage) {
  QueueRef q = make("q");
  send(q, "m");
  ReceivedMessage r = receive_one(q);
  ASSERT_TRUE(queues_->delete_message(q, r.receipt_handle).ok());
  EXPECT_EQ(counts_text(q), "0/0/0");
  clock_.advance(seconds(31));
  EXPECT_TRUE(receive(q).empty());
  // Deleting again succeeds and does nothing.
  EXPECT_TRUE(queues_->delete_message(q, r.receipt_handle).ok());
}

TEST_F(QueuesTest, DeletingWithAStaleHandleSucceedsButDeletesNothing) {
  QueueRef q = make("q");
  send(q, "m");
  ReceivedMessage first = receive_one(q);
  clock_.advance(seconds(31));
  ReceivedMessage second = receive_one(q);
  ASSERT_NE(first.receipt_handle, second.receipt_handle);

  ASSERT_TRUE(queues_->delete_message(q, first.receipt_handle).ok());
  EXPECT_EQ(counts_text(q), "0/1/0") << "the stale handle deleted the message";
  clock_.advance(seconds(31));
  ReceivedMessage third = receive_one(q);
  EXPECT_EQ(third.receive_count, 3);
  // The second handle is stale now too; the third one deletes.
  ASSERT_TRUE(queues_->delete_message(q, second.receipt_handle).ok());
  EXPECT_EQ(counts_text(q), "0/1/0");
  ASSERT_TRUE(queues_->delete_message(q, third.receipt_handle).ok());
  EXPECT_EQ(counts_text(q), "0/0/0");
}

TEST_F(QueuesTest, AGarbageHandleOrAnotherQueuesHandleIsReceiptHandleIsInvalid) {
  QueueRef q1 = make("q1");
  QueueRef q2 = make("q2");
  send(q2, "m");
  ReceivedMessage r = receive_one(q2);
  for (const std::string& bad :
       {std::string("garbage"), std::string(""), base64_encode("no tabs here"),
        base64_encode("0/q1\tx\tsecret"), r.receipt_handle}) {
    Status d = queues_->delete_message(q1, bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.error().code, "ReceiptHandleIsInvalid") << bad;
    EXPECT_EQ(d.error().status, 400);
    Status c = queues_->change_visibility(q1, bad, 10);
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.error().code, "ReceiptHandleIsInvalid") << bad;
  }
  // Another account's queue of the same name is another queue.
  auto other = queues_->create(QueueRef{kOtherAccount, "q2"}, {}, {});
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(code_of(queues_->delete_message(QueueRef{kOtherAccount, "q2"}, r.receipt_handle)),
            "ReceiptHandleIsInvalid");
  EXPECT_EQ(counts_text(q2), "0/1/0") << "q2's message was touched";
}

TEST_F(QueuesTest, DeletingFromAQueueThatIsGoneIsNonExistentQueue) {
  QueueRef q = make("q");
  send(q, "m");
  ReceivedMessage r = receive_one(q);
  ASSERT_TRUE(queues_->remove(q).ok());
  EXPECT_EQ(code_of(queues_->delete_message(q, r.receipt_handle)),
            "AWS.SimpleQueueService.NonExistentQueue");
}

// ---- delays ----

TEST_F(QueuesTest, AQueuesDelayHoldsMessagesBackUntilItEnds) {
  QueueRef q = make("q", {{"DelaySeconds", "10"}});
  send(q, "m");
  EXPECT_EQ(counts_text(q), "0/0/1");
  ReceiveResult r = receive_all(q);
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(r.next_visible_ms, kStartMs + 10000);
  clock_.advance(seconds(9));
  EXPECT_TRUE(receive(q).empty());
  EXPECT_EQ(counts_text(q), "0/0/1");
  clock_.advance(seconds(1));
  EXPECT_EQ(counts_text(q), "1/0/0");
  EXPECT_EQ(bodies(receive(q)), std::vector<std::string>{"m"});
  EXPECT_EQ(counts_text(q), "0/1/0");
}

TEST_F(QueuesTest, AMessagesDelayOverridesTheQueues) {
  QueueRef q = make("q", {{"DelaySeconds", "10"}});
  NewMessage now;
  now.body = "now";
  now.delay_seconds = 0;
  send(q, now);
  NewMessage later;
  later.body = "later";
  later.delay_seconds = 20;
  send(q, later);
  EXPECT_EQ(bodies(receive(q)), std::vector<std::string>{"now"});
  clock_.advance(seconds(19));
  EXPECT_TRUE(receive(q).empty());
  clock_.advance(seconds(1));
  EXPECT_EQ(bodies(receive(q)), std::vector<std::string>{"later"});
}

TEST_F(QueuesTest, AMessageDelayOutOfRangeIsInvalidParameterValue) {
  QueueRef q = make("q");
  for (int64_t d : {int64_t{-1}, kDelaySecondsMax + 1}) {
    NewMessage m;
    m.body = "m";
    m.delay_seconds = d;
    EXPECT_EQ(send_code(q, m), "InvalidParameterValue") << d;
  }
  NewMessage m;
  m.body = "m";
  m.delay_seconds = kDelaySecondsMax;
  EXPECT_EQ(send_code(q, m), "ok");
}

TEST_F(QueuesTest, CountsReportDelayedVisibleAndInFlightMessages) {
  QueueRef q = make("q");
  EXPECT_EQ(counts_text(q), "0/0/0");
  NewMessage delayed;
  delayed.body = "delayed";
  delayed.delay_seconds = 60;
  send(q, delayed);
  send(q, "a");
  send(q, "b");
  EXPECT_EQ(counts_text(q), "2/0/1");
  receive_one(q);
  EXPECT_EQ(counts_text(q), "1/1/1");
  clock_.advance(seconds(30));  // the in-flight one is visible again
  EXPECT_EQ(counts_text(q), "2/0/1");
  clock_.advance(seconds(30));  // and the delay has ended
  EXPECT_EQ(counts_text(q), "3/0/0");
  EXPECT_EQ(code_of(queues_->counts(ref("nope"))), "AWS.SimpleQueueService.NonExistentQueue");
}

// ---- change_visibility ----

TEST_F(QueuesTest, ChangingVisibilityToZeroMakesAMessageVisibleAtOnce) {
  QueueRef q = make("q");
  send(q, "m");
  ReceivedMessage r = receive_one(q);
  ASSERT_TRUE(queues_->change_visibility(q, r.receipt_handle, 0).ok());
  EXPECT_EQ(counts_text(q), "1/0/0");
  ReceivedMessage again = receive_one(q);
  EXPECT_EQ(again.receive_count, 2);
}

TEST_F(QueuesTest, ChangingVisibilityCountsTheNewTimeoutFromNow) {
  QueueRef q = make("q");
  send(q, "m");
  ReceivedMessage r = receive_one(q);
  clock_.advance(seconds(20));
  ASSERT_TRUE(queues_->change_visibility(q, r.receipt_handle, 30).ok());
  clock_.advance(seconds(29));  // 49 s after the receive: past the original 30 s
  EXPECT_TRUE(receive(q).empty());
  clock_.advance(seconds(1));
  EXPECT_EQ(receive(q).size(), 1u);
}

TEST_F(QueuesTest, ChangingVisibilityOfAVisibleMessageIsMessageNotInflight) {
  QueueRef q = make("q");
  send(q, "m");
  ReceivedMessage r = receive_one(q);
  clock_.advance(seconds(31));  // visible again, not received since
  Status s = queues_->change_visibility(q, r.receipt_handle, 10);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "AWS.SimpleQueueService.MessageNotInflight");
  EXPECT_EQ(counts_text(q), "1/0/0");
}

TEST_F(QueuesTest, ChangingVisibilityWithAStaleHandleIsInvalidParameterValue) {
  QueueRef q = make("q");
  send(q, "m");
  ReceivedMessage first = receive_one(q);
  clock_.advance(seconds(31));
  ReceivedMessage second = receive_one(q);
  Status s = queues_->change_visibility(q, first.receipt_handle, 0);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "InvalidParameterValue");
  EXPECT_EQ(counts_text(q), "0/1/0") << "the stale handle changed the visibility";
  // A deleted message's handle is stale as well.
  ASSERT_TRUE(queues_->delete_message(q, second.receipt_handle).ok());
  EXPECT_EQ(code_of(queues_->change_visibility(q, second.receipt_handle, 0)),
            "InvalidParameterValue");
}

TEST_F(QueuesTest, ChangingVisibilityOutOfRangeIsInvalidParameterValue) {
  QueueRef q = make("q");
  send(q, "m");
  ReceivedMessage r = receive_one(q);
  EXPECT_EQ(code_of(queues_->change_visibility(q, r.receipt_handle, kVisibilityTimeoutMax + 1)),
            "InvalidParameterValue");
  EXPECT_EQ(code_of(queues_->change_visibility(q, r.receipt_handle, -1)), "InvalidParameterValue");
  EXPECT_TRUE(queues_->change_visibility(q, r.receipt_handle, kVisibilityTimeoutMax).ok());
}

// ---- retention ----

TEST_F(QueuesTest, MessagesPastTheRetentionPeriodAreGone) {
  QueueRef q = make("q", {{"MessageRetentionPeriod", "60"}});
  send(q, "old");
  clock_.advance(seconds(30));
  send(q, "young");
  clock_.advance(seconds(31));  // "old" is 61 s old, "young" 31 s
  EXPECT_EQ(counts_text(q), "1/0/0");
  EXPECT_EQ(bodies(receive(q)), std::vector<std::string>{"young"});
  clock_.advance(seconds(30));
  EXPECT_EQ(counts_text(q), "0/0/0");
  EXPECT_TRUE(receive(q).empty());
}

// More expired rows than one read takes ahead of a live message: the receive still finds it.
TEST_F(QueuesTest, AReceiveLooksPastManyExpiredMessages) {
  QueueRef q = make("q", {{"MessageRetentionPeriod", "60"}});
  for (int i = 0; i < 250; ++i) send(q, "old" + std::to_string(i));
  clock_.advance(seconds(50));
  send(q, "young");
  clock_.advance(seconds(11));  // the 250 are past their 60 s, "young" is 11 s old
  EXPECT_EQ(bodies(receive(q)), std::vector<std::string>{"young"});
}

TEST_F(QueuesTest, RetentionAlsoEndsAMessageInFlight) {
  QueueRef q = make("q", {{"MessageRetentionPeriod", "60"}});
  send(q, "m");
  receive_one(q, /*vt=*/120);
  clock_.advance(seconds(61));
  EXPECT_EQ(counts_text(q), "0/0/0");
  clock_.advance(seconds(60));  // past the visibility timeout too
  EXPECT_TRUE(receive(q).empty());
}

// ---- redrive ----

TEST_F(QueuesTest, AMessageReceivedMaxReceiveCountTimesMovesToTheDeadLetterQueue) {
  QueueRef dlq = make("dlq");
  QueueRef src = make("src", {{"RedrivePolicy", "{\"deadLetterTargetArn\":\"" + queues_->arn(dlq) +
                                                    "\",\"maxReceiveCount\":2}"}});
  NewMessage m;
  m.body = "poison";
  m.attributes = {{"k", {"String", "v"}}};
  SendResult sent = send(src, m);

  EXPECT_EQ(receive_one(src).receive_count, 1);
  clock_.advance(seconds(31));
  EXPECT_EQ(receive_one(src).receive_count, 2);
  clock_.advance(seconds(31));

  std::vector<QueueRef> moved;
  ReceiveResult third =
      receive_all(src, kReceiveMax, std::nullopt, [&](const QueueRef& to) { moved.push_back(to); });
  EXPECT_TRUE(third.messages.empty()) << "received a third time: " << third.messages[0].body;
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].account, kAccount);
  EXPECT_EQ(moved[0].name, "dlq");
  EXPECT_EQ(counts_text(src), "0/0/0");
  EXPECT_EQ(counts_text(dlq), "1/0/0");

  ReceivedMessage dead = receive_one(dlq);
  EXPECT_EQ(dead.message_id, sent.message_id);
  EXPECT_EQ(dead.body, "poison");
  EXPECT_EQ(dead.md5_body, sent.md5_body);
  EXPECT_EQ(dead.md5_attributes, sent.md5_attributes);
  EXPECT_EQ(dead.attributes["k"].value, "v");
  EXPECT_EQ(dead.receive_count, 1);
  EXPECT_EQ(dead.sent_ms, kStartMs);  // the original enqueue time

  auto sources = queues_->dead_letter_sources(dlq);
  ASSERT_TRUE(sources.ok());
  EXPECT_EQ(*sources, std::vector<std::string>{"src"});
}

TEST_F(QueuesTest, DeadLetterSourcesListsOnlyTheQueuesNamingThatQueue) {
  QueueRef dlq = make("dlq");
  QueueRef other_dlq = make("other-dlq");
  auto policy = [&](const QueueRef& target) {
    return Attrs{{"RedrivePolicy", "{\"deadLetterTargetArn\":\"" + queues_->arn(target) +
                                       "\",\"maxReceiveCount\":3}"}};
  };
  make("b-src", policy(dlq));
  make("a-src", policy(dlq));
  make("c-src", policy(other_dlq));
  make("plain");
  auto sources = queues_->dead_letter_sources(dlq);
  ASSERT_TRUE(sources.ok());
  EXPECT_EQ(*sources, (std::vector<std::string>{"a-src", "b-src"}));
  auto none = queues_->dead_letter_sources(ref("plain"));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(code_of(queues_->dead_letter_sources(ref("nope"))),
            "AWS.SimpleQueueService.NonExistentQueue");
}

TEST_F(QueuesTest, WithoutItsDeadLetterQueueAMessageStaysInTheSource) {
  QueueRef dlq = make("dlq");
  QueueRef src = make("src", {{"RedrivePolicy", "{\"deadLetterTargetArn\":\"" + queues_->arn(dlq) +
                                                    "\",\"maxReceiveCount\":1}"}});
  send(src, "m");
  receive_one(src);
  ASSERT_TRUE(queues_->remove(dlq).ok());
  clock_.advance(seconds(31));
  bool moved = false;
  ReceiveResult r =
      receive_all(src, kReceiveMax, std::nullopt, [&](const QueueRef&) { moved = true; });
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].receive_count, 2);
  EXPECT_FALSE(moved);
}

// ---- FIFO ----

TEST_F(QueuesTest, AFifoMessageNeedsAMessageGroupId) {
  QueueRef q = make_fifo("q.fifo");
  NewMessage m;
  m.body = "m";
  m.dedup_id = "d";
  Result<SendResult> r = queues_->send(q, m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "MissingParameter");
  EXPECT_NE(r.error().message.find("MessageGroupId"), std::string::npos) << r.error().message;
  EXPECT_EQ(counts_text(q), "0/0/0");
}

TEST_F(QueuesTest, AFifoMessageNeedsADedupIdOrContentBasedDeduplication) {
  QueueRef q = make_fifo("q.fifo");
  NewMessage m;
  m.body = "m";
  m.group_id = "g";
  EXPECT_EQ(send_code(q, m), "InvalidParameterValue");
  EXPECT_EQ(counts_text(q), "0/0/0");

  QueueRef cbd = make_fifo("cbd.fifo", {{"ContentBasedDeduplication", "true"}});
  SendResult a = send(cbd, m);
  SendResult b = send(cbd, m);  // the same body: a duplicate
  EXPECT_EQ(a.message_id, b.message_id);
  m.body = "other";
  SendResult c = send(cbd, m);
  EXPECT_NE(c.message_id, a.message_id);
  EXPECT_EQ(counts_text(cbd), "2/0/0");
}

TEST_F(QueuesTest, ADuplicateWithinFiveMinutesIsAcceptedButNotEnqueuedAgain) {
  QueueRef q = make_fifo("q.fifo");
  SendResult first = send_fifo(q, "first", "g", "dedup-1");
  EXPECT_EQ(first.sequence_number.size(), 20u) << first.sequence_number;
  clock_.advance(minutes(4) + seconds(59));
  SendResult dup = send_fifo(q, "second", "g", "dedup-1");
  EXPECT_EQ(dup.message_id, first.message_id);
  EXPECT_EQ(dup.sequence_number, first.sequence_number);
  EXPECT_EQ(counts_text(q), "1/0/0");
  EXPECT_EQ(bodies(receive(q)), std::vector<std::string>{"first"});
}

TEST_F(QueuesTest, AfterFiveMinutesTheSameDedupIdEnqueuesAgain) {
  QueueRef q = make_fifo("q.fifo");
  SendResult first = send_fifo(q, "first", "g", "dedup-1");
  clock_.advance(kDeduplicationInterval + seconds(1));
  SendResult again = send_fifo(q, "second", "g", "dedup-1");
  EXPECT_NE(again.message_id, first.message_id);
  EXPECT_GT(again.sequence_number, first.sequence_number);
  EXPECT_EQ(counts_text(q), "2/0/0");
  EXPECT_EQ(bodies(receive(q)), (std::vector<std::string>{"first", "second"}));
}

TEST_F(QueuesTest, WithMessageGroupScopeTheSameDedupIdInAnotherGroupIsNew) {
  QueueRef q = make_fifo("q.fifo", {{"DeduplicationScope", "messageGroup"}});
  SendResult a = send_fifo(q, "a", "g1", "same");
  SendResult b = send_fifo(q, "b", "g2", "same");
  SendResult c = send_fifo(q, "c", "g1", "same");
  EXPECT_NE(a.message_id, b.message_id);
  EXPECT_EQ(a.message_id, c.message_id);
  EXPECT_EQ(counts_text(q), "2/0/0");
}

TEST_F(QueuesTest, AFifoReceiveReturnsMessagesInSequenceOrder) {
  QueueRef q = make_fifo("q.fifo");
  SendResult a1 = send_fifo(q, "A1", "A");
  SendResult a2 = send_fifo(q, "A2", "A");
  SendResult b1 = send_fifo(q, "B1", "B");
  EXPECT_LT(a1.sequence_number, a2.sequence_number);
  EXPECT_LT(a2.sequence_number, b1.sequence_number);
  std::vector<ReceivedMessage> got = receive(q, 10);
  ASSERT_EQ(bodies(got), (std::vector<std::string>{"A1", "A2", "B1"}));
  EXPECT_EQ(got[0].group_id, "A");
  EXPECT_EQ(got[2].group_id, "B");
  EXPECT_EQ(got[0].sequence_number, a1.sequence_number);
  EXPECT_EQ(got[1].dedup_id, "A2");
}

TEST_F(QueuesTest, AGroupWithAMessageInFlightIsHeldButOtherGroupsAreNot) {
  QueueRef q = make_fifo("q.fifo");
  send_fifo(q, "A1", "A");
  send_fifo(q, "A2", "A");
  send_fifo(q, "B1", "B");
  send_fifo(q, "B2", "B");
  ReceivedMessage a1 = receive_one(q);
  ASSERT_EQ(a1.body, "A1");
  EXPECT_EQ(bodies(receive(q, 10)), (std::vector<std::string>{"B1", "B2"}))
      << "group A must be held while A1 is in flight";
  EXPECT_TRUE(receive(q, 10).empty()) << "both groups are held";
  ASSERT_TRUE(queues_->delete_message(q, a1.receipt_handle).ok());
  EXPECT_EQ(bodies(receive(q, 10)), std::vector<std::string>{"A2"});
}

TEST_F(QueuesTest, AHeldGroupIsReleasedWhenItsMessageBecomesVisibleAgain) {
  QueueRef q = make_fifo("q.fifo");
  send_fifo(q, "A1", "A");
  send_fifo(q, "A2", "A");
  EXPECT_EQ(receive_one(q).body, "A1");
  EXPECT_TRUE(receive(q).empty());
  clock_.advance(seconds(30));
  // A1 again first: the order within a group holds across a failed attempt.
  EXPECT_EQ(bodies(receive(q, 1)), std::vector<std::string>{"A1"});
}

TEST_F(QueuesTest, APerMessageDelayOnAFifoQueueIsRefused) {
  QueueRef q = make_fifo("q.fifo");
  NewMessage m;
  m.body = "m";
  m.group_id = "g";
  m.dedup_id = "d";
  m.delay_seconds = 5;
  Result<SendResult> r = queues_->send(q, m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "InvalidParameterValue");
  EXPECT_EQ(counts_text(q), "0/0/0");
}

TEST_F(QueuesTest, AFifoQueuesDelayAppliesToEveryMessage) {
  QueueRef q = make_fifo("q.fifo", {{"DelaySeconds", "5"}});
  send_fifo(q, "m", "g");
  EXPECT_EQ(counts_text(q), "0/0/1");
  clock_.advance(seconds(5));
  EXPECT_EQ(bodies(receive(q)), std::vector<std::string>{"m"});
}

// ---- size and content ----

TEST_F(QueuesTest, ABodyOverMaximumMessageSizeIsInvalidParameterValue) {
  QueueRef q = make("q", {{"MaximumMessageSize", "1024"}});
  EXPECT_EQ(send(q, std::string(1024, 'x')).md5_body, md5_hex(std::string(1024, 'x')));
  NewMessage big;
  big.body = std::string(1025, 'x');
  Result<SendResult> r = queues_->send(q, big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "InvalidParameterValue");
  EXPECT_NE(r.error().message.find("1024"), std::string::npos) << r.error().message;
  // Attributes count against the size too: 1000 + ("name" + "String" + 20 bytes) > 1024.
  NewMessage with_attrs;
  with_attrs.body = std::string(1000, 'x');
  with_attrs.attributes = {{"name", {"String", std::string(20, 'v')}}};
  EXPECT_EQ(send_code(q, with_attrs), "InvalidParameterValue");
  EXPECT_EQ(counts_text(q), "1/0/0");
}

TEST_F(QueuesTest, AnEmptyBodyIsMissingParameter) {
  QueueRef q = make("q");
  NewMessage m;
  Result<SendResult> r = queues_->send(q, m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "MissingParameter");
  EXPECT_NE(r.error().message.find("MessageBody"), std::string::npos) << r.error().message;
}

TEST_F(QueuesTest, ABodyWithAControlCharacterIsInvalidMessageContents) {
  QueueRef q = make("q");
  NewMessage m;
  m.body = "bad\x01";
  Result<SendResult> r = queues_->send(q, m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "InvalidMessageContents");
  EXPECT_NE(r.error().message.find("#x1'"), std::string::npos) << r.error().message;
  m.body = "bad\xEF\xBF\xBE";
  r = queues_->send(q, m);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("#xFFFE"), std::string::npos) << r.error().message;
  EXPECT_EQ(counts_text(q), "0/0/0");
}

TEST_F(QueuesTest, BadMessageAttributesAreRefusedBeforeAnythingIsStored) {
  QueueRef q = make("q");
  NewMessage m;
  m.body = "m";
  m.attributes = {{"AWS.reserved", {"String", "v"}}};
  EXPECT_EQ(send_code(q, m), "InvalidParameterValue");
  EXPECT_EQ(counts_text(q), "0/0/0");
}

TEST_F(QueuesTest, SendingToAQueueThatDoesNotExistIsNonExistentQueue) {
  NewMessage m;
  m.body = "m";
  EXPECT_EQ(send_code(ref("nope"), m), "AWS.SimpleQueueService.NonExistentQueue");
}

// ---- durability ----

TEST_F(QueuesTest, MessagesSurviveANewStoreOverTheSameFile) {
  QueueRef q = make("q");
  QueueRef f = make_fifo("f.fifo");
  NewMessage with_attrs;
  with_attrs.body = "one";
  with_attrs.attributes = {{"k", {"Number", "1"}}};
  SendResult one = send(q, with_attrs);
  send(q, "two");
  send(q, "three");
  ReceivedMessage in_flight = receive_one(q);
  SendResult fifo_first = send_fifo(f, "f1", "g", "dedup");

  open();  // what a restart after kill -9 sees: only what the Store has

  EXPECT_EQ(counts_text(q), "2/1/0");
  std::vector<ReceivedMessage> got = receive(q);
  EXPECT_EQ(bodies(got), (std::vector<std::string>{"two", "three"}));
  clock_.advance(seconds(30));
  ReceivedMessage back = receive_one(q);
  EXPECT_EQ(back.message_id, one.message_id);
  EXPECT_EQ(back.receive_count, 2);
  EXPECT_EQ(back.attributes["k"].value, "1");
  EXPECT_EQ(back.md5_attributes, one.md5_attributes);
  // The old receipt handle is stale after the restart as before it.
  ASSERT_TRUE(queues_->delete_message(q, in_flight.receipt_handle).ok());
  EXPECT_EQ(counts_text(q), "2/1/0");
  ASSERT_TRUE(queues_->delete_message(q, back.receipt_handle).ok());
  EXPECT_EQ(counts_text(q), "2/0/0");
  // The FIFO queue's deduplication window survives too.
  EXPECT_EQ(send_fifo(f, "f1 again", "g", "dedup").message_id, fifo_first.message_id);
  EXPECT_EQ(counts_text(f), "1/0/0");
}

// ---- list, remove, purge ----

TEST_F(QueuesTest, ListFiltersByPrefixInNameOrder) {
  for (const char* n : {"beta", "alpine", "al", "alpha", "Alpha"}) make(n);
  ASSERT_TRUE(queues_->create(QueueRef{kOtherAccount, "alps"}, {}, {}).ok());
  auto al = queues_->list(kAccount, "al", "", kListQueuesMax);
  ASSERT_TRUE(al.ok());
  EXPECT_EQ(*al, (std::vector<std::string>{"al", "alpha", "alpine"}));
  auto all = queues_->list(kAccount, "", "", kListQueuesMax);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, (std::vector<std::string>{"Alpha", "al", "alpha", "alpine", "beta"}));
  auto none = queues_->list(kAccount, "zzz", "", kListQueuesMax);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(QueuesTest, ListPagesWithAfterAndMax) {
  for (const char* n : {"q-a", "q-b", "q-c", "q-d", "q-e", "other"}) make(n);
  auto page = [&](const std::string& after, size_t max) {
    auto r = queues_->list(kAccount, "q-", after, max);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : std::vector<std::string>{"<error>"};
  };
  EXPECT_EQ(page("", 2), (std::vector<std::string>{"q-a", "q-b"}));
  EXPECT_EQ(page("q-b", 2), (std::vector<std::string>{"q-c", "q-d"}));
  EXPECT_EQ(page("q-d", 2), (std::vector<std::string>{"q-e"}));
  EXPECT_TRUE(page("q-e", 2).empty());
  // `after` need not be a queue's name.
  EXPECT_EQ(page("q-bb", 1), (std::vector<std::string>{"q-c"}));
}

TEST_F(QueuesTest, RemoveDeletesTheQueueAndItsMessages) {
  QueueRef q = make("q");
  send(q, "a");
  send(q, "b");
  receive_one(q);
  ASSERT_TRUE(queues_->remove(q).ok());
  EXPECT_EQ(code_of(queues_->get(q)), "AWS.SimpleQueueService.NonExistentQueue");
  EXPECT_EQ(code_of(queues_->remove(q)), "AWS.SimpleQueueService.NonExistentQueue");
  auto names = queues_->list(kAccount, "", "", kListQueuesMax);
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(names->empty());
  // A queue of the same name created later starts empty.
  make("q");
  EXPECT_EQ(counts_text(q), "0/0/0");
  clock_.advance(seconds(31));
  EXPECT_TRUE(receive(q).empty());
}

TEST_F(QueuesTest, PurgeRemovesEveryMessageButKeepsTheQueue) {
  QueueRef q = make("q");
  send(q, "a");
  send(q, "b");
  receive_one(q);
  ASSERT_TRUE(queues_->purge(q).ok());
  EXPECT_EQ(counts_text(q), "0/0/0");
  EXPECT_TRUE(queues_->get(q).ok());
  EXPECT_EQ(code_of(queues_->purge(ref("nope"))), "AWS.SimpleQueueService.NonExistentQueue");
}

}  // namespace
}  // namespace nubo::sqs
