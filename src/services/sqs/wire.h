// The wire layer's pure parts, apart from the service so that they are tested on their own:
// a Query-protocol form read into the JSON protocol's request shape, a JSON result written as
// the Query protocol's XML, and the error shapes of both protocols.
#pragma once

#include <map>
#include <string>

#include "base/json.h"
#include "base/result.h"
#include "net/http.h"

namespace nubo::sqs {

// The form of a Query request (Action=SendMessage&MessageAttribute.1.Name=...) as the JSON
// protocol's request object ({"MessageAttributes": {"a": {"DataType": ...}}}): flattened lists
// (AttributeName.N, TagKey.N, ...), maps (Attribute.N.Name/Value, Tag.N.Key/Value,
// MessageAttribute.N.Name/Value.*) and batch entries (<Action>RequestEntry.N.*) become arrays
// and objects; numbers become numbers; Action and Version are left out. Errors: a number that
// is not one (InvalidParameterValue).
Result<json::object> query_to_json(const std::string& action,
                                   const std::map<std::string, std::string>& form);

// A JSON result of `action` as the Query protocol's XML document (<ActionResponse
// xmlns=...><ActionResult>...</ActionResult><ResponseMetadata>...).
std::string json_to_query_xml(const std::string& action, const json::object& result,
                              const std::string& request_id);

// The JSON protocol's error: {"__type": "com.amazonaws.sqs#<Shape>", "message"} and the
// x-amzn-query-error header ("<Query code>;Sender") that awsQueryCompatible clients read.
net::Response json_error(const net::Request& req, const Error& e, const std::string& request_id);

// The Query protocol's error document (<ErrorResponse><Error><Type><Code><Message>...).
net::Response query_error(const net::Request& req, const Error& e, const std::string& request_id);

}  // namespace nubo::sqs
