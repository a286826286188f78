#include "services/lambda/recursion.h"

#include <chrono>
#include <cstdlib>

#include "base/crypto.h"
#include "base/ids.h"
#include "base/strings.h"

namespace nubo::lambda {

namespace {

std::string field(std::string_view header, std::string_view name) {
  for (const auto& part : split(header, ';')) {
    std::string_view p = trim(part);
    if (p.size() > name.size() && p.substr(0, name.size()) == name && p[name.size()] == '=') {
      return std::string(p.substr(name.size() + 1));
    }
  }
  return "";
}

}  // namespace

int lineage_depth(std::string_view header) {
  std::string lineage = field(header, "Lineage");  // <hash>:<count>
  size_t colon = lineage.rfind(':');
  if (colon == std::string::npos) return 0;
  std::string n = lineage.substr(colon + 1);
  if (n.empty() || n.size() > 6 || n.find_first_not_of("0123456789") != std::string::npos) {
    return 0;
  }
  return std::atoi(n.c_str());
}

std::string next_hop(std::string_view incoming, std::string_view function_arn) {
  std::string root = field(incoming, "Root");
  if (root.empty()) {
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    char epoch[16];
    std::snprintf(epoch, sizeof epoch, "%08llx", static_cast<unsigned long long>(secs));
    root = std::string("1-") + epoch + "-" + random_hex(12);
  }
  int depth = lineage_depth(incoming) + 1;
  return "Root=" + root + ";Parent=" + random_hex(8) +
         ";Sampled=0;Lineage=" + sha256_hex(function_arn).substr(0, 8) + ":" +
         std::to_string(depth);
}

}  // namespace nubo::lambda
