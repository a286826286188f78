// Messages as SQS carries them: message attributes, their validation and their MD5 digests
// (MD5OfMessageAttributes, MD5OfMessageSystemAttributes), and the body's character rules.
// Plain functions of their arguments; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace nubo::sqs {

struct MessageAttribute {
  std::string data_type;  // "String", "Number" or "Binary", maybe with a custom ".suffix"
  std::string value;      // StringValue, or BinaryValue's bytes (decoded)
  bool binary() const;    // DataType Binary[.suffix]
};
using MessageAttributes = std::map<std::string, MessageAttribute>;

// The MD5 of attrs as SQS computes it (developer guide, "Calculating the MD5 message digest for
// message attributes"): for each attribute in name order, the 4-byte big-endian length and the
// bytes of the name, of the data type, then the transport type (1 for String and Number, 2 for
// Binary) and the 4-byte length and bytes of the value. Hex; empty for no attributes.
std::string md5_of_attributes(const MessageAttributes& attrs);

// Whether SQS accepts text as a message body or attribute value: only #x9 | #xA | #xD |
// #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF, as valid UTF-8.
bool valid_message_text(std::string_view text);
// The first character SQS refuses (0xFFFD for bytes that are not UTF-8), or nullopt.
std::optional<uint32_t> invalid_character(std::string_view text);

// Checks user message attributes (names, data types, values, how many), with SQS's errors
// (InvalidParameterValue and friends). Names: limits.h.
Status validate_attributes(const MessageAttributes& attrs);

// The bytes a message counts against MaximumMessageSize: its body, and each attribute's name,
// data type and value.
size_t message_size(std::string_view body, const MessageAttributes& attrs);

}  // namespace nubo::sqs
