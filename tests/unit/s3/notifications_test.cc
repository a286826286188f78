#include "services/s3/notifications.h"

#include <gtest/gtest.h>

#include <pugixml.hpp>

#include "base/json.h"
#include "base/strings.h"

namespace nubo::s3 {
namespace {

// What boto3 sends for put_bucket_notification_configuration with one configuration of each
// kind (LambdaFunctionConfigurations serialise as CloudFunctionConfiguration/CloudFunction).
constexpr const char* kBoto3Body =
    R"(<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
    R"(<TopicConfiguration><Id>topic-1</Id><Topic>arn:aws:sns:us-east-1:000000000000:t</Topic>)"
    R"(<Event>s3:ObjectRemoved:*</Event></TopicConfiguration>)"
    R"(<QueueConfiguration><Id>queue-1</Id><Queue>arn:aws:sqs:us-east-1:000000000000:q</Queue>)"
    R"(<Event>s3:ObjectCreated:Put</Event><Event>s3:ObjectCreated:Copy</Event>)"
    R"(<Filter><S3Key><FilterRule><Name>prefix</Name><Value>logs/</Value></FilterRule>)"
    R"(</S3Key></Filter></QueueConfiguration>)"
    R"(<CloudFunctionConfiguration><Id>fn-1</Id>)"
    R"(<CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:f</CloudFunction>)"
    R"(<Event>s3:ObjectCreated:*</Event>)"
    R"(<Filter><S3Key><FilterRule><Name>prefix</Name><Value>images/</Value></FilterRule>)"
    R"(<FilterRule><Name>Suffix</Name><Value>.jpg</Value></FilterRule></S3Key></Filter>)"
    R"(</CloudFunctionConfiguration>)"
    R"(<EventBridgeConfiguration/>)"
    R"(</NotificationConfiguration>)";

std::string wrap(const std::string& inner) {
  return R"(<?xml version="1.0" encoding="UTF-8"?>)"
         R"(<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)" +
         inner + "</NotificationConfiguration>";
}

std::string queue(const std::string& id, const std::vector<std::string>& events,
                  const std::string& prefix = "", const std::string& suffix = "") {
  std::string s = "<QueueConfiguration>";
  if (!id.empty()) s += "<Id>" + id + "</Id>";
  s += "<Queue>arn:aws:sqs:us-east-1:000000000000:q</Queue>";
  for (const auto& e : events) s += "<Event>" + e + "</Event>";
  if (!prefix.empty() || !suffix.empty()) {
    s += "<Filter><S3Key>";
    if (!prefix.empty())
      s += "<FilterRule><Name>prefix</Name><Value>" + prefix + "</Value></FilterRule>";
    if (!suffix.empty())
      s += "<FilterRule><Name>suffix</Name><Value>" + suffix + "</Value></FilterRule>";
    s += "</S3Key></Filter>";
  }
  return s + "</QueueConfiguration>";
}

void expect_error(const std::string& xml, const std::string& code, const std::string& message) {
  auto r = parse_notification_config(xml);
  ASSERT_FALSE(r.ok()) << xml;
  EXPECT_EQ(r.error().code, code) << xml;
  EXPECT_EQ(r.error().status, 400);
  EXPECT_EQ(r.error().message, message) << xml;
}

constexpr const char* kMalformed =
    "The XML you provided was not well-formed or did not validate against our published schema";
constexpr const char* kOverlap =
    "Configuration is ambiguous or Configurations are overlapping. Events and Rules overlap.";

bool same(const NotificationConfig& a, const NotificationConfig& b) {
  if (a.event_bridge != b.event_bridge || a.targets.size() != b.targets.size()) return false;
  for (size_t i = 0; i < a.targets.size(); ++i) {
    const auto& x = a.targets[i];
    const auto& y = b.targets[i];
    if (x.id != y.id || x.kind != y.kind || x.arn != y.arn || x.events != y.events ||
        x.rules.size() != y.rules.size()) {
      return false;
    }
    for (size_t j = 0; j < x.rules.size(); ++j) {
      // The XML answer capitalises rule names ("Prefix"), as S3 does.
      if (!iequals(x.rules[j].name, y.rules[j].name) || x.rules[j].value != y.rules[j].value) {
        return false;
      }
    }
  }
  return true;
}

TEST(NotificationConfig, ParsesBoto3BodyWithAllKinds) {
  auto r = parse_notification_config(kBoto3Body);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const NotificationConfig& c = *r;
  EXPECT_TRUE(c.event_bridge);
  ASSERT_EQ(c.targets.size(), 3u);

  EXPECT_EQ(c.targets[0].kind, TargetKind::kTopic);
  EXPECT_EQ(c.targets[0].id, "topic-1");
  EXPECT_EQ(c.targets[0].arn, "arn:aws:sns:us-east-1:000000000000:t");
  EXPECT_EQ(c.targets[0].events, std::vector<std::string>{"s3:ObjectRemoved:*"});
  EXPECT_TRUE(c.targets[0].rules.empty());

  EXPECT_EQ(c.targets[1].kind, TargetKind::kQueue);
  EXPECT_EQ(c.targets[1].arn, "arn:aws:sqs:us-east-1:000000000000:q");
  EXPECT_EQ(c.targets[1].events,
            (std::vector<std::string>{"s3:ObjectCreated:Put", "s3:ObjectCreated:Copy"}));
  ASSERT_EQ(c.targets[1].rules.size(), 1u);
  EXPECT_EQ(c.targets[1].rules[0].name, "prefix");
  EXPECT_EQ(c.targets[1].rules[0].value, "logs/");

  EXPECT_EQ(c.targets[2].kind, TargetKind::kLambda);
  EXPECT_EQ(c.targets[2].id, "fn-1");
  EXPECT_EQ(c.targets[2].arn, "arn:aws:lambda:us-east-1:000000000000:function:f");
  ASSERT_EQ(c.targets[2].rules.size(), 2u);
  EXPECT_EQ(c.targets[2].rules[1].name, "Suffix");  // as sent
  EXPECT_EQ(c.targets[2].rules[1].value, ".jpg");
}

TEST(NotificationConfig, AcceptsLambdaFunctionConfigurationAndFunctionElement) {
  auto r = parse_notification_config(
      wrap("<LambdaFunctionConfiguration><Function>arn:aws:lambda:us-east-1:0:function:f"
           "</Function><Event>s3:ObjectCreated:*</Event></LambdaFunctionConfiguration>"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->targets.size(), 1u);
  EXPECT_EQ(r->targets[0].kind, TargetKind::kLambda);
  EXPECT_EQ(r->targets[0].arn, "arn:aws:lambda:us-east-1:0:function:f");
}

TEST(NotificationConfig, EmptyConfigurationClears) {
  for (const char* body :
       {R"(<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>)",
        "<NotificationConfiguration></NotificationConfiguration>"}) {
    auto r = parse_notification_config(body);
    ASSERT_TRUE(r.ok()) << body;
    EXPECT_TRUE(r->targets.empty());
    EXPECT_FALSE(r->event_bridge);
  }
}

TEST(NotificationConfig, GeneratesUniqueIdsWhenAbsent) {
  auto r = parse_notification_config(
      wrap(queue("", {"s3:ObjectCreated:*"}, "a/") + queue("", {"s3:ObjectCreated:*"}, "b/")));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->targets.size(), 2u);
  EXPECT_FALSE(r->targets[0].id.empty());
  EXPECT_FALSE(r->targets[1].id.empty());
  EXPECT_NE(r->targets[0].id, r->targets[1].id);
}

TEST(NotificationConfig, XmlAnswerHasTheBotocoreShape) {
  auto r = parse_notification_config(kBoto3Body);
  ASSERT_TRUE(r.ok());
  std::string xml = notification_config_xml(*r);
  EXPECT_EQ(xml.rfind("<?xml", 0), std::string::npos);  // no declaration
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(xml.c_str()));
  pugi::xml_node root = doc.child("NotificationConfiguration");
  ASSERT_TRUE(root);
  EXPECT_STREQ(root.attribute("xmlns").value(), "http://s3.amazonaws.com/doc/2006-03-01/");
  EXPECT_STREQ(root.child("TopicConfiguration").child_value("Topic"),
               "arn:aws:sns:us-east-1:000000000000:t");
  EXPECT_STREQ(root.child("QueueConfiguration").child_value("Queue"),
               "arn:aws:sqs:us-east-1:000000000000:q");
  pugi::xml_node fn = root.child("CloudFunctionConfiguration");
  ASSERT_TRUE(fn);
  EXPECT_STREQ(fn.child_value("Id"), "fn-1");
  EXPECT_STREQ(fn.child_value("CloudFunction"), "arn:aws:lambda:us-east-1:000000000000:function:f");
  EXPECT_STREQ(fn.child_value("Event"), "s3:ObjectCreated:*");
  pugi::xml_node rule = fn.child("Filter").child("S3Key").child("FilterRule");
  EXPECT_STREQ(rule.child_value("Name"), "Prefix");
  EXPECT_STREQ(rule.child_value("Value"), "images/");
  EXPECT_STREQ(rule.next_sibling("FilterRule").child_value("Name"), "Suffix");
  EXPECT_TRUE(root.child("EventBridgeConfiguration"));
  // A configuration without rules has no Filter element.
  EXPECT_FALSE(root.child("TopicConfiguration").child("Filter"));
}

TEST(NotificationConfig, XmlEscapesValues) {
  NotificationConfig c;
  c.targets.push_back({"id<&>",
                       TargetKind::kQueue,
                       "arn:aws:sqs:r:0:q",
                       {"s3:ObjectCreated:*"},
                       {{"prefix", "a&b<c"}}});
  std::string xml = notification_config_xml(c);
  EXPECT_NE(xml.find("a&amp;b&lt;c"), std::string::npos) << xml;
  auto back = parse_notification_config(xml);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->targets[0].id, "id<&>");
  EXPECT_EQ(back->targets[0].rules[0].value, "a&b<c");
}

TEST(NotificationConfig, RoundTripsThroughXmlAndJson) {
  auto first = parse_notification_config(kBoto3Body);
  ASSERT_TRUE(first.ok());
  auto second = parse_notification_config(notification_config_xml(*first));
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_TRUE(same(*first, *second));
  EXPECT_EQ(notification_config_xml(*first), notification_config_xml(*second));

  auto from_json = notification_config_from_json(notification_config_json(*first));
  ASSERT_TRUE(from_json.ok()) << from_json.error().message;
  EXPECT_TRUE(same(*first, *from_json));
  // JSON keeps the rule names exactly as sent.
  EXPECT_EQ(from_json->targets[2].rules[1].name, "Suffix");

  NotificationConfig empty;
  auto empty_back = notification_config_from_json(notification_config_json(empty));
  ASSERT_TRUE(empty_back.ok());
  EXPECT_TRUE(same(empty, *empty_back));
}

TEST(NotificationConfig, CorruptJsonIsAnInternalError) {
  for (const char* text : {"", "not json", "[]", R"({"targets":[]})",
                           R"({"event_bridge":false,"targets":[{"id":"x"}]})",
                           R"({"event_bridge":false,"targets":[{"id":"x","kind":"fax","arn":"a",)"
                           R"("events":[],"rules":[]}]})"}) {
    auto r = notification_config_from_json(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code, "InternalError");
    EXPECT_EQ(r.error().status, 500);
  }
}

TEST(NotificationConfig, MalformedXml) {
  expect_error("", "MalformedXML", kMalformed);
  expect_error("<NotificationConfiguration><QueueConfiguration>", "MalformedXML", kMalformed);
  expect_error("<Delete/>", "MalformedXML", kMalformed);
  expect_error(wrap("<SomethingElse/>"), "MalformedXML", kMalformed);
  // A configuration without an Event.
  expect_error(wrap("<QueueConfiguration><Queue>arn:aws:sqs:r:0:q</Queue></QueueConfiguration>"),
               "MalformedXML", kMalformed);
}

TEST(NotificationConfig, InvalidArguments) {
  expect_error(wrap(queue("a", {"s3:ObjectCreated:Append"})), "InvalidArgument",
               "The event is not supported for notifications");
  expect_error(wrap(queue("a", {"s3:TestEvent"})), "InvalidArgument",
               "The event is not supported for notifications");
  expect_error(wrap("<TopicConfiguration><Event>s3:ObjectCreated:*</Event></TopicConfiguration>"),
               "InvalidArgument", "The ARN is not well formed");
  expect_error(wrap("<TopicConfiguration><Topic>nope</Topic><Event>s3:ObjectCreated:*</Event>"
                    "</TopicConfiguration>"),
               "InvalidArgument", "The ARN is not well formed");
  expect_error(wrap("<QueueConfiguration><Queue>arn:aws:sqs:r:0:q</Queue>"
                    "<Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>middle"
                    "</Name><Value>x</Value></FilterRule></S3Key></Filter></QueueConfiguration>"),
               "InvalidArgument", "filter rule name must be either prefix or suffix");
  for (const char* which : {"prefix", "suffix"}) {
    std::string rule =
        std::string("<FilterRule><Name>") + which + "</Name><Value>x</Value></FilterRule>";
    expect_error(wrap("<QueueConfiguration><Queue>arn:aws:sqs:r:0:q</Queue>"
                      "<Event>s3:ObjectCreated:*</Event><Filter><S3Key>" +
                      rule + rule + "</S3Key></Filter></QueueConfiguration>"),
                 "InvalidArgument",
                 std::string("Cannot specify more than one ") + which + " rule in a filter.");
  }
  expect_error(wrap(queue("same", {"s3:ObjectCreated:*"}, "a/") +
                    queue("same", {"s3:ObjectRemoved:*"}, "b/")),
               "InvalidArgument", "Configuration Ids must be unique");
}

TEST(NotificationConfig, OverlappingConfigurationsAreRejected) {
  // Same event, no filters.
  expect_error(wrap(queue("a", {"s3:ObjectCreated:Put"}) + queue("b", {"s3:ObjectCreated:Put"})),
               "InvalidArgument", kOverlap);
  // A wildcard covers its members.
  expect_error(wrap(queue("a", {"s3:ObjectCreated:*"}) + queue("b", {"s3:ObjectCreated:Copy"})),
               "InvalidArgument", kOverlap);
  // One prefix is a prefix of the other.
  expect_error(wrap(queue("a", {"s3:ObjectCreated:*"}, "images/") +
                    queue("b", {"s3:ObjectCreated:*"}, "images/2024/")),
               "InvalidArgument", kOverlap);
  // One suffix is a suffix of the other ("jpg" and ".jpg").
  expect_error(wrap(queue("a", {"s3:ObjectCreated:*"}, "", "jpg") +
                    queue("b", {"s3:ObjectCreated:*"}, "", ".jpg")),
               "InvalidArgument", kOverlap);
  // A prefix-only and a suffix-only filter both match images/x.jpg.
  expect_error(wrap(queue("a", {"s3:ObjectCreated:*"}, "images/") +
                    queue("b", {"s3:ObjectCreated:*"}, "", ".jpg")),
               "InvalidArgument", kOverlap);
  // Across kinds too.
  expect_error(wrap(queue("a", {"s3:ObjectRemoved:*"}) +
                    "<TopicConfiguration><Id>b</Id><Topic>arn:aws:sns:r:0:t</Topic>"
                    "<Event>s3:ObjectRemoved:Delete</Event></TopicConfiguration>"),
               "InvalidArgument", kOverlap);
}

TEST(NotificationConfig, NonOverlappingConfigurationsAreAccepted) {
  // Different events with the same filters.
  EXPECT_TRUE(parse_notification_config(
                  wrap(queue("a", {"s3:ObjectCreated:*"}) + queue("b", {"s3:ObjectRemoved:*"})))
                  .ok());
  // Disjoint prefixes.
  EXPECT_TRUE(parse_notification_config(wrap(queue("a", {"s3:ObjectCreated:*"}, "images/") +
                                             queue("b", {"s3:ObjectCreated:*"}, "logs/")))
                  .ok());
  // Same prefix, disjoint suffixes.
  EXPECT_TRUE(parse_notification_config(wrap(queue("a", {"s3:ObjectCreated:*"}, "images/", ".jpg") +
                                             queue("b", {"s3:ObjectCreated:*"}, "images/", ".png")))
                  .ok());
}

NotificationTarget target(std::vector<std::string> events, std::vector<FilterRule> rules = {}) {
  return NotificationTarget{"id", TargetKind::kLambda, "arn:aws:lambda:r:0:function:f",
                            std::move(events), std::move(rules)};
}

TEST(NotificationMatch, Events) {
  auto wild = target({"s3:ObjectCreated:*"});
  EXPECT_TRUE(matches(wild, "s3:ObjectCreated:Put", "k"));
  EXPECT_TRUE(matches(wild, "s3:ObjectCreated:CompleteMultipartUpload", "k"));
  EXPECT_TRUE(matches(wild, "ObjectCreated:Copy", "k"));  // "s3:" may be left out
  EXPECT_FALSE(matches(wild, "s3:ObjectRemoved:Delete", "k"));

  auto exact = target({"s3:ObjectCreated:Put", "s3:ObjectRemoved:Delete"});
  EXPECT_TRUE(matches(exact, "s3:ObjectCreated:Put", "k"));
  EXPECT_TRUE(matches(exact, "s3:ObjectRemoved:Delete", "k"));
  EXPECT_FALSE(matches(exact, "s3:ObjectCreated:Copy", "k"));
  EXPECT_FALSE(matches(exact, "s3:ObjectRemoved:DeleteMarkerCreated", "k"));

  EXPECT_FALSE(matches(target({}), "s3:ObjectCreated:Put", "k"));
}

TEST(NotificationMatch, Filters) {
  auto none = target({"s3:ObjectCreated:*"});
  EXPECT_TRUE(matches(none, "s3:ObjectCreated:Put", "anything/at/all"));

  auto prefix = target({"s3:ObjectCreated:*"}, {{"prefix", "images/"}});
  EXPECT_TRUE(matches(prefix, "s3:ObjectCreated:Put", "images/cat.png"));
  EXPECT_FALSE(matches(prefix, "s3:ObjectCreated:Put", "logs/images/cat.png"));

  auto suffix = target({"s3:ObjectCreated:*"}, {{"SUFFIX", ".jpg"}});  // name without case
  EXPECT_TRUE(matches(suffix, "s3:ObjectCreated:Put", "a/b.jpg"));
  EXPECT_FALSE(matches(suffix, "s3:ObjectCreated:Put", "a/b.jpeg"));
  EXPECT_FALSE(matches(suffix, "s3:ObjectCreated:Put", "a/b.JPG"));  // values are exact

  auto both = target({"s3:ObjectCreated:*"}, {{"prefix", "images/"}, {"suffix", ".jpg"}});
  EXPECT_TRUE(matches(both, "s3:ObjectCreated:Put", "images/x.jpg"));
  EXPECT_FALSE(matches(both, "s3:ObjectCreated:Put", "images/x.png"));
  EXPECT_FALSE(matches(both, "s3:ObjectCreated:Put", "other/x.jpg"));
  EXPECT_FALSE(matches(both, "s3:ObjectRemoved:Delete", "images/x.jpg"));

  // Raw values match raw keys; the URL-encoded form S3 documents for filter values matches too.
  auto raw = target({"s3:ObjectCreated:*"}, {{"prefix", "my dir/"}});
  EXPECT_TRUE(matches(raw, "s3:ObjectCreated:Put", "my dir/f"));
  auto encoded = target({"s3:ObjectCreated:*"}, {{"prefix", "my+dir/"}});
  EXPECT_TRUE(matches(encoded, "s3:ObjectCreated:Put", "my dir/f"));
  EXPECT_FALSE(matches(encoded, "s3:ObjectCreated:Put", "mydir/f"));
}

EventObject created(const std::string& key) {
  EventObject e;
  e.event_name = "ObjectCreated:Put";
  e.bucket = "photos";
  e.key = key;
  e.size = 1234;
  e.etag = "0123456789abcdef0123456789abcdef";
  e.sequencer = make_sequencer(42);
  e.time_ms = 1700000000123;
  e.region = "us-east-1";
  e.account_id = "000000000000";
  e.principal_id = "AWS:AIDAEXAMPLE";
  e.source_ip = "127.0.0.1";
  e.request_id = "REQ123";
  e.configuration_id = "fn-1";
  return e;
}

json::object record_of(const std::string& text) {
  auto v = parse_json(text);
  EXPECT_TRUE(v.ok());
  const json::array& records = v->as_object().at("Records").as_array();
  EXPECT_EQ(records.size(), 1u);
  return records.at(0).as_object();
}

TEST(NotificationEvent, CreatedRecordHasTheAwsShape) {
  json::object r = record_of(event_message_json(created("my file+x.jpg")));
  EXPECT_EQ(r.at("eventVersion").as_string(), "2.1");
  EXPECT_EQ(r.at("eventSource").as_string(), "aws:s3");
  EXPECT_EQ(r.at("awsRegion").as_string(), "us-east-1");
  EXPECT_EQ(r.at("eventTime").as_string(), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(r.at("eventName").as_string(), "ObjectCreated:Put");
  EXPECT_EQ(r.at("userIdentity").at("principalId").as_string(), "AWS:AIDAEXAMPLE");
  EXPECT_EQ(r.at("requestParameters").at("sourceIPAddress").as_string(), "127.0.0.1");
  EXPECT_EQ(r.at("responseElements").at("x-amz-request-id").as_string(), "REQ123");
  EXPECT_TRUE(r.at("responseElements").as_object().contains("x-amz-id-2"));

  const json::object& s3 = r.at("s3").as_object();
  EXPECT_EQ(s3.at("s3SchemaVersion").as_string(), "1.0");
  EXPECT_EQ(s3.at("configurationId").as_string(), "fn-1");
  EXPECT_EQ(s3.at("bucket").at("name").as_string(), "photos");
  EXPECT_EQ(s3.at("bucket").at("ownerIdentity").at("principalId").as_string(), "000000000000");
  EXPECT_EQ(s3.at("bucket").at("arn").as_string(), "arn:aws:s3:::photos");

  const json::object& o = s3.at("object").as_object();
  EXPECT_EQ(o.at("key").as_string(), "my+file%2Bx.jpg");
  ASSERT_TRUE(o.at("size").is_int64());
  EXPECT_EQ(o.at("size").as_int64(), 1234);
  EXPECT_EQ(o.at("eTag").as_string(), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(o.at("sequencer").as_string(), "000000000000002A");
  EXPECT_FALSE(o.contains("versionId"));  // not versioned
}

TEST(NotificationEvent, KeysKeepSlashesAndEncodeTheRest) {
  auto key_of = [](const std::string& key) {
    json::object r = record_of(event_message_json(created(key)));
    return std::string(r.at("s3").at("object").at("key").as_string());
  };
  EXPECT_EQ(key_of("a/b"), "a/b");
  EXPECT_EQ(key_of("test(1).txt"), "test%281%29.txt");
  EXPECT_EQ(key_of("a=b&c"), "a%3Db%26c");
  EXPECT_EQ(key_of("caf\xc3\xa9"), "caf%C3%A9");
}

TEST(NotificationEvent, VersionIdWhenVersionedAndS3PrefixDropped) {
  EventObject e = created("k");
  e.event_name = "s3:ObjectCreated:Copy";
  e.version_id = "v-1";
  json::object r = record_of(event_message_json(e));
  EXPECT_EQ(r.at("eventName").as_string(), "ObjectCreated:Copy");
  EXPECT_EQ(r.at("s3").at("object").at("versionId").as_string(), "v-1");
}

TEST(NotificationEvent, RemovalRecordCarriesOnlyKeyAndSequencer) {
  EventObject e = created("dir/old file");
  e.event_name = "ObjectRemoved:Delete";
  e.size = 0;
  e.etag.clear();
  json::object r = record_of(event_message_json(e));
  EXPECT_EQ(r.at("eventName").as_string(), "ObjectRemoved:Delete");
  const json::object& o = r.at("s3").at("object").as_object();
  EXPECT_EQ(o.size(), 2u);
  EXPECT_EQ(o.at("key").as_string(), "dir/old+file");
  EXPECT_EQ(o.at("sequencer").as_string(), make_sequencer(42));
  EXPECT_FALSE(o.contains("size"));
  EXPECT_FALSE(o.contains("eTag"));
}

TEST(NotificationEvent, SequencersIncrease) {
  EXPECT_EQ(make_sequencer(0), "0000000000000000");
  EXPECT_EQ(make_sequencer(255), "00000000000000FF");
  EXPECT_EQ(make_sequencer(UINT64_MAX), "FFFFFFFFFFFFFFFF");
  EXPECT_EQ(make_sequencer(1).size(), kSequencerDigits);
  EXPECT_LT(make_sequencer(9), make_sequencer(10));
  EXPECT_LT(make_sequencer(0xFFFF), make_sequencer(0x10000));
}

}  // namespace
}  // namespace nubo::s3
