#include "services/lambda/layers.h"

#include <algorithm>
#include <cctype>

#include "base/crypto.h"
#include "base/json.h"
#include "base/strings.h"
#include "services/lambda/limits.h"

namespace nubo::lambda {

namespace {

const std::vector<std::string>& schema() {
  static const std::vector<std::string> s = {
      // Version numbers are never reused, even after every version of a layer is deleted.
      "CREATE TABLE lambda_layers ("
      " name TEXT PRIMARY KEY,"
      " next_version INTEGER NOT NULL)",
      "CREATE TABLE lambda_layer_versions ("
      " layer_name TEXT NOT NULL,"
      " version INTEGER NOT NULL,"
      " code_hex TEXT NOT NULL,"
      " code_size INTEGER NOT NULL,"
      " config TEXT NOT NULL,"
      " PRIMARY KEY (layer_name, version))",
      "CREATE INDEX lambda_layer_versions_code ON lambda_layer_versions (code_hex)",
  };
  return s;
}

bool name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

bool is_plain_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), name_char);
}

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "arn:PARTITION:lambda:REGION:ACCOUNT:layer:NAME" (+ ":VERSION" with version set) split, or
// nullopt when text does not match Lambda's pattern.
struct ParsedArn {
  std::string region, account, name, version;
};
std::optional<ParsedArn> split_layer_arn(std::string_view text, bool with_version) {
  std::vector<std::string> parts = split(text, ':');
  if (parts.size() != (with_version ? 8u : 7u)) return std::nullopt;
  auto word = [](const std::string& p) {
    return !p.empty() && std::all_of(p.begin(), p.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
    });
  };
  if (parts[0] != "arn" || !word(parts[1]) || parts[2] != "lambda" || !word(parts[3]) ||
      parts[4].size() != 12 || !is_digits(parts[4]) || parts[5] != "layer" ||
      !is_plain_name(parts[6])) {
    return std::nullopt;
  }
  if (with_version && !is_digits(parts[7])) return std::nullopt;
  return ParsedArn{parts[3], parts[4], parts[6], with_version ? parts[7] : std::string()};
}

std::string to_store_json(const LayerVersion& v) {
  json::object o;
  o["Description"] = v.description;
  o["LicenseInfo"] = v.license_info;
  o["CreatedDate"] = v.created_date;
  json::array runtimes, archs;
  for (const auto& r : v.compatible_runtimes) runtimes.push_back(json::value(r));
  for (const auto& a : v.compatible_architectures) archs.push_back(json::value(a));
  o["CompatibleRuntimes"] = std::move(runtimes);
  o["CompatibleArchitectures"] = std::move(archs);
  o["CodeSha256"] = v.code_sha256;
  o["UnzippedSize"] = v.unzipped_size;
  return json::serialize(o);
}

Result<LayerVersion> from_row(const storage::Row& r) {
  LayerVersion v;
  v.layer_name = r.text(0);
  v.version = r.integer(1);
  v.code_hex = r.text(2);
  v.code_size = r.integer(3);
  NUBO_ASSIGN_OR_RETURN(json::value doc, parse_json(r.text(4), "ServiceException"));
  if (!doc.is_object()) return internal_error("a stored layer version is not a JSON object");
  const json::object& o = doc.get_object();
  auto text = [&](std::string_view k) {
    auto it = o.find(k);
    return it != o.end() && it->value().is_string() ? std::string(it->value().get_string())
                                                    : std::string();
  };
  auto list = [&](std::string_view k) {
    std::vector<std::string> out;
    if (const json::array* a = get_array(o, k)) {
      for (const auto& e : *a) {
        if (e.is_string()) out.emplace_back(e.get_string());
      }
    }
    return out;
  };
  v.description = text("Description");
  v.license_info = text("LicenseInfo");
  v.created_date = text("CreatedDate");
  v.compatible_runtimes = list("CompatibleRuntimes");
  v.compatible_architectures = list("CompatibleArchitectures");
  v.code_sha256 = text("CodeSha256");
  v.unzipped_size = get_int(o, "UnzippedSize").value_or(0);
  return v;
}

constexpr const char* kColumns = "layer_name, version, code_hex, code_size, config";

Error layer_not_found() {
  return Error{"ResourceNotFoundException", 404, "The resource you requested does not exist."};
}

}  // namespace

bool LayerFilter::matches(const LayerVersion& v) const {
  auto has = [](const std::vector<std::string>& list, const std::string& x) {
    return std::find(list.begin(), list.end(), x) != list.end();
  };
  if (!runtime.empty() && !has(v.compatible_runtimes, runtime)) return false;
  if (!architecture.empty() && !has(v.compatible_architectures, architecture)) return false;
  return true;
}

Result<std::string> parse_layer_name(std::string_view text, const ArnContext& ctx) {
  Validation v;
  if (text.size() > kLayerNameMax) {
    v.add(text, "layerName", "Member must have length less than or equal to 140");
  }
  std::optional<ParsedArn> arn;
  if (!is_plain_name(text)) {
    arn = split_layer_arn(text, /*with_version=*/false);
    if (!arn) {
      v.add(text, "layerName",
            "Member must satisfy regular expression pattern: " + std::string(kLayerNamePattern));
    }
  }
  NUBO_TRY(v.status());
  if (!arn) return std::string(text);
  if (arn->region != ctx.region || arn->account != ctx.account_id) return layer_not_found();
  return arn->name;
}

Result<std::optional<std::pair<std::string, int64_t>>> parse_layer_version_arn(
    std::string_view text, const ArnContext& ctx, std::string_view field) {
  using Out = std::optional<std::pair<std::string, int64_t>>;
  std::optional<ParsedArn> arn;
  if (text.size() <= kLayerNameMax) arn = split_layer_arn(text, /*with_version=*/true);
  if (!arn || arn->version.size() > 18) {
    return validation_error(
        text, field,
        "Member must satisfy regular expression pattern: " + std::string(kLayerVersionArnPattern));
  }
  if (arn->region != ctx.region || arn->account != ctx.account_id) return Out();
  return Out(std::make_pair(arn->name, std::stoll(arn->version)));
}

LayerRegistry::LayerRegistry(storage::Store* store, const Clock* clock, ArnContext arn,
                             const CodeStore* code, std::mutex* write_mu,
                             std::function<void(const std::vector<std::string>&)> remove_unused,
                             std::function<Result<int64_t>()> total_code_size)
    : store_(store),
      clock_(clock),
      arn_(std::move(arn)),
      code_(code),
      write_mu_(write_mu),
      remove_unused_(std::move(remove_unused)),
      total_code_size_(std::move(total_code_size)) {}

Status LayerRegistry::start() {
  return store_->migrate("lambda_layers", schema());
}

Result<LayerVersion> LayerRegistry::publish(PublishLayerInput in) {
  NUBO_ASSIGN_OR_RETURN(ZipInfo zi, inspect_zip(in.zip));
  Sha256Digest digest = sha256(in.zip);
  LayerVersion v;
  v.layer_name = std::move(in.layer_name);
  v.description = std::move(in.description);
  v.license_info = std::move(in.license_info);
  v.compatible_runtimes = std::move(in.compatible_runtimes);
  v.compatible_architectures = std::move(in.compatible_architectures);
  v.code_hex = hex_encode(digest);
  v.code_sha256 =
      base64_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
  v.code_size = static_cast<int64_t>(in.zip.size());
  v.unzipped_size = zi.unzipped_size;
  v.created_date = format_lambda_time(clock_->now());

  std::lock_guard lock(*write_mu_);
  NUBO_ASSIGN_OR_RETURN(int64_t total, total_code_size_());
  if (total + v.code_size > kTotalCodeSize) {
    return Error{"CodeStorageExceededException", 400, "Code storage limit exceeded."};
  }
  NUBO_TRY(code_->put(v.code_hex, in.zip));
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows rows,
        txn.query("SELECT next_version FROM lambda_layers WHERE name = ?", {v.layer_name}));
    v.version = rows.empty() ? 1 : rows[0].integer(0);
    if (rows.empty()) {
      NUBO_TRY(
          txn.exec("INSERT INTO lambda_layers (name, next_version) VALUES (?, 2)", {v.layer_name}));
    } else {
      NUBO_TRY(txn.exec("UPDATE lambda_layers SET next_version = ? WHERE name = ?",
                        {v.version + 1, v.layer_name}));
    }
    NUBO_TRY(txn.exec(
        "INSERT INTO lambda_layer_versions (layer_name, version, code_hex, code_size, config) "
        "VALUES (?, ?, ?, ?, ?)",
        {v.layer_name, v.version, v.code_hex, v.code_size, to_store_json(v)}));
    return Ok{};
  }));
  return v;
}

Result<std::optional<LayerVersion>> LayerRegistry::load(const std::string& layer_name,
                                                        int64_t version) {
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows,
                        store_->query(std::string("SELECT ") + kColumns +
                                          " FROM lambda_layer_versions WHERE layer_name = ? AND "
                                          "version = ?",
                                      {layer_name, version}));
  if (rows.empty()) return std::optional<LayerVersion>();
  NUBO_ASSIGN_OR_RETURN(LayerVersion v, from_row(rows[0]));
  return std::optional<LayerVersion>(std::move(v));
}

Result<LayerVersion> LayerRegistry::get(const std::string& layer_name, int64_t version) {
  NUBO_ASSIGN_OR_RETURN(auto v, load(layer_name, version));
  if (!v) return layer_not_found();
  return std::move(*v);
}

Result<LayerPage> LayerRegistry::list_versions(const std::string& layer_name,
                                               const LayerFilter& filter, const std::string& marker,
                                               int max_items) {
  int64_t below = INT64_MAX;
  if (!marker.empty()) {
    auto decoded = base64_decode(marker);
    if (!decoded || !is_digits(*decoded) || decoded->size() > 18) {
      return invalid_parameter("Invalid marker: " + marker);
    }
    below = std::stoll(*decoded);
  }
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows,
                        store_->query(std::string("SELECT ") + kColumns +
                                          " FROM lambda_layer_versions WHERE layer_name = ? AND "
                                          "version < ? ORDER BY version DESC",
                                      {layer_name, below}));
  LayerPage page;
  for (const auto& r : rows) {
    NUBO_ASSIGN_OR_RETURN(LayerVersion v, from_row(r));
    if (!filter.matches(v)) continue;
    if (static_cast<int>(page.items.size()) == max_items) {
      page.next_marker = base64_encode(std::to_string(page.items.back().version));
      break;
    }
    page.items.push_back(std::move(v));
  }
  return page;
}

Result<LayerPage> LayerRegistry::list_layers(const LayerFilter& filter, const std::string& marker,
                                             int max_items) {
  std::string after;
  if (!marker.empty()) {
    auto decoded = base64_decode(marker);
    if (!decoded) return invalid_parameter("Invalid marker: " + marker);
    after = *decoded;
  }
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows,
                        store_->query(std::string("SELECT ") + kColumns +
                                          " FROM lambda_layer_versions WHERE layer_name > ? "
                                          "ORDER BY layer_name, version DESC",
                                      {after}));
  LayerPage page;
  for (const auto& r : rows) {
    NUBO_ASSIGN_OR_RETURN(LayerVersion v, from_row(r));
    if (!page.items.empty() && page.items.back().layer_name == v.layer_name) continue;
    if (!filter.matches(v)) continue;
    if (static_cast<int>(page.items.size()) == max_items) {
      page.next_marker = base64_encode(page.items.back().layer_name);
      break;
    }
    page.items.push_back(std::move(v));
  }
  return page;
}

Status LayerRegistry::remove(const std::string& layer_name, int64_t version) {
  std::lock_guard lock(*write_mu_);
  NUBO_ASSIGN_OR_RETURN(auto v, load(layer_name, version));
  if (!v) return Ok{};
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(txn.exec("DELETE FROM lambda_layer_versions WHERE layer_name = ? AND version = ?",
                      {layer_name, version}));
    return Ok{};
  }));
  remove_unused_({v->code_hex});
  return Ok{};
}

Result<std::vector<LayerRef>> LayerRegistry::resolve_locked(const std::vector<std::string>& arns) {
  std::vector<LayerRef> out;
  std::vector<std::pair<std::string, std::string>> names;  // (layer name, arn) seen so far
  for (const std::string& text : arns) {
    NUBO_ASSIGN_OR_RETURN(auto parsed, parse_layer_version_arn(text, arn_, "layers"));
    std::optional<LayerVersion> v;
    if (parsed) {
      NUBO_ASSIGN_OR_RETURN(v, load(parsed->first, parsed->second));
    }
    if (!v) return invalid_parameter("Layer version " + text + " does not exist.");
    for (const auto& [name, seen] : names) {
      if (name == v->layer_name) {
        return invalid_parameter(
            "Two different versions of the same layer are not allowed to be referenced in the "
            "same function. " +
            seen + " and " + text + " are versions of the same layer.");
      }
    }
    names.emplace_back(v->layer_name, text);
    out.push_back(LayerRef{arn_.layer_version_arn(v->layer_name, v->version), v->code_hex,
                           v->code_size, v->unzipped_size});
  }
  return out;
}

Result<bool> LayerRegistry::uses_code(storage::Store& store, const std::string& hex) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      store.query("SELECT COUNT(*) FROM lambda_layer_versions WHERE code_hex = ?", {hex}));
  return !rows.empty() && rows[0].integer(0) > 0;
}

Result<std::vector<std::string>> LayerRegistry::all_code(storage::Store& store) {
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows,
                        store.query("SELECT DISTINCT code_hex FROM lambda_layer_versions"));
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.text(0));
  return out;
}

Result<int64_t> LayerRegistry::total_code_size(storage::Store& store) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      store.query("SELECT COALESCE(SUM(code_size), 0) FROM lambda_layer_versions"));
  return rows.empty() ? int64_t{0} : rows[0].integer(0);
}

}  // namespace nubo::lambda
