#include "services/sqs/wire.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "base/json.h"
#include "services/sqs/limits.h"

namespace nubo::sqs {
namespace {

using Form = std::map<std::string, std::string>;

json::object to_json(const std::string& action, const Form& form) {
  auto r = query_to_json(action, form);
  EXPECT_TRUE(r.ok()) << r.error().code << ": " << r.error().message;
  return r.ok() ? *r : json::object{};
}

// The text between <tag> and the matching </tag> (the first pair), or "<missing tag>".
std::string inner(const std::string& xml, const std::string& tag) {
  const std::string open = "<" + tag + ">", close = "</" + tag + ">";
  size_t a = xml.find(open);
  if (a == std::string::npos) return "<missing " + tag + ">";
  a += open.size();
  size_t b = xml.find(close, a);
  if (b == std::string::npos) return "<unclosed " + tag + ">";
  return xml.substr(a, b - a);
}

// ---- query_to_json ----

TEST(QueryToJsonTest, DropsActionAndVersionAndKeepsScalarsAsStrings) {
  json::object o = to_json("GetQueueUrl", {{"Action", "GetQueueUrl"},
                                           {"Version", std::string(kVersion)},
                                           {"QueueName", "q1"},
                                           {"QueueOwnerAWSAccountId", "123456789012"}});
  EXPECT_EQ(o, (json::object{{"QueueName", "q1"}, {"QueueOwnerAWSAccountId", "123456789012"}}));
}

TEST(QueryToJsonTest, AttributeNameValuePairsBecomeTheAttributesMap) {
  json::object o = to_json("CreateQueue", {{"Action", "CreateQueue"},
                                           {"QueueName", "q1"},
                                           {"Attribute.1.Name", "VisibilityTimeout"},
                                           {"Attribute.1.Value", "60"},
                                           {"Attribute.2.Name", "DelaySeconds"},
                                           {"Attribute.2.Value", "5"}});
  ASSERT_TRUE(o.contains("Attributes")) << json::serialize(o);
  // Attribute values stay strings (the JSON protocol's map of strings), even numeric ones.
  EXPECT_EQ(o["Attributes"], (json::object{{"VisibilityTimeout", "60"}, {"DelaySeconds", "5"}}));
  EXPECT_EQ(o["QueueName"], "q1");
  EXPECT_FALSE(o.contains("Attribute"));
}

TEST(QueryToJsonTest, TagsAreLowercaseOnCreateQueueAndCapitalisedOnTagQueue) {
  const Form tag_form = {{"Tag.1.Key", "team"},
                         {"Tag.1.Value", "core"},
                         {"Tag.2.Key", "env"},
                         {"Tag.2.Value", "prod"}};
  const json::object tags = {{"team", "core"}, {"env", "prod"}};
  Form tq = tag_form;
  tq["QueueUrl"] = "http://q";
  json::object t = to_json("TagQueue", tq);
  EXPECT_EQ(t["Tags"], tags) << json::serialize(t);
  EXPECT_FALSE(t.contains("tags")) << json::serialize(t);

  Form cq = tag_form;
  cq["QueueName"] = "q1";
  json::object c = to_json("CreateQueue", cq);
  EXPECT_EQ(c["tags"], tags) << json::serialize(c);
  EXPECT_FALSE(c.contains("Tags")) << json::serialize(c);
}

TEST(QueryToJsonTest, FlattenedListsKeepNumericIndexOrder) {
  // The form's map sorts "AttributeName.10" before "AttributeName.2"; the list must not.
  json::object o = to_json("GetQueueAttributes", {{"QueueUrl", "http://q"},
                                                  {"AttributeName.10", "third"},
                                                  {"AttributeName.1", "first"},
                                                  {"AttributeName.2", "second"}});
  EXPECT_EQ(o["AttributeNames"], (json::array{"first", "second", "third"}));
}

TEST(QueryToJsonTest, ReceiveMessageListsAndNumbers) {
  json::object o = to_json("ReceiveMessage", {{"QueueUrl", "http://q"},
                                              {"MaxNumberOfMessages", "10"},
                                              {"VisibilityTimeout", "0"},
                                              {"WaitTimeSeconds", "20"},
                                              {"MessageAttributeName.1", "All"},
                                              {"MessageSystemAttributeName.1", "SenderId"},
                                              {"MessageSystemAttributeName.2", "SentTimestamp"}});
  ASSERT_TRUE(o["MaxNumberOfMessages"].is_int64()) << json::serialize(o);
  EXPECT_EQ(o["MaxNumberOfMessages"].as_int64(), 10);
  EXPECT_EQ(o["VisibilityTimeout"].as_int64(), 0);
  EXPECT_EQ(o["WaitTimeSeconds"].as_int64(), 20);
  EXPECT_EQ(o["MessageAttributeNames"], (json::array{"All"}));
  EXPECT_EQ(o["MessageSystemAttributeNames"], (json::array{"SenderId", "SentTimestamp"}));
}

TEST(QueryToJsonTest, UntagQueueKeysBecomeTagKeys) {
  json::object o =
      to_json("UntagQueue", {{"QueueUrl", "http://q"}, {"TagKey.1", "a"}, {"TagKey.2", "b"}});
  EXPECT_EQ(o["TagKeys"], (json::array{"a", "b"}));
}

TEST(QueryToJsonTest, MessageAttributesBecomeAMapOfTypedValues) {
  json::object o = to_json("SendMessage", {{"QueueUrl", "http://q"},
                                           {"MessageBody", "hello"},
                                           {"DelaySeconds", "15"},
                                           {"MessageAttribute.1.Name", "city"},
                                           {"MessageAttribute.1.Value.DataType", "String"},
                                           {"MessageAttribute.1.Value.StringValue", "Paris"},
                                           {"MessageAttribute.2.Name", "blob"},
                                           {"MessageAttribute.2.Value.DataType", "Binary"},
                                           {"MessageAttribute.2.Value.BinaryValue", "AAEC"}});
  EXPECT_EQ(o["MessageBody"], "hello");
  ASSERT_TRUE(o["DelaySeconds"].is_int64()) << json::serialize(o);
  EXPECT_EQ(o["DelaySeconds"].as_int64(), 15);
  EXPECT_EQ(o["MessageAttributes"],
            (json::object{{"city", {{"DataType", "String"}, {"StringValue", "Paris"}}},
                          {"blob", {{"DataType", "Binary"}, {"BinaryValue", "AAEC"}}}}))
      << json::serialize(o);
}

TEST(QueryToJsonTest, BatchEntriesBecomeAnArrayOfObjectsWithNestedAttributes) {
  json::object o =
      to_json("SendMessageBatch",
              {{"QueueUrl", "http://q"},
               {"SendMessageBatchRequestEntry.1.Id", "a"},
               {"SendMessageBatchRequestEntry.1.MessageBody", "first"},
               {"SendMessageBatchRequestEntry.1.DelaySeconds", "3"},
               {"SendMessageBatchRequestEntry.1.MessageAttribute.1.Name", "k"},
               {"SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType", "Number"},
               {"SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue", "7"},
               {"SendMessageBatchRequestEntry.10.Id", "c"},
               {"SendMessageBatchRequestEntry.10.MessageBody", "third"},
               {"SendMessageBatchRequestEntry.2.Id", "b"},
               {"SendMessageBatchRequestEntry.2.MessageBody", "second"}});
  EXPECT_EQ(o["QueueUrl"], "http://q");
  ASSERT_TRUE(o["Entries"].is_array()) << json::serialize(o);
  const json::array& e = o["Entries"].as_array();
  ASSERT_EQ(e.size(), 3u) << json::serialize(o);
  EXPECT_EQ(e[0], (json::object{{"DelaySeconds", 3},
                                {"Id", "a"},
                                {"MessageBody", "first"},
                                {"MessageAttributes",
                                 {{"k", {{"DataType", "Number"}, {"StringValue", "7"}}}}}}))
      << json::serialize(e[0]);
  EXPECT_EQ(e[1], (json::object{{"Id", "b"}, {"MessageBody", "second"}}));
  EXPECT_EQ(e[2], (json::object{{"Id", "c"}, {"MessageBody", "third"}}));
  EXPECT_FALSE(o.contains("SendMessageBatchRequestEntry"));
}

TEST(QueryToJsonTest, ChangeVisibilityBatchEntriesHaveNumericTimeouts) {
  json::object o =
      to_json("ChangeMessageVisibilityBatch",
              {{"ChangeMessageVisibilityBatchRequestEntry.1.Id", "x"},
               {"ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle", "rh"},
               {"ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout", "45"}});
  EXPECT_EQ(o["Entries"],
            (json::array{{{"Id", "x"}, {"ReceiptHandle", "rh"}, {"VisibilityTimeout", 45}}}));
}

TEST(QueryToJsonTest, RefusesANumberParameterThatIsNotANumber) {
  for (const char* bad : {"abc", "", "1.5", "5s", "-", "1234567890123"}) {
    auto r =
        query_to_json("ReceiveMessage", {{"QueueUrl", "http://q"}, {"MaxNumberOfMessages", bad}});
    ASSERT_FALSE(r.ok()) << "\"" << bad << "\"";
    EXPECT_EQ(r.error().code, "InvalidParameterValue");
    EXPECT_EQ(r.error().status, 400);
    EXPECT_NE(r.error().message.find("MaxNumberOfMessages"), std::string::npos)
        << r.error().message;
  }
  auto r = query_to_json("SendMessage", {{"MessageBody", "x"}, {"DelaySeconds", "abc"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "InvalidParameterValue");
}

TEST(QueryToJsonTest, RefusesANonNumberInsideABatchEntry) {
  auto r =
      query_to_json("SendMessageBatch", {{"SendMessageBatchRequestEntry.1.Id", "a"},
                                         {"SendMessageBatchRequestEntry.1.DelaySeconds", "x"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "InvalidParameterValue");
}

TEST(QueryToJsonTest, NegativeNumbersStayNumbersForTheLogicToRefuse) {
  json::object o = to_json("SendMessage", {{"MessageBody", "x"}, {"DelaySeconds", "-1"}});
  ASSERT_TRUE(o["DelaySeconds"].is_int64());
  EXPECT_EQ(o["DelaySeconds"].as_int64(), -1);
}

// ---- json_to_query_xml ----

TEST(QueryXmlTest, HasTheNamespaceTheRequestIdAndTheResponseElement) {
  std::string xml = json_to_query_xml("GetQueueUrl", {{"QueueUrl", "http://h/1/q"}}, "rid-123");
  EXPECT_NE(xml.find("<GetQueueUrlResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">"),
            std::string::npos)
      << xml;
  EXPECT_EQ(inner(xml, "GetQueueUrlResult"), "<QueueUrl>http://h/1/q</QueueUrl>");
  EXPECT_EQ(inner(xml, "ResponseMetadata"), "<RequestId>rid-123</RequestId>");
  const std::string end = "</GetQueueUrlResponse>";
  EXPECT_EQ(xml.rfind(end), xml.size() - end.size()) << xml;
  EXPECT_EQ(xml.rfind("<?xml", 0), 0u) << xml;
}

TEST(QueryXmlTest, AnEmptyListQueuesResultStillHasItsResultElement) {
  std::string xml = json_to_query_xml("ListQueues", {}, "r");
  EXPECT_NE(xml.find("<ListQueuesResult></ListQueuesResult>"), std::string::npos) << xml;
  EXPECT_EQ(xml.find("<ListQueuesResult/>"), std::string::npos) << xml;
}

TEST(QueryXmlTest, ActionsWithoutOutputHaveNoResultElement) {
  for (const char* action : {"DeleteQueue", "DeleteMessage", "PurgeQueue", "TagQueue"}) {
    std::string xml = json_to_query_xml(action, {}, "r");
    EXPECT_EQ(xml.find(std::string(action) + "Result"), std::string::npos) << xml;
    EXPECT_NE(xml.find("<" + std::string(action) + "Response xmlns="), std::string::npos) << xml;
    EXPECT_NE(xml.find("<RequestId>r</RequestId>"), std::string::npos) << xml;
  }
}

TEST(QueryXmlTest, QueueUrlsAreOneElementEach) {
  std::string xml = json_to_query_xml(
      "ListQueues", {{"QueueUrls", json::array{"http://h/1/a", "http://h/1/b"}}}, "r");
  EXPECT_EQ(inner(xml, "ListQueuesResult"),
            "<QueueUrl>http://h/1/a</QueueUrl><QueueUrl>http://h/1/b</QueueUrl>");
}

TEST(QueryXmlTest, EscapesMarkupAndWritesCarriageReturnsAsReferences) {
  std::string xml = json_to_query_xml(
      "ReceiveMessage", {{"Messages", json::array{{{"Body", "a\r\nb <&> \"q\""}}}}}, "r");
  EXPECT_EQ(inner(xml, "Body"), "a&#xD;\nb &lt;&amp;&gt; &quot;q&quot;") << xml;
  EXPECT_EQ(xml.find('\r'), std::string::npos) << "a raw CR left in the XML";
}

TEST(QueryXmlTest, EscapesTheRequestId) {
  std::string xml = json_to_query_xml("DeleteQueue", {}, "a<b");
  EXPECT_NE(xml.find("<RequestId>a&lt;b</RequestId>"), std::string::npos) << xml;
}

TEST(QueryXmlTest, BatchSuccessesAndFailuresHaveTheirEntryElements) {
  json::object result = {
      {"Successful", json::array{{{"Id", "a"}, {"MessageId", "m1"}, {"MD5OfMessageBody", "d41d"}}}},
      {"Failed", json::array{{{"Id", "b"},
                              {"SenderFault", true},
                              {"Code", "InvalidParameterValue"},
                              {"Message", "bad"}}}}};
  std::string xml = json_to_query_xml("SendMessageBatch", result, "r");
  EXPECT_EQ(inner(xml, "SendMessageBatchResult"),
            "<SendMessageBatchResultEntry><Id>a</Id><MessageId>m1</MessageId>"
            "<MD5OfMessageBody>d41d</MD5OfMessageBody></SendMessageBatchResultEntry>"
            "<BatchResultErrorEntry><Id>b</Id><SenderFault>true</SenderFault>"
            "<Code>InvalidParameterValue</Code><Message>bad</Message></BatchResultErrorEntry>");
  EXPECT_EQ(xml.find("<Successful>"), std::string::npos) << xml;
  EXPECT_EQ(xml.find("<Failed>"), std::string::npos) << xml;
}

TEST(QueryXmlTest, DeleteBatchEntriesAreNamedAfterTheAction) {
  std::string xml = json_to_query_xml(
      "DeleteMessageBatch", {{"Successful", json::array{{{"Id", "x"}}}}, {"Failed", json::array{}}},
      "r");
  EXPECT_EQ(inner(xml, "DeleteMessageBatchResult"),
            "<DeleteMessageBatchResultEntry><Id>x</Id></DeleteMessageBatchResultEntry>");
}

TEST(QueryXmlTest, AttributesMapBecomesNameValueElements) {
  std::string xml = json_to_query_xml(
      "GetQueueAttributes",
      {{"Attributes", {{"VisibilityTimeout", "30"}, {"Policy", "{\"a\":\"<b>\"}"}}}}, "r");
  EXPECT_EQ(inner(xml, "GetQueueAttributesResult"),
            "<Attribute><Name>VisibilityTimeout</Name><Value>30</Value></Attribute>"
            "<Attribute><Name>Policy</Name><Value>{&quot;a&quot;:&quot;&lt;b&gt;&quot;}</Value>"
            "</Attribute>");
}

TEST(QueryXmlTest, TagsMapBecomesKeyValueElements) {
  std::string xml = json_to_query_xml("ListQueueTags", {{"Tags", {{"team", "core"}}}}, "r");
  EXPECT_EQ(inner(xml, "ListQueueTagsResult"), "<Tag><Key>team</Key><Value>core</Value></Tag>");
}

TEST(QueryXmlTest, ReceivedMessagesCarryAttributesAndMessageAttributes) {
  json::object msg = {
      {"MessageId", "m1"},
      {"ReceiptHandle", "rh"},
      {"Attributes", {{"ApproximateReceiveCount", "1"}}},
      {"MessageAttributes", {{"city", {{"StringValue", "Paris"}, {"DataType", "String"}}}}}};
  std::string xml = json_to_query_xml("ReceiveMessage", {{"Messages", json::array{msg}}}, "r");
  EXPECT_EQ(inner(xml, "ReceiveMessageResult"),
            "<Message><MessageId>m1</MessageId><ReceiptHandle>rh</ReceiptHandle>"
            "<Attribute><Name>ApproximateReceiveCount</Name><Value>1</Value></Attribute>"
            "<MessageAttribute><Name>city</Name><Value><StringValue>Paris</StringValue>"
            "<DataType>String</DataType></Value></MessageAttribute></Message>")
      << xml;
}

TEST(QueryXmlTest, BinaryMessageAttributesKeepTheirBase64Value) {
  json::object msg = {
      {"MessageAttributes", {{"b", {{"BinaryValue", "AAE="}, {"DataType", "Binary"}}}}}};
  std::string xml = json_to_query_xml("ReceiveMessage", {{"Messages", json::array{msg}}}, "r");
  EXPECT_EQ(inner(xml, "MessageAttribute"),
            "<Name>b</Name><Value><BinaryValue>AAE=</BinaryValue><DataType>Binary</DataType>"
            "</Value>");
}

TEST(QueryXmlTest, NumbersAndBooleansAreWrittenAsText) {
  std::string xml = json_to_query_xml(
      "ChangeMessageVisibilityBatch",
      {{"Failed", json::array{{{"Id", "x"}, {"SenderFault", false}, {"Code", "C"}}}}, {"Count", 7}},
      "r");
  EXPECT_NE(xml.find("<SenderFault>false</SenderFault>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<Count>7</Count>"), std::string::npos) << xml;
}

// ---- errors ----

class WireErrorTest : public ::testing::Test {
 protected:
  net::Request req_{net::http::verb::post, "/", 11};
};

TEST_F(WireErrorTest, JsonErrorUsesTheModelledShapeAndTheQueryCodeHeader) {
  Error e{"AWS.SimpleQueueService.NonExistentQueue", 400,
          "The specified queue does not exist for this wsdl version."};
  net::Response res = json_error(req_, e, "rid-1");
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_EQ(res[net::http::field::content_type], "application/x-amz-json-1.0");
  EXPECT_EQ(res["x-amzn-query-error"], "AWS.SimpleQueueService.NonExistentQueue;Sender");
  EXPECT_EQ(res["x-amzn-RequestId"], "rid-1");
  auto body = parse_json(res.body());
  ASSERT_TRUE(body.ok()) << res.body();
  ASSERT_TRUE(body->is_object());
  EXPECT_EQ(body->as_object(), (json::object{{"__type", "com.amazonaws.sqs#QueueDoesNotExist"},
                                             {"message", "The specified queue does not exist."}}));
}

TEST_F(WireErrorTest, JsonErrorMapsOtherModelledCodes) {
  struct Case {
    const char* code;
    const char* shape;
  };
  for (Case c :
       {Case{"QueueAlreadyExists", "QueueNameExists"},
        Case{"AWS.SimpleQueueService.MessageNotInflight", "MessageNotInflight"},
        Case{"AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "BatchEntryIdsNotDistinct"},
        Case{"ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid"}}) {
    net::Response res = json_error(req_, Error{c.code, 400, "m"}, "r");
    auto body = parse_json(res.body());
    ASSERT_TRUE(body.ok()) << res.body();
    EXPECT_EQ(get_string(body->as_object(), "__type"), std::string("com.amazonaws.sqs#") + c.shape);
    EXPECT_EQ(get_string(body->as_object(), "message"), "m");
    EXPECT_EQ(res["x-amzn-query-error"], std::string(c.code) + ";Sender");
  }
}

TEST_F(WireErrorTest, JsonErrorKeepsAnUnmodelledCodeAndItsMessage) {
  Error e{"InvalidParameterValue", 400, "Value abc for parameter X is invalid."};
  net::Response res = json_error(req_, e, "r");
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_EQ(res["x-amzn-query-error"], "InvalidParameterValue;Sender");
  auto body = parse_json(res.body());
  ASSERT_TRUE(body.ok()) << res.body();
  EXPECT_EQ(get_string(body->as_object(), "__type"), "com.amazonaws.sqs#InvalidParameterValue");
  EXPECT_EQ(get_string(body->as_object(), "message"), "Value abc for parameter X is invalid.");
}

TEST_F(WireErrorTest, JsonErrorBlamesTheReceiverForServerErrors) {
  net::Response res = json_error(req_, Error{"InternalError", 500, "boom"}, "r");
  EXPECT_EQ(res.result_int(), 500u);
  EXPECT_EQ(res["x-amzn-query-error"], "InternalError;Receiver");
}

TEST_F(WireErrorTest, QueryErrorIsAnErrorResponseDocument) {
  Error e{"AWS.SimpleQueueService.NonExistentQueue", 400, "No <such> queue"};
  net::Response res = query_error(req_, e, "rid-9");
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_EQ(inner(res.body(), "Type"), "Sender");
  EXPECT_EQ(inner(res.body(), "Code"), "AWS.SimpleQueueService.NonExistentQueue");
  EXPECT_EQ(inner(res.body(), "Message"), "No &lt;such&gt; queue");
  EXPECT_EQ(inner(res.body(), "RequestId"), "rid-9");
  EXPECT_NE(res.body().find("<ErrorResponse>"), std::string::npos) << res.body();
}

}  // namespace
}  // namespace nubo::sqs
