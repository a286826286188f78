#include "services/lambda/registry.h"

#include <filesystem>
#include <set>

#include "base/crypto.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/strings.h"
#include "services/lambda/limits.h"
#include "services/lambda/permissions.h"

namespace nubo::lambda {

namespace {

const std::vector<std::string>& schema() {
  static const std::vector<std::string> s = {
      "CREATE TABLE lambda_functions ("
      " name TEXT PRIMARY KEY,"
      " created_ms INTEGER NOT NULL,"
      " next_version INTEGER NOT NULL,"
      " published_revision TEXT NOT NULL,"
      " tags TEXT NOT NULL)",
      "CREATE TABLE lambda_versions ("
      " function_name TEXT NOT NULL,"
      " version_num INTEGER NOT NULL,"
      " code_hex TEXT NOT NULL,"
      " code_size INTEGER NOT NULL,"
      " config TEXT NOT NULL,"
      " PRIMARY KEY (function_name, version_num))",
      "CREATE INDEX lambda_versions_code ON lambda_versions (code_hex)",
      "CREATE TABLE lambda_aliases ("
      " function_name TEXT NOT NULL,"
      " name TEXT NOT NULL,"
      " config TEXT NOT NULL,"
      " PRIMARY KEY (function_name, name))",
      // PutFunctionConcurrency; NULL: no reservation.
      "ALTER TABLE lambda_functions ADD COLUMN reserved_concurrency INTEGER",
      // PutProvisionedConcurrencyConfig: qualifier is a version number or an alias name.
      "CREATE TABLE lambda_provisioned ("
      " function_name TEXT NOT NULL,"
      " qualifier TEXT NOT NULL,"
      " requested INTEGER NOT NULL,"
      " last_modified TEXT NOT NULL,"
      " PRIMARY KEY (function_name, qualifier))",
      // The layers of each version (its config has them too): which packages are in use.
      "CREATE TABLE lambda_version_layers ("
      " function_name TEXT NOT NULL,"
      " version_num INTEGER NOT NULL,"
      " position INTEGER NOT NULL,"
      " code_hex TEXT NOT NULL,"
      " PRIMARY KEY (function_name, version_num, position))",
      "CREATE INDEX lambda_version_layers_code ON lambda_version_layers (code_hex)",
      // AddPermission: one policy document per function and qualifier ("" is the unqualified
      // function; else a version number or an alias name).
      "CREATE TABLE lambda_policies ("
      " function_name TEXT NOT NULL,"
      " qualifier TEXT NOT NULL,"
      " document TEXT NOT NULL,"
      " PRIMARY KEY (function_name, qualifier))",
      // CreateFunctionUrlConfig: qualifier "" or an alias name; url_id is the URL's host label.
      "CREATE TABLE lambda_url_configs ("
      " function_name TEXT NOT NULL,"
      " qualifier TEXT NOT NULL,"
      " url_id TEXT NOT NULL UNIQUE,"
      " config TEXT NOT NULL,"
      " PRIMARY KEY (function_name, qualifier))",
  };
  return s;
}

struct FunctionRow {
  std::string name;
  int64_t next_version = 1;
  std::string published_revision;
  Tags tags;
};

std::string tags_json(const Tags& tags) {
  json::object o;
  for (const auto& [k, v] : tags) o[k] = v;
  return json::serialize(o);
}

Tags tags_from_json(std::string_view text) {
  Tags tags;
  auto v = parse_json(text, "ServiceException");
  if (!v.ok() || !v->is_object()) return tags;
  for (const auto& kv : v->get_object()) {
    if (kv.value().is_string()) tags.emplace_back(kv.key(), kv.value().get_string());
  }
  return tags;
}

// Q is storage::Store or storage::Txn: both have query(sql, params).
template <typename Q>
Result<std::optional<FunctionRow>> load_function(Q& q, const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      q.query("SELECT name, next_version, published_revision, tags FROM lambda_functions "
              "WHERE name = ?",
              {name}));
  if (rows.empty()) return std::optional<FunctionRow>();
  FunctionRow f;
  f.name = rows[0].text(0);
  f.next_version = rows[0].integer(1);
  f.published_revision = rows[0].text(2);
  f.tags = tags_from_json(rows[0].text(3));
  return std::optional<FunctionRow>(std::move(f));
}

template <typename Q>
Result<std::optional<VersionConfig>> load_version(Q& q, const std::string& name, int64_t num) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      q.query("SELECT config FROM lambda_versions WHERE function_name = ? AND version_num = ?",
              {name, num}));
  if (rows.empty()) return std::optional<VersionConfig>();
  NUBO_ASSIGN_OR_RETURN(VersionConfig c, version_from_store_json(rows[0].text(0)));
  return std::optional<VersionConfig>(std::move(c));
}

template <typename Q>
Result<std::vector<VersionConfig>> load_versions(Q& q, const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows,
                        q.query("SELECT config FROM lambda_versions WHERE function_name = ? "
                                "ORDER BY version_num",
                                {name}));
  std::vector<VersionConfig> out;
  for (const auto& r : rows) {
    NUBO_ASSIGN_OR_RETURN(VersionConfig c, version_from_store_json(r.text(0)));
    out.push_back(std::move(c));
  }
  return out;
}

template <typename Q>
Result<std::vector<AliasConfig>> load_aliases(Q& q, const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      q.query("SELECT config FROM lambda_aliases WHERE function_name = ? ORDER BY name", {name}));
  std::vector<AliasConfig> out;
  for (const auto& r : rows) {
    NUBO_ASSIGN_OR_RETURN(AliasConfig a, alias_from_store_json(r.text(0)));
    out.push_back(std::move(a));
  }
  return out;
}

template <typename Q>
Result<std::optional<AliasConfig>> load_alias(Q& q, const std::string& fn,
                                              const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      q.query("SELECT config FROM lambda_aliases WHERE function_name = ? AND name = ?",
              {fn, name}));
  if (rows.empty()) return std::optional<AliasConfig>();
  NUBO_ASSIGN_OR_RETURN(AliasConfig a, alias_from_store_json(rows[0].text(0)));
  return std::optional<AliasConfig>(std::move(a));
}

int64_t version_num(const std::string& v) {
  if (v.empty() || v == kLatest) return 0;
  if (!is_version_number(v) || v.size() > 18) return -1;
  return std::stoll(v);
}

Status put_version(storage::Txn& txn, const VersionConfig& c, bool insert) {
  int64_t num = version_num(c.version);
  NUBO_TRY(txn.exec("DELETE FROM lambda_version_layers WHERE function_name = ? AND version_num = ?",
                    {c.function_name, num}));
  for (size_t i = 0; i < c.layers.size(); ++i) {
    NUBO_TRY(txn.exec(
        "INSERT INTO lambda_version_layers (function_name, version_num, position, code_hex) "
        "VALUES (?, ?, ?, ?)",
        {c.function_name, num, static_cast<int64_t>(i), c.layers[i].code_hex}));
  }
  if (insert) {
    NUBO_TRY(txn.exec(
        "INSERT INTO lambda_versions (function_name, version_num, code_hex, code_size, config) "
        "VALUES (?, ?, ?, ?, ?)",
        {c.function_name, num, c.code_hex, c.code_size, to_store_json(c)}));
  } else {
    NUBO_TRY(
        txn.exec("UPDATE lambda_versions SET code_hex = ?, code_size = ?, config = ? "
                 "WHERE function_name = ? AND version_num = ?",
                 {c.code_hex, c.code_size, to_store_json(c), c.function_name, num}));
  }
  return Ok{};
}

Status put_alias(storage::Txn& txn, const AliasConfig& a, bool insert) {
  if (insert) {
    NUBO_TRY(txn.exec("INSERT INTO lambda_aliases (function_name, name, config) VALUES (?, ?, ?)",
                      {a.function_name, a.name, to_store_json(a)}));
  } else {
    NUBO_TRY(txn.exec("UPDATE lambda_aliases SET config = ? WHERE function_name = ? AND name = ?",
                      {to_store_json(a), a.function_name, a.name}));
  }
  return Ok{};
}

bool is_provided(std::string_view runtime) {
  return runtime.rfind("provided", 0) == 0;
}

void apply_settings(VersionConfig& c, const FunctionSettings& s) {
  if (s.runtime) c.runtime = *s.runtime;
  if (s.role) c.role = *s.role;
  if (s.handler) c.handler = *s.handler;
  if (s.description) c.description = *s.description;
  if (s.timeout) c.timeout = *s.timeout;
  if (s.memory_size) c.memory_size = *s.memory_size;
  if (s.ephemeral_storage) c.ephemeral_storage = *s.ephemeral_storage;
  if (s.environment) {
    c.has_environment = true;
    c.environment = *s.environment;
  }
  if (s.tracing_mode) c.tracing_mode = *s.tracing_mode;
  if (s.architecture) c.architecture = *s.architecture;
  if (s.dead_letter_arn) c.dead_letter_arn = *s.dead_letter_arn;
  if (s.kms_key_arn) c.kms_key_arn = *s.kms_key_arn;
  if (s.snap_start_apply_on) c.snap_start_apply_on = *s.snap_start_apply_on;
  if (s.vpc) {
    c.vpc_subnet_ids = s.vpc->subnet_ids;
    c.vpc_security_group_ids = s.vpc->security_group_ids;
    c.vpc_ipv6_dual_stack = s.vpc->ipv6_dual_stack;
  }
  if (s.log_format) {
    bool to_json = *s.log_format == "JSON";
    if (to_json && c.log_format != "JSON") {
      if (c.application_log_level.empty()) c.application_log_level = "INFO";
      if (c.system_log_level.empty()) c.system_log_level = "INFO";
    } else if (!to_json) {
      c.application_log_level.clear();
      c.system_log_level.clear();
    }
    c.log_format = *s.log_format;
  }
  if (s.log_group) c.log_group = *s.log_group;
  if (s.application_log_level && c.log_format == "JSON") {
    c.application_log_level = *s.application_log_level;
  }
  if (s.system_log_level && c.log_format == "JSON") c.system_log_level = *s.system_log_level;
}

Status check_handler(const VersionConfig& c) {
  if (!is_provided(c.runtime) && c.handler.empty()) {
    return invalid_parameter(
        "Runtime and Handler are mandatory parameters for functions created with deployment "
        "packages.");
  }
  return Ok{};
}

Error code_storage_exceeded() {
  return Error{"CodeStorageExceededException", 400, "Code storage limit exceeded."};
}

// Functions' and layers' packages, as Lambda counts its TotalCodeSize.
Result<int64_t> total_code_size(storage::Store& q) {
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows,
                        q.query("SELECT COALESCE(SUM(code_size), 0) FROM lambda_versions"));
  NUBO_ASSIGN_OR_RETURN(int64_t layers, LayerRegistry::total_code_size(q));
  return (rows.empty() ? int64_t{0} : rows[0].integer(0)) + layers;
}

// Lambda's "Lambda quotas": the function's unzipped code and all its layers together.
Status check_unzipped_size(const VersionConfig& c) {
  int64_t total = c.code_size_unzipped;
  for (const LayerRef& l : c.layers) total += l.unzipped_size;
  if (!c.layers.empty() && total > kCodeSizeUnzipped) {
    return invalid_parameter(
        "Function code combined with layers exceeds the maximum allowed size of " +
        std::to_string(kCodeSizeUnzipped) + " bytes. The actual size is " + std::to_string(total) +
        " bytes.");
  }
  return Ok{};
}

std::string encode_marker(const std::string& key) {
  return base64_encode(key);
}
std::string decode_marker(const std::string& marker) {
  auto d = base64_decode(marker);
  return d ? *d : std::string();
}

}  // namespace

FunctionRegistry::FunctionRegistry(storage::Store* store, const Clock* clock, ArnContext arn,
                                   std::string root,
                                   std::function<void(const std::string&)> on_change)
    : store_(store),
      clock_(clock),
      arn_(std::move(arn)),
      code_(std::move(root)),
      on_change_(std::move(on_change)),
      layers_(
          store, clock, arn_, &code_, &write_mu_,
          [this](const std::vector<std::string>& hexes) { remove_unused_code(hexes); },
          [this] { return total_code_size(*store_); }) {}

std::string FunctionRegistry::now_string() const {
  return format_lambda_time(clock_->now());
}

Status FunctionRegistry::start() {
  NUBO_TRY(store_->migrate("lambda", schema()));
  NUBO_TRY(layers_.start());
  code_.clean_temporaries();
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows,
                        store_->query("SELECT code_hex FROM lambda_versions UNION "
                                      "SELECT code_hex FROM lambda_version_layers"));
  std::vector<std::string> hexes;
  for (const auto& r : rows) hexes.push_back(r.text(0));
  NUBO_ASSIGN_OR_RETURN(std::vector<std::string> layer_hexes, LayerRegistry::all_code(*store_));
  hexes.insert(hexes.end(), layer_hexes.begin(), layer_hexes.end());
  std::set<std::string> used;
  for (const std::string& hex : hexes) {
    if (!used.insert(hex).second) continue;
    if (auto st = code_.ensure_unpacked(hex); !st.ok()) {
      log_error("lambda: cannot unpack code package " + hex + ": " + st.error().message);
    }
  }
  // Packages no version uses any more (left by updates before this start) are removed.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(
           std::filesystem::path(code_.zip_path("x")).parent_path(), ec)) {
    std::string file = entry.path().filename().string();
    if (file.size() > 4 && file.compare(file.size() - 4, 4, ".zip") == 0) {
      std::string hex = file.substr(0, file.size() - 4);
      if (!used.count(hex)) (void)code_.remove(hex);
    }
  }
  return Ok{};
}

void FunctionRegistry::remove_unused_code(const std::vector<std::string>& hexes) {
  for (const auto& hex : std::set<std::string>(hexes.begin(), hexes.end())) {
    auto rows = store_->query(
        "SELECT (SELECT COUNT(*) FROM lambda_versions WHERE code_hex = ?) + "
        "(SELECT COUNT(*) FROM lambda_version_layers WHERE code_hex = ?)",
        {hex, hex});
    auto layer = LayerRegistry::uses_code(*store_, hex);
    if (rows.ok() && !rows->empty() && (*rows)[0].integer(0) == 0 && layer.ok() && !*layer) {
      (void)code_.remove(hex);
    }
  }
}

Status FunctionRegistry::apply_layers(VersionConfig& c, const FunctionSettings& s) {
  if (s.layers) {
    NUBO_ASSIGN_OR_RETURN(c.layers, layers_.resolve_locked(*s.layers));
  }
  return check_unzipped_size(c);
}

Result<VersionConfig> FunctionRegistry::create_function(CreateFunctionInput in) {
  NUBO_ASSIGN_OR_RETURN(ZipInfo zi, inspect_zip(in.zip));
  Sha256Digest digest = sha256(in.zip);
  VersionConfig c;
  c.function_name = in.name;
  c.version = std::string(kLatest);
  apply_settings(c, in.settings);
  NUBO_TRY(check_handler(c));
  c.code_hex = hex_encode(digest);
  c.code_sha256 =
      base64_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
  c.code_size = static_cast<int64_t>(in.zip.size());
  c.code_size_unzipped = zi.unzipped_size;
  c.last_modified = now_string();
  c.revision_id = new_uuid();
  c.internal_revision = new_uuid();

  std::lock_guard lock(write_mu_);
  NUBO_ASSIGN_OR_RETURN(auto existing, load_function(*store_, in.name));
  if (existing) return conflict("Function already exist: " + in.name);
  NUBO_TRY(apply_layers(c, in.settings));
  NUBO_ASSIGN_OR_RETURN(int64_t total, total_code_size(*store_));
  if (total + c.code_size > kTotalCodeSize) return code_storage_exceeded();
  NUBO_TRY(code_.put(c.code_hex, in.zip));
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(txn.exec(
        "INSERT INTO lambda_functions (name, created_ms, next_version, published_revision, tags) "
        "VALUES (?, ?, 1, '', ?)",
        {in.name, epoch_ms(clock_->now()), tags_json(in.tags)}));
    return put_version(txn, c, true);
  }));
  VersionConfig result = c;
  if (in.publish) {
    auto published = publish_locked(in.name, std::nullopt, std::nullopt, std::nullopt);
    if (published.ok()) result = std::move(published).value();
  }
  on_change_(in.name);
  return result;
}

Result<FunctionView> FunctionRegistry::get_function(const std::string& name,
                                                    const std::string& qualifier) {
  NUBO_ASSIGN_OR_RETURN(auto fn, load_function(*store_, name));
  if (!fn) return not_found("Function not found: " + arn_.qualified_arn(name, qualifier));
  FunctionView view;
  view.tags = fn->tags;
  std::string version = qualifier;
  if (is_alias_name(qualifier)) {
    NUBO_ASSIGN_OR_RETURN(auto alias, load_alias(*store_, name, qualifier));
    if (!alias) return not_found("Function not found: " + arn_.qualified_arn(name, qualifier));
    view.alias = qualifier;
    version = alias->function_version;
  }
  int64_t num = version_num(version);
  std::optional<VersionConfig> v;
  if (num >= 0) {
    NUBO_ASSIGN_OR_RETURN(v, load_version(*store_, name, num));
  }
  if (!v) return not_found("Function not found: " + arn_.qualified_arn(name, qualifier));
  view.config = std::move(*v);
  return view;
}

Result<Page> FunctionRegistry::list_functions(bool all_versions, const std::string& marker,
                                              int max_items) {
  std::string after = decode_marker(marker);
  storage::Rows rows;
  if (all_versions) {
    std::string after_name = after;
    int64_t after_num = -1;
    if (size_t nul = after.find('\n'); nul != std::string::npos) {
      after_name = after.substr(0, nul);
      after_num = std::atoll(after.c_str() + nul + 1);
    }
    NUBO_ASSIGN_OR_RETURN(
        rows, store_->query("SELECT config, function_name, version_num FROM lambda_versions "
                            "WHERE function_name > ? OR (function_name = ? AND version_num > ?) "
                            "ORDER BY function_name, version_num LIMIT ?",
                            {after_name, after_name, after.empty() ? int64_t{-1} : after_num,
                             static_cast<int64_t>(max_items) + 1}));
  } else {
    NUBO_ASSIGN_OR_RETURN(
        rows, store_->query("SELECT config, function_name, version_num FROM lambda_versions "
                            "WHERE version_num = 0 AND function_name > ? "
                            "ORDER BY function_name LIMIT ?",
                            {after, static_cast<int64_t>(max_items) + 1}));
  }
  Page page;
  for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(max_items); ++i) {
    NUBO_ASSIGN_OR_RETURN(VersionConfig c, version_from_store_json(rows[i].text(0)));
    page.items.push_back(std::move(c));
  }
  if (rows.size() > static_cast<size_t>(max_items)) {
    const auto& last = rows[static_cast<size_t>(max_items) - 1];
    page.next_marker = encode_marker(
        all_versions ? last.text(1) + "\n" + std::to_string(last.integer(2)) : last.text(1));
  }
  return page;
}

Result<Page> FunctionRegistry::list_versions(const std::string& name, const std::string& marker,
                                             int max_items) {
  NUBO_ASSIGN_OR_RETURN(auto fn, load_function(*store_, name));
  if (!fn) return not_found("Function not found: " + arn_.function_arn(name));
  std::string after = decode_marker(marker);
  int64_t after_num = after.empty() ? -1 : std::atoll(after.c_str());
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      store_->query("SELECT config, version_num FROM lambda_versions WHERE function_name = ? AND "
                    "version_num > ? ORDER BY version_num LIMIT ?",
                    {name, after_num, static_cast<int64_t>(max_items) + 1}));
  Page page;
  for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(max_items); ++i) {
    NUBO_ASSIGN_OR_RETURN(VersionConfig c, version_from_store_json(rows[i].text(0)));
    page.items.push_back(std::move(c));
  }
  if (rows.size() > static_cast<size_t>(max_items)) {
    page.next_marker =
        encode_marker(std::to_string(rows[static_cast<size_t>(max_items) - 1].integer(1)));
  }
  return page;
}

Result<VersionConfig> FunctionRegistry::update_code(UpdateCodeInput in) {
  NUBO_ASSIGN_OR_RETURN(ZipInfo zi, inspect_zip(in.zip));
  Sha256Digest digest = sha256(in.zip);
  std::lock_guard lock(write_mu_);
  NUBO_ASSIGN_OR_RETURN(auto latest, load_version(*store_, in.name, 0));
  if (!latest) return not_found("Function not found: " + arn_.function_arn(in.name));
  if (in.revision_id && *in.revision_id != latest->revision_id) return precondition_failed();
  VersionConfig c = *latest;
  c.code_hex = hex_encode(digest);
  c.code_sha256 =
      base64_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
  c.code_size = static_cast<int64_t>(in.zip.size());
  c.code_size_unzipped = zi.unzipped_size;
  if (in.architecture) c.architecture = *in.architecture;
  NUBO_TRY(check_unzipped_size(c));
  if (in.dry_run) return c;
  NUBO_ASSIGN_OR_RETURN(int64_t total, total_code_size(*store_));
  if (total - latest->code_size + c.code_size > kTotalCodeSize) return code_storage_exceeded();
  c.last_modified = now_string();
  c.revision_id = new_uuid();
  c.internal_revision = new_uuid();
  c.last_update_status = "Successful";
  NUBO_TRY(code_.put(c.code_hex, in.zip));
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) { return put_version(txn, c, false); }));
  VersionConfig result = c;
  if (in.publish) {
    auto published = publish_locked(in.name, std::nullopt, std::nullopt, std::nullopt);
    if (!published.ok()) {
      on_change_(in.name);
      return std::move(published).error();
    }
    result = std::move(published).value();
  }
  on_change_(in.name);
  return result;
}

Result<VersionConfig> FunctionRegistry::update_configuration(
    const std::string& name, const FunctionSettings& s,
    const std::optional<std::string>& revision_id) {
  std::lock_guard lock(write_mu_);
  NUBO_ASSIGN_OR_RETURN(auto latest, load_version(*store_, name, 0));
  if (!latest) return not_found("Function not found: " + arn_.function_arn(name));
  if (revision_id && *revision_id != latest->revision_id) return precondition_failed();
  VersionConfig c = *latest;
  apply_settings(c, s);
  NUBO_TRY(check_handler(c));
  NUBO_TRY(apply_layers(c, s));
  c.last_modified = now_string();
  c.revision_id = new_uuid();
  c.internal_revision = new_uuid();
  c.last_update_status = "Successful";
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) { return put_version(txn, c, false); }));
  on_change_(name);
  return c;
}

Result<VersionConfig> FunctionRegistry::publish_version(
    const std::string& name, const std::optional<std::string>& code_sha256,
    const std::optional<std::string>& description, const std::optional<std::string>& revision_id) {
  std::lock_guard lock(write_mu_);
  auto r = publish_locked(name, code_sha256, description, revision_id);
  if (r.ok()) on_change_(name);
  return r;
}

// REQUIRES: write_mu_ held.
Result<VersionConfig> FunctionRegistry::publish_locked(
    const std::string& name, const std::optional<std::string>& code_sha256,
    const std::optional<std::string>& description, const std::optional<std::string>& revision_id) {
  NUBO_ASSIGN_OR_RETURN(auto fn, load_function(*store_, name));
  if (!fn) return not_found("Function not found: " + arn_.function_arn(name));
  NUBO_ASSIGN_OR_RETURN(auto latest, load_version(*store_, name, 0));
  if (!latest) return not_found("Function not found: " + arn_.function_arn(name));
  if (revision_id && *revision_id != latest->revision_id) return precondition_failed();
  if (code_sha256 && *code_sha256 != latest->code_sha256) {
    return invalid_parameter("CodeSHA256 (" + *code_sha256 +
                             ") is different from current CodeSHA256 in $LATEST (" +
                             latest->code_sha256 +
                             "). Please try again with the CodeSHA256 in "
                             "$LATEST.");
  }
  // Nothing changed since the last publish: Lambda answers with that version.
  if (fn->next_version > 1 && fn->published_revision == latest->internal_revision) {
    NUBO_ASSIGN_OR_RETURN(auto prev, load_version(*store_, name, fn->next_version - 1));
    if (prev) return std::move(*prev);
  }
  VersionConfig v = *latest;
  v.version = std::to_string(fn->next_version);
  v.revision_id = new_uuid();
  v.last_modified = now_string();
  if (description) v.description = *description;
  v.state = std::string(kStateActive);
  v.last_update_status = "Successful";
  VersionConfig new_latest = *latest;
  new_latest.revision_id = new_uuid();  // Lambda gives $LATEST a new RevisionId on publish
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(put_version(txn, v, true));
    NUBO_TRY(put_version(txn, new_latest, false));
    NUBO_TRY(txn.exec(
        "UPDATE lambda_functions SET next_version = ?, published_revision = ? WHERE name = ?",
        {fn->next_version + 1, latest->internal_revision, name}));
    return Ok{};
  }));
  return v;
}

Status FunctionRegistry::delete_function(const std::string& name, const std::string& qualifier) {
  if (qualifier == kLatest) {
    return invalid_parameter("$LATEST version cannot be deleted without deleting the function.");
  }
  std::lock_guard lock(write_mu_);
  NUBO_ASSIGN_OR_RETURN(auto fn, load_function(*store_, name));
  if (!fn) return not_found("Function not found: " + arn_.function_arn(name));
  if (!qualifier.empty()) {
    int64_t num = version_num(qualifier);
    if (num <= 0) return not_found("Function not found: " + arn_.qualified_arn(name, qualifier));
    NUBO_ASSIGN_OR_RETURN(auto aliases, load_aliases(*store_, name));
    std::vector<std::string> users;
    for (const auto& a : aliases) {
      bool uses = a.function_version == qualifier;
      for (const auto& [ver, w] : a.weights) uses = uses || ver == qualifier;
      if (uses) users.push_back(a.name);
    }
    if (!users.empty()) {
      std::string list;
      for (size_t i = 0; i < users.size(); ++i) list += (i ? ", " : "") + users[i];
      return conflict("Unable to delete version because the following aliases reference it: [" +
                      list + "]");
    }
    NUBO_ASSIGN_OR_RETURN(auto gone, load_version(*store_, name, num));
    NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
      NUBO_TRY(txn.exec("DELETE FROM lambda_versions WHERE function_name = ? AND version_num = ?",
                        {name, num}));
      NUBO_TRY(
          txn.exec("DELETE FROM lambda_version_layers WHERE function_name = ? AND version_num = ?",
                   {name, num}));
      NUBO_TRY(txn.exec("DELETE FROM lambda_provisioned WHERE function_name = ? AND qualifier = ?",
                        {name, qualifier}));
      NUBO_TRY(txn.exec("DELETE FROM lambda_policies WHERE function_name = ? AND qualifier = ?",
                        {name, qualifier}));
      return Ok{};
    }));
    if (gone) {
      std::vector<std::string> hexes = {gone->code_hex};
      for (const LayerRef& l : gone->layers) hexes.push_back(l.code_hex);
      remove_unused_code(hexes);
    }
    on_change_(name);
    return Ok{};
  }
  NUBO_ASSIGN_OR_RETURN(auto versions, load_versions(*store_, name));
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(txn.exec("DELETE FROM lambda_versions WHERE function_name = ?", {name}));
    NUBO_TRY(txn.exec("DELETE FROM lambda_version_layers WHERE function_name = ?", {name}));
    NUBO_TRY(txn.exec("DELETE FROM lambda_aliases WHERE function_name = ?", {name}));
    NUBO_TRY(txn.exec("DELETE FROM lambda_provisioned WHERE function_name = ?", {name}));
    NUBO_TRY(txn.exec("DELETE FROM lambda_policies WHERE function_name = ?", {name}));
    NUBO_TRY(txn.exec("DELETE FROM lambda_url_configs WHERE function_name = ?", {name}));
    NUBO_TRY(txn.exec("DELETE FROM lambda_functions WHERE name = ?", {name}));
    return Ok{};
  }));
  std::vector<std::string> hexes;
  for (const auto& v : versions) {
    hexes.push_back(v.code_hex);
    for (const LayerRef& l : v.layers) hexes.push_back(l.code_hex);
  }
  remove_unused_code(hexes);
  on_change_(name);
  return Ok{};
}

namespace {

// Checks an alias's target and routing weights (Lambda's rules).
template <typename Q>
Status check_alias_target(Q& q, const ArnContext& arn, const std::string& fn,
                          const std::string& version,
                          const std::vector<std::pair<std::string, double>>& weights) {
  std::optional<VersionConfig> target;
  if (version != kLatest) {
    int64_t num = version_num(version);
    if (num > 0) {
      NUBO_ASSIGN_OR_RETURN(target, load_version(q, fn, num));
    }
    if (!target) return not_found("Function not found: " + arn.qualified_arn(fn, version));
  }
  if (weights.empty()) return Ok{};
  if (weights.size() > 1) {
    return invalid_parameter(
        "Number of items in AdditionalVersionWeights cannot be greater than 1");
  }
  const auto& [extra, weight] = weights.front();
  if (extra == version) {
    return invalid_parameter("Invalid function version " + version + ". Function version " +
                             version + " is already included in routing configuration.");
  }
  if (version == kLatest) {
    return invalid_parameter(
        "$LATEST is not supported for an alias pointing to more than 1 version");
  }
  NUBO_ASSIGN_OR_RETURN(auto other, load_version(q, fn, version_num(extra)));
  if (!other) return not_found("Function not found: " + arn.qualified_arn(fn, extra));
  // Developer guide, "Implement Lambda canary deployments using a weighted alias": both
  // versions must have the same execution role and the same dead-letter queue configuration.
  if (other->role != target->role) {
    return invalid_parameter(
        "The function versions in an alias routing configuration must have the same execution "
        "role.");
  }
  if (other->dead_letter_arn != target->dead_letter_arn) {
    return invalid_parameter(
        "The function versions in an alias routing configuration must have the same dead-letter "
        "queue configuration.");
  }
  (void)weight;
  return Ok{};
}

}  // namespace

Result<AliasConfig> FunctionRegistry::create_alias(const AliasInput& in) {
  std::lock_guard lock(write_mu_);
  NUBO_ASSIGN_OR_RETURN(auto fn, load_function(*store_, in.function_name));
  if (!fn) return not_found("Function not found: " + arn_.function_arn(in.function_name));
  AliasConfig a;
  a.function_name = in.function_name;
  a.name = in.name;
  a.function_version = in.function_version.value_or("");
  a.description = in.description.value_or("");
  if (in.weights) a.weights = *in.weights;
  a.revision_id = new_uuid();
  NUBO_TRY(check_alias_target(*store_, arn_, a.function_name, a.function_version, a.weights));
  NUBO_ASSIGN_OR_RETURN(auto existing, load_alias(*store_, in.function_name, in.name));
  if (existing) {
    return conflict("Alias already exists: " + arn_.qualified_arn(in.function_name, in.name));
  }
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) { return put_alias(txn, a, true); }));
  on_change_(in.function_name);
  return a;
}

Result<AliasConfig> FunctionRegistry::get_alias(const std::string& function_name,
                                                const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(auto fn, load_function(*store_, function_name));
  if (!fn) return not_found("Function not found: " + arn_.function_arn(function_name));
  NUBO_ASSIGN_OR_RETURN(auto a, load_alias(*store_, function_name, name));
  if (!a) return not_found("Cannot find alias arn: " + arn_.qualified_arn(function_name, name));
  return std::move(*a);
}

Result<AliasConfig> FunctionRegistry::update_alias(const AliasInput& in) {
  std::lock_guard lock(write_mu_);
  NUBO_ASSIGN_OR_RETURN(auto fn, load_function(*store_, in.function_name));
  if (!fn) return not_found("Function not found: " + arn_.function_arn(in.function_name));
  NUBO_ASSIGN_OR_RETURN(auto existing, load_alias(*store_, in.function_name, in.name));
  if (!existing) {
    return not_found("Alias not found: " + arn_.qualified_arn(in.function_name, in.name));
  }
  if (in.revision_id && *in.revision_id != existing->revision_id) return precondition_failed();
  AliasConfig a = *existing;
  if (in.function_version) a.function_version = *in.function_version;
  if (in.description) a.description = *in.description;
  if (in.weights) a.weights = *in.weights;
  a.revision_id = new_uuid();
  NUBO_TRY(check_alias_target(*store_, arn_, a.function_name, a.function_version, a.weights));
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) { return put_alias(txn, a, false); }));
  on_change_(in.function_name);
  return a;
}

Status FunctionRegistry::delete_alias(const std::string& function_name, const std::string& name) {
  std::lock_guard lock(write_mu_);
  NUBO_ASSIGN_OR_RETURN(auto fn, load_function(*store_, function_name));
  if (!fn) return not_found("Function not found: " + arn_.function_arn(function_name));
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(txn.exec("DELETE FROM lambda_aliases WHERE function_name = ? AND name = ?",
                      {function_name, name}));
    NUBO_TRY(txn.exec("DELETE FROM lambda_provisioned WHERE function_name = ? AND qualifier = ?",
                      {function_name, name}));
    // The alias's own policy and URL go with it.
    NUBO_TRY(txn.exec("DELETE FROM lambda_policies WHERE function_name = ? AND qualifier = ?",
                      {function_name, name}));
    NUBO_TRY(txn.exec("DELETE FROM lambda_url_configs WHERE function_name = ? AND qualifier = ?",
                      {function_name, name}));
    return Ok{};
  }));
  on_change_(function_name);
  return Ok{};
}

Result<std::pair<std::vector<AliasConfig>, std::string>> FunctionRegistry::list_aliases(
    const std::string& function_name, const std::optional<std::string>& function_version,
    const std::string& marker, int max_items) {
  NUBO_ASSIGN_OR_RETURN(auto fn, load_function(*store_, function_name));
  if (!fn) return not_found("Function not found: " + arn_.function_arn(function_name));
  NUBO_ASSIGN_OR_RETURN(auto all, load_aliases(*store_, function_name));
  std::string after = decode_marker(marker);
  std::vector<AliasConfig> out;
  std::string next;
  for (auto& a : all) {
    if (function_version && a.function_version != *function_version) continue;
    if (!after.empty() && a.name <= after) continue;
    if (out.size() == static_cast<size_t>(max_items)) {
      next = encode_marker(out.back().name);
      break;
    }
    out.push_back(std::move(a));
  }
  return std::make_pair(std::move(out), std::move(next));
}

Result<Tags> FunctionRegistry::list_tags(const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(auto fn, load_function(*store_, name));
  if (!fn) return not_found("Function not found: " + arn_.function_arn(name));
  return std::move(fn->tags);
}

Result<std::optional<int>> FunctionRegistry::get_concurrency(const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      store_->query("SELECT reserved_concurrency FROM lambda_functions WHERE name = ?", {name}));
  if (rows.empty()) return not_found("Function not found: " + arn_.function_arn(name));
  if (rows[0].is_null(0)) return std::optional<int>();
  return std::optional<int>(static_cast<int>(rows[0].integer(0)));
}

Status FunctionRegistry::put_concurrency(const std::string& name, int value, int account_limit) {
  std::lock_guard lock(write_mu_);
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(auto fn, load_function(txn, name));
    if (!fn) return not_found("Function not found: " + arn_.function_arn(name));
    NUBO_ASSIGN_OR_RETURN(storage::Rows others,
                          txn.query("SELECT COALESCE(SUM(reserved_concurrency), 0) FROM "
                                    "lambda_functions WHERE name != ?",
                                    {name}));
    int64_t reserved_elsewhere = others.empty() ? 0 : others[0].integer(0);
    // Provisioned instances of functions without a reservation live in the unreserved pool.
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows unreserved_provisioned,
        txn.query("SELECT COALESCE(SUM(p.requested), 0) FROM lambda_provisioned p JOIN "
                  "lambda_functions f ON f.name = p.function_name WHERE f.reserved_concurrency "
                  "IS NULL AND p.function_name != ?",
                  {name}));
    reserved_elsewhere += unreserved_provisioned.empty() ? 0 : unreserved_provisioned[0].integer(0);
    if (account_limit - reserved_elsewhere - value < kMinUnreservedConcurrency) {
      return invalid_parameter(
          "Specified ReservedConcurrentExecutions for function decreases account's "
          "UnreservedConcurrentExecution below its minimum value of [" +
          std::to_string(kMinUnreservedConcurrency) + "].");
    }
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows provisioned,
        txn.query("SELECT COALESCE(SUM(requested), 0) FROM lambda_provisioned WHERE "
                  "function_name = ?",
                  {name}));
    int64_t provisioned_total = provisioned.empty() ? 0 : provisioned[0].integer(0);
    if (value < provisioned_total) {
      return invalid_parameter("ReservedConcurrentExecutions " + std::to_string(value) +
                               " should not be lower than function's total provisioned "
                               "concurrency [" +
                               std::to_string(provisioned_total) + "]");
    }
    NUBO_TRY(txn.exec("UPDATE lambda_functions SET reserved_concurrency = ? WHERE name = ?",
                      {static_cast<int64_t>(value), name}));
    return Ok{};
  }));
  on_change_(name);
  return Ok{};
}

Status FunctionRegistry::delete_concurrency(const std::string& name) {
  std::lock_guard lock(write_mu_);
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(auto fn, load_function(txn, name));
    if (!fn) return not_found("Function not found: " + arn_.function_arn(name));
    NUBO_TRY(
        txn.exec("UPDATE lambda_functions SET reserved_concurrency = NULL WHERE name = ?", {name}));
    return Ok{};
  }));
  on_change_(name);
  return Ok{};
}

Result<std::vector<std::pair<std::string, int>>> FunctionRegistry::reserved_concurrencies() {
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows,
                        store_->query("SELECT name, reserved_concurrency FROM lambda_functions "
                                      "WHERE reserved_concurrency IS NOT NULL ORDER BY name"));
  std::vector<std::pair<std::string, int>> out;
  for (const auto& r : rows) out.emplace_back(r.text(0), static_cast<int>(r.integer(1)));
  return out;
}

Status FunctionRegistry::tag(const std::string& name, const Tags& tags) {
  std::lock_guard lock(write_mu_);
  NUBO_ASSIGN_OR_RETURN(auto fn, load_function(*store_, name));
  if (!fn) return not_found("Function not found: " + arn_.function_arn(name));
  Tags merged = fn->tags;
  for (const auto& [k, v] : tags) {
    bool found = false;
    for (auto& [mk, mv] : merged) {
      if (mk == k) {
        mv = v;
        found = true;
      }
    }
    if (!found) merged.emplace_back(k, v);
  }
  if (merged.size() > kMaxTags) {
    return invalid_parameter("Number of tags exceeds resource tag limit.");
  }
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(
        txn.exec("UPDATE lambda_functions SET tags = ? WHERE name = ?", {tags_json(merged), name}));
    return Ok{};
  }));
  on_change_(name);
  return Ok{};
}

Status FunctionRegistry::untag(const std::string& name, const std::vector<std::string>& keys) {
  std::lock_guard lock(write_mu_);
  NUBO_ASSIGN_OR_RETURN(auto fn, load_function(*store_, name));
  if (!fn) return not_found("Function not found: " + arn_.function_arn(name));
  Tags kept;
  for (auto& [k, v] : fn->tags) {
    bool drop = false;
    for (const auto& key : keys) drop = drop || key == k;
    if (!drop) kept.emplace_back(k, v);
  }
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(
        txn.exec("UPDATE lambda_functions SET tags = ? WHERE name = ?", {tags_json(kept), name}));
    return Ok{};
  }));
  on_change_(name);
  return Ok{};
}

Result<AccountUsage> FunctionRegistry::usage() {
  AccountUsage u;
  NUBO_ASSIGN_OR_RETURN(u.total_code_size, total_code_size(*store_));
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows, store_->query("SELECT COUNT(*) FROM lambda_functions"));
  u.function_count = rows.empty() ? 0 : rows[0].integer(0);
  return u;
}

namespace {

Error unpublished_version() {
  return invalid_parameter(
      "Provisioned Concurrency Configs cannot be applied to unpublished function versions.");
}

Error provisioned_not_found() {
  return Error{"ProvisionedConcurrencyConfigNotFoundException", 404,
               "No Provisioned Concurrency Config found for this function"};
}

template <typename Q>
Result<std::vector<ProvisionedConfig>> load_provisioned(Q& q, const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows,
                        q.query("SELECT qualifier, requested, last_modified FROM "
                                "lambda_provisioned WHERE function_name = ? ORDER BY qualifier",
                                {name}));
  std::vector<ProvisionedConfig> out;
  for (const auto& r : rows) {
    out.push_back(ProvisionedConfig{r.text(0), static_cast<int>(r.integer(1)), r.text(2)});
  }
  return out;
}

// The version an alias or version qualifier provisions (an alias: its primary version).
template <typename Q>
Result<std::optional<std::string>> provisioned_version(Q& q, const std::string& name,
                                                       const std::string& qualifier) {
  if (!is_alias_name(qualifier)) return std::optional<std::string>(qualifier);
  NUBO_ASSIGN_OR_RETURN(auto alias, load_alias(q, name, qualifier));
  if (!alias) return std::optional<std::string>();
  return std::optional<std::string>(alias->function_version);
}

// The published version a provisioned configuration's qualifier names (an alias: its version).
// ResourceNotFoundException if there is no such version or alias; InvalidParameterValue for an
// alias of $LATEST.
template <typename Q>
Result<std::string> published_target(Q& q, const ArnContext& arn, const std::string& name,
                                     const std::string& qualifier) {
  if (is_alias_name(qualifier)) {
    NUBO_ASSIGN_OR_RETURN(auto alias, load_alias(q, name, qualifier));
    if (!alias) return not_found("Function not found: " + arn.qualified_arn(name, qualifier));
    if (alias->function_version == kLatest) return unpublished_version();
    return alias->function_version;
  }
  int64_t num = version_num(qualifier);
  std::optional<VersionConfig> v;
  if (num > 0) {
    NUBO_ASSIGN_OR_RETURN(v, load_version(q, name, num));
  }
  if (!v) return not_found("Function not found: " + arn.qualified_arn(name, qualifier));
  return qualifier;
}

}  // namespace

Result<ProvisionedConfig> FunctionRegistry::put_provisioned(const std::string& name,
                                                            const std::string& qualifier, int count,
                                                            int account_limit) {
  if (qualifier.empty() || qualifier == kLatest) {
    return unpublished_version();
  }
  std::lock_guard lock(write_mu_);
  ProvisionedConfig out{qualifier, count, now_string()};
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(auto fn, load_function(txn, name));
    if (!fn) return not_found("Function not found: " + arn_.function_arn(name));
    NUBO_ASSIGN_OR_RETURN(std::string target, published_target(txn, arn_, name, qualifier));
    NUBO_ASSIGN_OR_RETURN(auto existing, load_provisioned(txn, name));
    int64_t others = 0;
    for (const auto& c : existing) {
      if (c.qualifier == qualifier) continue;
      others += c.requested;
      NUBO_ASSIGN_OR_RETURN(auto v, provisioned_version(txn, name, c.qualifier));
      if (v && *v == target) {
        return conflict(is_alias_name(qualifier)
                            ? "Alias can't be used for Provisioned Concurrency configuration on "
                              "an already Provisioned version"
                            : "Version is pointed by a Provisioned Concurrency alias");
      }
    }
    NUBO_ASSIGN_OR_RETURN(storage::Rows rows,
                          txn.query("SELECT name, reserved_concurrency FROM lambda_functions "
                                    "WHERE reserved_concurrency IS NOT NULL",
                                    {}));
    std::optional<int64_t> reserved;
    int64_t reserved_total = 0;
    for (const auto& r : rows) {
      reserved_total += r.integer(1);
      if (r.text(0) == name) reserved = r.integer(1);
    }
    if (reserved) {
      if (others + count > *reserved) {
        return invalid_parameter(
            "Requested Provisioned Concurrency should not be greater than the "
            "reservedConcurrentExecution for function");
      }
    } else {
      // Provisioned instances of functions without a reservation come out of the unreserved pool.
      NUBO_ASSIGN_OR_RETURN(
          storage::Rows unreserved,
          txn.query("SELECT COALESCE(SUM(p.requested), 0) FROM lambda_provisioned p JOIN "
                    "lambda_functions f ON f.name = p.function_name WHERE f.reserved_concurrency "
                    "IS NULL AND NOT (p.function_name = ? AND p.qualifier = ?)",
                    {name, qualifier}));
      int64_t provisioned_unreserved = unreserved.empty() ? 0 : unreserved[0].integer(0);
      if (account_limit - reserved_total - provisioned_unreserved - count <
          kMinUnreservedConcurrency) {
        return invalid_parameter(
            "Specified ProvisionedConcurrentExecutions for function decreases account's "
            "UnreservedConcurrentExecution below its minimum value of [" +
            std::to_string(kMinUnreservedConcurrency) + "].");
      }
    }
    NUBO_TRY(txn.exec(
        "INSERT INTO lambda_provisioned (function_name, qualifier, requested, last_modified) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (function_name, qualifier) DO UPDATE SET requested = "
        "excluded.requested, last_modified = excluded.last_modified",
        {name, qualifier, static_cast<int64_t>(count), out.last_modified}));
    return Ok{};
  }));
  on_change_(name);
  return out;
}

Result<ProvisionedConfig> FunctionRegistry::get_provisioned(const std::string& name,
                                                            const std::string& qualifier) {
  NUBO_ASSIGN_OR_RETURN(auto fn, load_function(*store_, name));
  if (!fn) return not_found("Function not found: " + arn_.function_arn(name));
  NUBO_ASSIGN_OR_RETURN(auto all, load_provisioned(*store_, name));
  for (auto& c : all) {
    if (c.qualifier == qualifier) return std::move(c);
  }
  return provisioned_not_found();
}

Status FunctionRegistry::delete_provisioned(const std::string& name, const std::string& qualifier) {
  if (qualifier.empty() || qualifier == kLatest) {
    return unpublished_version();
  }
  std::lock_guard lock(write_mu_);
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(auto fn, load_function(txn, name));
    if (!fn) return not_found("Function not found: " + arn_.function_arn(name));
    NUBO_TRY(published_target(txn, arn_, name, qualifier));
    NUBO_TRY(txn.exec("DELETE FROM lambda_provisioned WHERE function_name = ? AND qualifier = ?",
                      {name, qualifier}));
    return Ok{};
  }));
  on_change_(name);
  return Ok{};
}

Result<std::vector<ProvisionedConfig>> FunctionRegistry::list_provisioned(const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(auto fn, load_function(*store_, name));
  if (!fn) return not_found("Function not found: " + arn_.function_arn(name));
  return load_provisioned(*store_, name);
}

Result<std::vector<ProvisionedVersionTarget>> FunctionRegistry::provisioned_targets(
    const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(auto all, load_provisioned(*store_, name));
  std::vector<ProvisionedVersionTarget> out;
  for (const auto& c : all) {
    NUBO_ASSIGN_OR_RETURN(auto version, provisioned_version(*store_, name, c.qualifier));
    if (!version) continue;
    int64_t num = version_num(*version);
    if (num <= 0) continue;
    NUBO_ASSIGN_OR_RETURN(auto v, load_version(*store_, name, num));
    if (v) out.push_back(ProvisionedVersionTarget{c.qualifier, std::move(*v), c.requested});
  }
  return out;
}

Result<std::vector<std::string>> FunctionRegistry::provisioned_functions() {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      store_->query("SELECT DISTINCT function_name FROM lambda_provisioned ORDER BY 1", {}));
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.text(0));
  return out;
}

Result<InvokeTarget> FunctionRegistry::resolve(const std::string& name,
                                               const std::string& qualifier) {
  InvokeTarget t;
  std::string version = qualifier.empty() ? std::string(kLatest) : qualifier;
  if (is_alias_name(qualifier)) {
    NUBO_ASSIGN_OR_RETURN(auto alias, load_alias(*store_, name, qualifier));
    if (!alias) return not_found("Function not found: " + arn_.qualified_arn(name, qualifier));
    t.alias = qualifier;
    version = alias->function_version;
    if (!alias->weights.empty()) {
      NUBO_ASSIGN_OR_RETURN(auto other,
                            load_version(*store_, name, version_num(alias->weights[0].first)));
      if (other) {
        t.secondary = std::move(*other);
        t.secondary_weight = alias->weights[0].second;
      }
    }
  }
  int64_t num = version_num(version);
  std::optional<VersionConfig> v;
  if (num >= 0) {
    NUBO_ASSIGN_OR_RETURN(v, load_version(*store_, name, num));
  }
  if (!v) return not_found("Function not found: " + arn_.qualified_arn(name, qualifier));
  t.primary = std::move(*v);
  return t;
}

// ---------------------------------------------------------------------------------------------
// Function policies

namespace {

// What a policy's qualifier names: $LATEST (qualifier ""), a published version or an alias.
// Each policy change gives it a new RevisionId, as Lambda does.
struct PolicyTarget {
  std::optional<VersionConfig> version;
  std::optional<AliasConfig> alias;
  const std::string& revision_id() const {
    return alias ? alias->revision_id : version->revision_id;
  }
};

template <typename Q>
Result<PolicyTarget> policy_target(Q& q, const ArnContext& arn, const std::string& name,
                                   const std::string& qualifier) {
  PolicyTarget t;
  Error missing =
      not_found("Function not found: " +
                (qualifier.empty() ? arn.function_arn(name) : arn.qualified_arn(name, qualifier)));
  if (is_alias_name(qualifier)) {
    NUBO_ASSIGN_OR_RETURN(t.alias, load_alias(q, name, qualifier));
    if (!t.alias) return missing;
    return t;
  }
  int64_t num = version_num(qualifier);
  if (num < 0) return missing;
  NUBO_ASSIGN_OR_RETURN(t.version, load_version(q, name, num));
  if (!t.version) return missing;
  return t;
}

Status bump_revision(storage::Txn& txn, PolicyTarget& t) {
  if (t.alias) {
    t.alias->revision_id = new_uuid();
    return put_alias(txn, *t.alias, false);
  }
  t.version->revision_id = new_uuid();
  return put_version(txn, *t.version, false);
}

template <typename Q>
Result<std::optional<std::string>> load_policy(Q& q, const std::string& name,
                                               const std::string& qualifier) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      q.query("SELECT document FROM lambda_policies WHERE function_name = ? AND qualifier = ?",
              {name, qualifier}));
  if (rows.empty()) return std::optional<std::string>();
  return std::optional<std::string>(rows[0].text(0));
}

std::string policy_qualifier(const std::string& qualifier) {
  return qualifier == kLatest ? std::string() : qualifier;
}

}  // namespace

Result<std::string> FunctionRegistry::add_permission(
    const std::string& name, const std::string& qualifier, json::object statement,
    const std::optional<std::string>& revision_id) {
  if (qualifier == kLatest) {
    return invalid_parameter("We currently do not support adding policies for $LATEST.");
  }
  std::string sid = statement_sid(statement);
  std::string text = json::serialize(statement);
  std::lock_guard lock(write_mu_);
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(auto fn, load_function(txn, name));
    if (!fn) return not_found("Function not found: " + arn_.function_arn(name));
    NUBO_ASSIGN_OR_RETURN(PolicyTarget target, policy_target(txn, arn_, name, qualifier));
    if (revision_id && *revision_id != target.revision_id()) return precondition_failed();
    NUBO_ASSIGN_OR_RETURN(auto existing, load_policy(txn, name, qualifier));
    json::array statements = existing ? policy_statements(*existing) : json::array{};
    for (const auto& s : statements) {
      if (s.is_object() && statement_sid(s.as_object()) == sid) {
        return conflict("The statement id (" + sid +
                        ") provided already exists. Please provide a new statement id, or "
                        "remove the existing statement.");
      }
    }
    statements.push_back(std::move(statement));
    std::string doc = lambda::policy_document(statements);
    NUBO_TRY(check_policy_size(doc));
    NUBO_TRY(txn.exec(
        "INSERT INTO lambda_policies (function_name, qualifier, document) VALUES (?, ?, ?) "
        "ON CONFLICT (function_name, qualifier) DO UPDATE SET document = excluded.document",
        {name, qualifier, doc}));
    return bump_revision(txn, target);
  }));
  on_change_(name);
  return text;
}

Status FunctionRegistry::remove_permission(const std::string& name, const std::string& qualifier_in,
                                           const std::string& sid,
                                           const std::optional<std::string>& revision_id) {
  std::string qualifier = policy_qualifier(qualifier_in);
  std::lock_guard lock(write_mu_);
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(auto fn, load_function(txn, name));
    if (!fn) return not_found("No policy found for: " + arn_.function_arn(name));
    NUBO_ASSIGN_OR_RETURN(PolicyTarget target, policy_target(txn, arn_, name, qualifier));
    NUBO_ASSIGN_OR_RETURN(auto existing, load_policy(txn, name, qualifier));
    if (!existing) return not_found("No policy is associated with the given resource.");
    json::array statements = policy_statements(*existing);
    json::array kept;
    bool found = false;
    for (const auto& s : statements) {
      if (s.is_object() && statement_sid(s.as_object()) == sid) {
        found = true;
      } else {
        kept.push_back(s);
      }
    }
    if (!found) return not_found("Statement " + sid + " is not found in resource policy.");
    if (revision_id && *revision_id != target.revision_id()) return precondition_failed();
    if (kept.empty()) {
      NUBO_TRY(txn.exec("DELETE FROM lambda_policies WHERE function_name = ? AND qualifier = ?",
                        {name, qualifier}));
    } else {
      NUBO_TRY(txn.exec(
          "UPDATE lambda_policies SET document = ? WHERE function_name = ? AND qualifier = ?",
          {lambda::policy_document(kept), name, qualifier}));
    }
    return bump_revision(txn, target);
  }));
  on_change_(name);
  return Ok{};
}

Result<PolicyView> FunctionRegistry::get_policy(const std::string& name,
                                                const std::string& qualifier_in) {
  std::string qualifier = policy_qualifier(qualifier_in);
  NUBO_ASSIGN_OR_RETURN(auto fn, load_function(*store_, name));
  if (!fn) return not_found("Function not found: " + arn_.function_arn(name));
  NUBO_ASSIGN_OR_RETURN(PolicyTarget target, policy_target(*store_, arn_, name, qualifier));
  NUBO_ASSIGN_OR_RETURN(auto doc, load_policy(*store_, name, qualifier));
  if (!doc) return not_found("The resource you requested does not exist.");
  return PolicyView{std::move(*doc), target.revision_id()};
}

Result<std::optional<std::string>> FunctionRegistry::policy_document(const std::string& name,
                                                                     const std::string& qualifier) {
  NUBO_ASSIGN_OR_RETURN(auto fn, load_function(*store_, name));
  if (!fn) return not_found("Function not found: " + arn_.function_arn(name));
  return load_policy(*store_, name, policy_qualifier(qualifier));
}

// ---------------------------------------------------------------------------------------------
// Function URLs

namespace {

template <typename Q>
Result<std::optional<FunctionUrlConfig>> load_url_config(Q& q, const std::string& name,
                                                         const std::string& qualifier) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      q.query("SELECT config FROM lambda_url_configs WHERE function_name = ? AND qualifier = ?",
              {name, qualifier}));
  if (rows.empty()) return std::optional<FunctionUrlConfig>();
  NUBO_ASSIGN_OR_RETURN(FunctionUrlConfig c, url_config_from_store_json(rows[0].text(0)));
  return std::optional<FunctionUrlConfig>(std::move(c));
}

Result<std::vector<FunctionUrlConfig>> url_configs_from(const storage::Rows& rows) {
  std::vector<FunctionUrlConfig> out;
  for (const auto& r : rows) {
    NUBO_ASSIGN_OR_RETURN(FunctionUrlConfig c, url_config_from_store_json(r.text(0)));
    out.push_back(std::move(c));
  }
  return out;
}

Error no_url_function() {
  return not_found("Function does not exist");
}

Error no_url_config() {
  return not_found("The resource you requested does not exist.");
}

}  // namespace

Result<FunctionUrlConfig> FunctionRegistry::create_url_config(FunctionUrlConfig c) {
  std::lock_guard lock(write_mu_);
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(auto fn, load_function(txn, c.function_name));
    if (!fn) return no_url_function();
    NUBO_ASSIGN_OR_RETURN(auto existing, load_url_config(txn, c.function_name, c.qualifier));
    if (existing) {
      std::string function_arn = c.qualifier.empty()
                                     ? arn_.function_arn(c.function_name)
                                     : arn_.qualified_arn(c.function_name, c.qualifier);
      return conflict("Failed to create function url config for [functionArn = " + function_arn +
                      "]. Error message:  FunctionUrlConfig exists for this Lambda function");
    }
    if (!c.qualifier.empty()) {
      NUBO_ASSIGN_OR_RETURN(auto alias, load_alias(txn, c.function_name, c.qualifier));
      if (!alias) return no_url_function();
    }
    c.url_id = new_url_id();
    c.creation_time = format_iso8601(clock_->now());
    c.last_modified_time = c.creation_time;
    NUBO_TRY(
        txn.exec("INSERT INTO lambda_url_configs (function_name, qualifier, url_id, config) "
                 "VALUES (?, ?, ?, ?)",
                 {c.function_name, c.qualifier, c.url_id, to_store_json(c)}));
    return Ok{};
  }));
  on_change_(c.function_name);
  return c;
}

Result<FunctionUrlConfig> FunctionRegistry::get_url_config(const std::string& name,
                                                           const std::string& qualifier) {
  NUBO_ASSIGN_OR_RETURN(auto fn, load_function(*store_, name));
  if (!fn) return no_url_config();
  NUBO_ASSIGN_OR_RETURN(auto c, load_url_config(*store_, name, qualifier));
  if (!c) return no_url_config();
  return std::move(*c);
}

Result<FunctionUrlConfig> FunctionRegistry::update_url_config(const std::string& name,
                                                              const std::string& qualifier,
                                                              const FunctionUrlUpdate& update) {
  std::lock_guard lock(write_mu_);
  FunctionUrlConfig out;
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(auto fn, load_function(txn, name));
    if (!fn) return no_url_function();
    if (!qualifier.empty()) {
      NUBO_ASSIGN_OR_RETURN(auto alias, load_alias(txn, name, qualifier));
      if (!alias) return no_url_function();
    }
    NUBO_ASSIGN_OR_RETURN(auto c, load_url_config(txn, name, qualifier));
    if (!c) return no_url_config();
    if (update.auth_type) c->auth_type = *update.auth_type;
    if (update.cors) c->cors = *update.cors;
    if (update.invoke_mode) c->invoke_mode = *update.invoke_mode;
    c->last_modified_time = format_iso8601(clock_->now());
    NUBO_TRY(txn.exec(
        "UPDATE lambda_url_configs SET config = ? WHERE function_name = ? AND qualifier = ?",
        {to_store_json(*c), name, qualifier}));
    out = std::move(*c);
    return Ok{};
  }));
  on_change_(name);
  return out;
}

Status FunctionRegistry::delete_url_config(const std::string& name, const std::string& qualifier) {
  std::lock_guard lock(write_mu_);
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(auto fn, load_function(txn, name));
    if (!fn) return no_url_config();
    NUBO_ASSIGN_OR_RETURN(
        int64_t n,
        txn.exec("DELETE FROM lambda_url_configs WHERE function_name = ? AND qualifier = ?",
                 {name, qualifier}));
    if (n == 0) return no_url_config();
    return Ok{};
  }));
  on_change_(name);
  return Ok{};
}

Result<std::pair<std::vector<FunctionUrlConfig>, std::string>> FunctionRegistry::list_url_configs(
    const std::string& name, const std::string& marker, int max_items) {
  NUBO_ASSIGN_OR_RETURN(auto fn, load_function(*store_, name));
  if (!fn) return no_url_function();
  // A marker is "q:" + the last qualifier answered (which may be "", the unqualified one's).
  std::string after = decode_marker(marker);
  bool has_after = starts_with(after, "q:");
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      has_after ? store_->query("SELECT config, qualifier FROM lambda_url_configs WHERE "
                                "function_name = ? AND qualifier > ? ORDER BY qualifier LIMIT ?",
                                {name, after.substr(2), static_cast<int64_t>(max_items) + 1})
                : store_->query("SELECT config, qualifier FROM lambda_url_configs WHERE "
                                "function_name = ? ORDER BY qualifier LIMIT ?",
                                {name, static_cast<int64_t>(max_items) + 1}));
  std::string next;
  if (rows.size() > static_cast<size_t>(max_items)) {
    next = encode_marker("q:" + rows[static_cast<size_t>(max_items) - 1].text(1));
    rows.erase(rows.begin() + max_items, rows.end());
  }
  NUBO_ASSIGN_OR_RETURN(auto configs, url_configs_from(rows));
  return std::make_pair(std::move(configs), std::move(next));
}

Result<std::vector<FunctionUrlConfig>> FunctionRegistry::url_configs_of(const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      store_->query("SELECT config FROM lambda_url_configs WHERE function_name = ?", {name}));
  return url_configs_from(rows);
}

Result<std::vector<FunctionUrlConfig>> FunctionRegistry::all_url_configs() {
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows, store_->query("SELECT config FROM lambda_url_configs"));
  return url_configs_from(rows);
}

}  // namespace nubo::lambda
