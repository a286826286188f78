#include "services/sqs/messages.h"

#include <cctype>
#include <cstdint>

#include "base/crypto.h"
#include "base/strings.h"
#include "services/sqs/limits.h"

namespace nubo::sqs {

namespace {

void append_length_prefixed(std::string& out, std::string_view bytes) {
  uint32_t n = static_cast<uint32_t>(bytes.size());
  out.push_back(static_cast<char>((n >> 24) & 0xff));
  out.push_back(static_cast<char>((n >> 16) & 0xff));
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  out.push_back(static_cast<char>(n & 0xff));
  out.append(bytes);
}

Error invalid(std::string message) {
  return Error{"InvalidParameterValue", 400, std::move(message)};
}

bool name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

}  // namespace

bool MessageAttribute::binary() const {
  return data_type == "Binary" || starts_with(data_type, "Binary.");
}

std::string md5_of_attributes(const MessageAttributes& attrs) {
  if (attrs.empty()) return "";
  std::string buf;
  for (const auto& [name, a] : attrs) {  // std::map: name order
    append_length_prefixed(buf, name);
    append_length_prefixed(buf, a.data_type);
    buf.push_back(a.binary() ? 2 : 1);
    append_length_prefixed(buf, a.value);
  }
  return md5_hex(buf);
}

bool valid_message_text(std::string_view text) {
  return !invalid_character(text);
}

std::optional<uint32_t> invalid_character(std::string_view text) {
  const uint32_t kNotUtf8 = 0xfffd;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    uint32_t cp;
    int len;
    if (*p < 0x80) {
      cp = *p;
      len = 1;
    } else if ((*p & 0xe0) == 0xc0) {
      cp = *p & 0x1f;
      len = 2;
    } else if ((*p & 0xf0) == 0xe0) {
      cp = *p & 0x0f;
      len = 3;
    } else if ((*p & 0xf8) == 0xf0) {
      cp = *p & 0x07;
      len = 4;
    } else {
      return kNotUtf8;
    }
    if (end - p < len) return kNotUtf8;
    for (int i = 1; i < len; ++i) {
      if ((p[i] & 0xc0) != 0x80) return kNotUtf8;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    // Overlong forms and surrogates are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) {
      return kNotUtf8;
    }
    if (cp > 0x10ffff) return kNotUtf8;
    bool ok = cp == 0x9 || cp == 0xa || cp == 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
              (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
    if (!ok) return cp;
    p += len;
  }
  return std::nullopt;
}

Status validate_attributes(const MessageAttributes& attrs) {
  if (attrs.size() > kMessageAttributesMax) {
    return invalid("Number of message attributes [" + std::to_string(attrs.size()) +
                   "] exceeds the allowed maximum [" + std::to_string(kMessageAttributesMax) +
                   "].");
  }
  for (const auto& [name, a] : attrs) {
    bool ok = !name.empty() && name.size() <= kAttributeNameMax && name.front() != '.' &&
              name.back() != '.' && name.find("..") == std::string::npos;
    for (char c : name) ok = ok && name_char(c);
    if (!ok) return invalid("Message (user) attribute name '" + name + "' is invalid.");
    std::string lower = to_lower(name);
    if (starts_with(lower, "aws.") || starts_with(lower, "amazon.")) {
      return invalid("Message (user) attribute name '" + name +
                     "' is invalid. Reason: The name cannot start with AWS. or Amazon.");
    }
    if (a.data_type.empty()) {
      return invalid("The message attribute '" + name + "' must contain non-empty message " +
                     "attribute type.");
    }
    std::string base = a.data_type.substr(0, a.data_type.find('.'));
    if (a.data_type.size() > kDataTypeMax ||
        (base != "String" && base != "Number" && base != "Binary")) {
      return invalid("The message attribute '" + name + "' has an invalid message attribute " +
                     "type, the set of supported type prefixes is Binary, Number, and String.");
    }
    if (a.value.empty()) {
      return invalid("The message attribute '" + name + "' must contain non-empty message " +
                     "attribute value for message attribute type '" + base + "'.");
    }
    if (base == "Number") {
      std::string_view v = a.value;
      size_t i = (v[0] == '-' || v[0] == '+') ? 1 : 0;
      bool digits = false, dot = false, good = i < v.size();
      for (; i < v.size() && good; ++i) {
        if (std::isdigit(static_cast<unsigned char>(v[i]))) {
          digits = true;
        } else if (v[i] == '.' && !dot) {
          dot = true;
        } else if ((v[i] == 'e' || v[i] == 'E') && digits && i + 1 < v.size()) {
          size_t j = i + 1 + (v[i + 1] == '-' || v[i + 1] == '+');
          good = j < v.size();  // at least one digit after the sign
          for (; j < v.size(); ++j) {
            good = good && std::isdigit(static_cast<unsigned char>(v[j]));
          }
          break;
        } else {
          good = false;
        }
      }
      if (!good || !digits) {
        return invalid("Can't cast the value of message (user) attribute '" + name +
                       "' to a number.");
      }
    }
    if (!a.binary() && !valid_message_text(a.value)) {
      return invalid("Message (user) attribute '" + name +
                     "' must contain a valid string value of type 'String'.");
    }
  }
  return Ok{};
}

size_t message_size(std::string_view body, const MessageAttributes& attrs) {
  size_t n = body.size();
  for (const auto& [name, a] : attrs) n += name.size() + a.data_type.size() + a.value.size();
  return n;
}

}  // namespace nubo::sqs
