#include "services/secretsmanager/secrets.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <map>

#include "base/crypto.h"
#include "base/ids.h"
#include "base/strings.h"

namespace nubo::secretsmanager {

namespace {

using storage::Blob;
using storage::Null;
using storage::Params;
using storage::Row;
using storage::Rows;
using storage::Txn;
using storage::Value;

// Reads through a transaction or outside one.
using Query = std::function<Result<Rows>(std::string_view, const Params&)>;

Query on(Txn& txn) {
  return [&txn](std::string_view sql, const Params& p) { return txn.query(sql, p); };
}
Query on(storage::Store* store) {
  return [store](std::string_view sql, const Params& p) { return store->query(sql, p); };
}

// A failed rotation scheduled by the timer is tried again after this long (nubo's choice: AWS
// says only that it "retries the entire rotation process multiple times").
constexpr std::chrono::hours kRotationRetryDelay{1};

const std::vector<std::string>& schema() {
  static const std::vector<std::string> s = {
      "CREATE TABLE sm_secrets ("
      " arn TEXT PRIMARY KEY,"
      " name TEXT NOT NULL UNIQUE,"  // names are case-sensitive and unique in the Region
      " seq INTEGER NOT NULL,"       // creation order
      " description TEXT,"
      " kms_key_id TEXT,"
      " type TEXT,"
      " data_key BLOB NOT NULL,"  // the secret's data key, wrapped by the Keyring for its ARN
      " created_ms INTEGER NOT NULL,"
      " changed_ms INTEGER NOT NULL,"
      " accessed_ms INTEGER,"
      " deletion_ms INTEGER,"  // scheduled for deletion at
      " policy TEXT,"
      " rotation_configured INTEGER NOT NULL DEFAULT 0,"
      " rotation_enabled INTEGER NOT NULL DEFAULT 0,"
      " rotation_lambda TEXT,"
      " rotation_days INTEGER,"
      " rotation_duration TEXT,"
      " rotation_expression TEXT,"
      " last_rotated_ms INTEGER,"
      " next_rotation_ms INTEGER,"
      " rotation_retry_ms INTEGER,"
      " rotation_failure TEXT)",
      "CREATE TABLE sm_versions ("
      " arn TEXT NOT NULL,"
      " version_id TEXT NOT NULL,"
      " seq INTEGER NOT NULL,"
      " created_ms INTEGER NOT NULL,"
      " accessed_ms INTEGER,"
      " kind INTEGER NOT NULL,"  // ValueKind
      " ciphertext BLOB,"        // AES-256-GCM under the secret's data key; NULL without a value
      " kms_key_id TEXT,"
      " PRIMARY KEY (arn, version_id))",
      "CREATE TABLE sm_stages ("
      " arn TEXT NOT NULL,"
      " stage TEXT NOT NULL,"
      " version_id TEXT NOT NULL,"
      " PRIMARY KEY (arn, stage))",  // a label is on at most one version of a secret
      "CREATE TABLE sm_tags ("
      " arn TEXT NOT NULL,"
      " tag_key TEXT NOT NULL,"
      " tag_value TEXT NOT NULL,"
      " seq INTEGER NOT NULL,"
      " PRIMARY KEY (arn, tag_key))",
      "CREATE INDEX sm_secrets_deletion ON sm_secrets (deletion_ms)",
      "CREATE INDEX sm_secrets_rotation ON sm_secrets (next_rotation_ms)",
      // The write generation every write transaction bumps: what the read cache is checked
      // against, in the Store, so that another node's (or service's) writes are seen too.
      "CREATE TABLE sm_generation (id INTEGER PRIMARY KEY, generation INTEGER NOT NULL)",
      "INSERT INTO sm_generation (id, generation) VALUES (1, 0)",
  };
  return s;
}

constexpr const char* kSecretColumns =
    "arn, name, description, kms_key_id, type, created_ms, changed_ms, accessed_ms, deletion_ms, "
    "policy, rotation_configured, rotation_enabled, rotation_lambda, rotation_days, "
    "rotation_duration, rotation_expression, last_rotated_ms, next_rotation_ms, rotation_failure";

// ---------------------------------------------------------------------------------------------
// Errors, worded as Secrets Manager words them.

Error not_found() {
  return Error{"ResourceNotFoundException", 400,
               "Secrets Manager can't find the specified secret."};
}
Error marked_deleted() {
  return Error{"InvalidRequestException", 400,
               "You can't perform this operation on the secret because it was marked for "
               "deletion."};
}
Error invalid_request(std::string message) {
  return Error{"InvalidRequestException", 400, std::move(message)};
}
Error bad_parameter(std::string message) {
  return Error{"InvalidParameterException", 400, std::move(message)};
}
Error decryption_failure() {
  return Error{"DecryptionFailure", 400,
               "Secrets Manager can't decrypt the protected secret text using the provided KMS "
               "key."};
}
Error token_in_use(const std::string& token, const std::string& arn) {
  return Error{"ResourceExistsException", 400,
               "You can't use ClientRequestToken " + token +
                   " because that value is already in use for a version of secret " + arn + "."};
}
Error no_value(const std::string& what, const std::string& id) {
  return Error{"ResourceNotFoundException", 400,
               "Secrets Manager can't find the specified secret value for " + what + ": " + id};
}

// ---------------------------------------------------------------------------------------------
// Times: milliseconds since the epoch in the Store.

int64_t to_ms(SystemTime t) {
  return epoch_ms(t);
}
SystemTime from_ms(int64_t ms) {
  return SystemTime(
      std::chrono::duration_cast<SystemTime::duration>(std::chrono::milliseconds(ms)));
}
std::optional<SystemTime> opt_time(const Row& r, size_t i) {
  if (r.is_null(i)) return std::nullopt;
  return from_ms(r.integer(i));
}
Value opt_text(const std::optional<std::string>& s) {
  return s ? Value(*s) : Value(Null{});
}
// Midnight UTC of t's day (LastAccessedDate is a date).
SystemTime day_of(SystemTime t) {
  constexpr int64_t kDay = 86400000;
  int64_t ms = to_ms(t);
  int64_t d = ms / kDay - ((ms % kDay) < 0);
  return from_ms(d * kDay);
}

// ---------------------------------------------------------------------------------------------
// Encryption.

std::string aad(const std::string& arn, const std::string& version_id, ValueKind kind) {
  return "nubo/secretsmanager/v1\n" + arn + "\n" + version_id + "\n" +
         std::to_string(static_cast<int>(kind));
}

Blob seal_value(const std::string& data_key, const std::string& arn, const std::string& vid,
                const SecretValue& v) {
  return Blob{aes256gcm_seal(data_key, v.bytes, aad(arn, vid, v.kind))};
}

// ---------------------------------------------------------------------------------------------
// Staging labels in the order DescribeSecret shows them: AWS's three first.

int stage_rank(const std::string& s) {
  if (s == kStageCurrent) return 0;
  if (s == kStagePending) return 1;
  if (s == kStagePrevious) return 2;
  return 3;
}
void sort_stages(std::vector<std::string>& stages) {
  std::sort(stages.begin(), stages.end(), [](const std::string& a, const std::string& b) {
    int ra = stage_rank(a), rb = stage_rank(b);
    return ra != rb ? ra < rb : a < b;
  });
}

// ---------------------------------------------------------------------------------------------
// Loading.

Secret secret_of(const Row& r) {
  Secret s;
  s.arn = r.text(0);
  s.name = r.text(1);
  s.has_description = !r.is_null(2);
  s.description = r.text(2);
  s.kms_key_id = r.text(3);
  s.type = r.text(4);
  s.created = from_ms(r.integer(5));
  s.last_changed = from_ms(r.integer(6));
  s.last_accessed = opt_time(r, 7);
  s.deletion_date = opt_time(r, 8);
  s.policy = r.opt_text(9);
  s.rotation_configured = r.integer(10) != 0;
  s.rotation_enabled = r.integer(11) != 0;
  s.rotation_lambda_arn = r.text(12);
  if (!r.is_null(13)) s.rotation_rules.automatically_after_days = r.integer(13);
  s.rotation_rules.duration = r.text(14);
  s.rotation_rules.schedule_expression = r.text(15);
  s.last_rotated = opt_time(r, 16);
  s.next_rotation = opt_time(r, 17);
  s.rotation_failure = r.text(18);
  return s;
}

// The secrets `where` selects (a condition on sm_secrets), with their versions, labels and tags:
// four queries whatever their number.
Result<std::vector<Secret>> load_secrets(const Query& q, const std::string& where,
                                         const Params& params) {
  NUBO_ASSIGN_OR_RETURN(Rows rows, q(std::string("SELECT ") + kSecretColumns +
                                         " FROM sm_secrets WHERE " + where + " ORDER BY seq",
                                     params));
  std::vector<Secret> out;
  if (rows.empty()) return out;
  std::map<std::string, size_t> index;
  for (const Row& r : rows) {
    out.push_back(secret_of(r));
    index[out.back().arn] = out.size() - 1;
  }
  const std::string in = " WHERE arn IN (SELECT arn FROM sm_secrets WHERE " + where + ")";
  NUBO_ASSIGN_OR_RETURN(Rows versions,
                        q("SELECT arn, version_id, created_ms, accessed_ms, kind, kms_key_id "
                          "FROM sm_versions" +
                              in + " ORDER BY arn, seq",
                          params));
  std::map<std::pair<std::string, std::string>, std::pair<size_t, size_t>> vindex;
  for (const Row& r : versions) {
    auto it = index.find(r.text(0));
    if (it == index.end()) continue;
    Version v;
    v.version_id = r.text(1);
    v.created = from_ms(r.integer(2));
    v.last_accessed = opt_time(r, 3);
    v.kind = static_cast<ValueKind>(r.integer(4));
    v.kms_key_id = r.text(5);
    out[it->second].versions.push_back(std::move(v));
    vindex[{r.text(0), r.text(1)}] = {it->second, out[it->second].versions.size() - 1};
  }
  NUBO_ASSIGN_OR_RETURN(Rows stages,
                        q("SELECT arn, stage, version_id FROM sm_stages" + in, params));
  for (const Row& r : stages) {
    auto it = vindex.find({r.text(0), r.text(2)});
    if (it == vindex.end()) continue;
    out[it->second.first].versions[it->second.second].stages.push_back(r.text(1));
  }
  for (Secret& s : out) {
    for (Version& v : s.versions) sort_stages(v.stages);
  }
  NUBO_ASSIGN_OR_RETURN(
      Rows tags,
      q("SELECT arn, tag_key, tag_value FROM sm_tags" + in + " ORDER BY arn, seq", params));
  for (const Row& r : tags) {
    auto it = index.find(r.text(0));
    if (it != index.end()) out[it->second].tags.push_back(Tag{r.text(1), r.text(2)});
  }
  return out;
}

Result<std::optional<Secret>> load_arn(const Query& q, const std::string& arn) {
  NUBO_ASSIGN_OR_RETURN(std::vector<Secret> found, load_secrets(q, "arn = ?", {arn}));
  if (found.empty()) return std::optional<Secret>();
  return std::optional<Secret>(std::move(found[0]));
}

// ---------------------------------------------------------------------------------------------
// Reads and writes inside a transaction.

Result<std::string> data_key(const Query& q, const auth::Keyring& keyring, const std::string& arn) {
  NUBO_ASSIGN_OR_RETURN(Rows rows, q("SELECT data_key FROM sm_secrets WHERE arn = ?", {arn}));
  if (rows.empty()) return not_found();
  auto key = keyring.unwrap(rows[0].text(0), arn);
  if (!key.ok()) return decryption_failure();
  return std::move(key).value();
}

Result<SecretValue> read_value(const Query& q, const std::string& key, const std::string& arn,
                               const std::string& vid) {
  NUBO_ASSIGN_OR_RETURN(
      Rows rows,
      q("SELECT kind, ciphertext FROM sm_versions WHERE arn = ? AND version_id = ?", {arn, vid}));
  if (rows.empty()) return no_value("VersionId", vid);
  SecretValue v;
  v.kind = static_cast<ValueKind>(rows[0].integer(0));
  if (v.kind == ValueKind::kNone) return v;
  auto plain = aes256gcm_open(key, rows[0].text(1), aad(arn, vid, v.kind));
  if (!plain) return decryption_failure();
  v.bytes = std::move(*plain);
  return v;
}

Status insert_version(Txn& txn, const std::string& arn, const std::string& vid,
                      const std::optional<Blob>& ciphertext, ValueKind kind,
                      const std::string& kms_key_id, int64_t now) {
  NUBO_ASSIGN_OR_RETURN(
      Rows rows, txn.query("SELECT COALESCE(MAX(seq), 0) FROM sm_versions WHERE arn = ?", {arn}));
  int64_t seq = rows.empty() ? 1 : rows[0].integer(0) + 1;
  Value ct = ciphertext ? Value(*ciphertext) : Value(Null{});
  Value kms = kms_key_id.empty() ? Value(Null{}) : Value(kms_key_id);
  NUBO_TRY(txn.exec(
      "INSERT INTO sm_versions (arn, version_id, seq, created_ms, kind, ciphertext, kms_key_id) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)",
      {arn, vid, seq, now, static_cast<int64_t>(kind), ct, kms}));
  return Ok{};
}

Status delete_version(Txn& txn, const std::string& arn, const std::string& vid) {
  NUBO_TRY(txn.exec("DELETE FROM sm_stages WHERE arn = ? AND version_id = ?", {arn, vid}));
  NUBO_TRY(txn.exec("DELETE FROM sm_versions WHERE arn = ? AND version_id = ?", {arn, vid}));
  return Ok{};
}

Result<std::optional<std::string>> stage_holder(Txn& txn, const std::string& arn,
                                                const std::string& stage) {
  NUBO_ASSIGN_OR_RETURN(
      Rows rows,
      txn.query("SELECT version_id FROM sm_stages WHERE arn = ? AND stage = ?", {arn, stage}));
  if (rows.empty()) return std::optional<std::string>();
  return std::optional<std::string>(rows[0].text(0));
}

Status set_stage(Txn& txn, const std::string& arn, const std::string& stage,
                 const std::string& vid) {
  NUBO_TRY(txn.exec("DELETE FROM sm_stages WHERE arn = ? AND stage = ?", {arn, stage}));
  NUBO_TRY(txn.exec("INSERT INTO sm_stages (arn, stage, version_id) VALUES (?, ?, ?)",
                    {arn, stage, vid}));
  return Ok{};
}

// Attaches `stage` to `vid`, taking it from whichever version had it; moving AWSCURRENT gives
// the version it leaves AWSPREVIOUS.
Status attach_stage(Txn& txn, const std::string& arn, const std::string& stage,
                    const std::string& vid) {
  NUBO_ASSIGN_OR_RETURN(std::optional<std::string> holder, stage_holder(txn, arn, stage));
  if (holder && *holder == vid) return Ok{};
  NUBO_TRY(set_stage(txn, arn, stage, vid));
  if (stage == kStageCurrent && holder)
    NUBO_TRY(set_stage(txn, arn, std::string(kStagePrevious), *holder));
  return Ok{};
}

Result<std::vector<std::string>> stages_of(Txn& txn, const std::string& arn,
                                           const std::string& vid) {
  NUBO_ASSIGN_OR_RETURN(
      Rows rows,
      txn.query("SELECT stage FROM sm_stages WHERE arn = ? AND version_id = ?", {arn, vid}));
  std::vector<std::string> out;
  for (const Row& r : rows) out.push_back(r.text(0));
  sort_stages(out);
  return out;
}

Status check_stage_count(Txn& txn, const std::string& arn, const std::string& vid) {
  NUBO_ASSIGN_OR_RETURN(std::vector<std::string> stages, stages_of(txn, arn, vid));
  if (stages.size() > kStagesPerVersionMax) {
    return Error{"LimitExceededException", 400,
                 "A version can't have more than " + std::to_string(kStagesPerVersionMax) +
                     " staging labels attached."};
  }
  return Ok{};
}

// Removes the oldest versions without labels beyond the 100 kept, unless younger than a day.
Status prune_versions(Txn& txn, const std::string& arn, int64_t now) {
  NUBO_ASSIGN_OR_RETURN(Rows total,
                        txn.query("SELECT COUNT(*) FROM sm_versions WHERE arn = ?", {arn}));
  int64_t excess =
      (total.empty() ? 0 : total[0].integer(0)) - static_cast<int64_t>(kUnlabeledVersionsKept);
  if (excess <= 0) return Ok{};
  NUBO_ASSIGN_OR_RETURN(
      Rows unlabeled,
      txn.query("SELECT v.version_id, v.created_ms FROM sm_versions v WHERE v.arn = ? AND NOT "
                "EXISTS (SELECT 1 FROM sm_stages s WHERE s.arn = v.arn AND s.version_id = "
                "v.version_id) ORDER BY v.seq",
                {arn}));
  const int64_t min_age =
      std::chrono::duration_cast<std::chrono::milliseconds>(kUnlabeledMinAge).count();
  for (const Row& r : unlabeled) {
    if (excess <= 0) break;
    if (r.integer(1) > now - min_age) continue;
    NUBO_TRY(delete_version(txn, arn, r.text(0)));
    --excess;
  }
  return Ok{};
}

Status delete_secret_rows(Txn& txn, const std::string& arn) {
  for (const char* table : {"sm_stages", "sm_versions", "sm_tags", "sm_secrets"}) {
    NUBO_TRY(txn.exec(std::string("DELETE FROM ") + table + " WHERE arn = ?", {arn}));
  }
  return Ok{};
}

Status touch(Txn& txn, const std::string& arn, int64_t now) {
  NUBO_TRY(txn.exec("UPDATE sm_secrets SET changed_ms = ? WHERE arn = ?", {now, arn}));
  return Ok{};
}

// Writes `value` as version `token` of secret `s` with `stages` (PutSecretValue, UpdateSecret,
// CreateSecret): a new version; the value of a rotation's empty version; or, for a token
// already used with the same value, nothing (the retry gets the first answer).
Result<Written> write_value(Txn& txn, const auth::Keyring& keyring, const Secret& s,
                            const std::string& token, const SecretValue& value,
                            std::vector<std::string> stages, int64_t now) {
  NUBO_ASSIGN_OR_RETURN(std::string key, data_key(on(txn), keyring, s.arn));
  Written w{s.arn, s.name, token, {}};
  const Version* existing = s.version(token);
  if (existing != nullptr && existing->kind != ValueKind::kNone) {
    NUBO_ASSIGN_OR_RETURN(SecretValue old, read_value(on(txn), key, s.arn, token));
    if (!(old == value)) return token_in_use(token, s.arn);
    w.stages = existing->stages;
    return w;
  }
  const std::string kms = s.kms_key_id;
  Blob ct = seal_value(key, s.arn, token, value);
  if (existing != nullptr) {
    NUBO_TRY(txn.exec(
        "UPDATE sm_versions SET kind = ?, ciphertext = ?, kms_key_id = ? WHERE arn = ? AND "
        "version_id = ?",
        {static_cast<int64_t>(value.kind), ct, kms.empty() ? Value(Null{}) : Value(kms), s.arn,
         token}));
  } else {
    NUBO_TRY(insert_version(txn, s.arn, token, ct, value.kind, kms, now));
  }
  // The first version of a secret is AWSCURRENT whatever else it is given.
  if (s.staged(kStageCurrent) == nullptr &&
      std::find(stages.begin(), stages.end(), kStageCurrent) == stages.end()) {
    stages.emplace_back(kStageCurrent);
  }
  for (const std::string& stage : stages) NUBO_TRY(attach_stage(txn, s.arn, stage, token));
  NUBO_TRY(check_stage_count(txn, s.arn, token));
  NUBO_TRY(touch(txn, s.arn, now));
  NUBO_TRY(prune_versions(txn, s.arn, now));
  NUBO_ASSIGN_OR_RETURN(w.stages, stages_of(txn, s.arn, token));
  return w;
}

// ---------------------------------------------------------------------------------------------
// Filters (ListSecrets "Filter"): a value matches an attribute by prefix, case-sensitive, for
// name, tag-key, tag-value, primary-region and owning-service; "all" and "description" match
// each word of the value against the words of the attributes, ignoring case. A value
// that starts with '!' matches a secret none of whose attributes it matches. Values of a filter
// OR, filters AND.

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      cur.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

bool prefix_of(std::string_view prefix, std::string_view s, bool ignore_case) {
  if (!ignore_case) return starts_with(s, prefix);
  return starts_with(to_lower(s), to_lower(prefix));
}

bool all_matches(const std::string& value, const std::vector<std::string>& attributes) {
  std::vector<std::string> attr_words;
  for (const std::string& a : attributes) {
    for (std::string& w : words(a)) attr_words.push_back(std::move(w));
  }
  std::vector<std::string> wanted = words(value);
  if (wanted.empty()) return false;
  for (const std::string& w : wanted) {
    bool found = false;
    for (const std::string& a : attr_words) {
      if (starts_with(a, w)) {
        found = true;
        break;
      }
    }
    if (!found) {
      // The whole value may also prefix a whole attribute ("my/secret").
      for (const std::string& a : attributes) {
        if (prefix_of(value, a, true)) return true;
      }
      return false;
    }
  }
  return true;
}

bool filter_value_matches(const Secret& s, const std::string& key, std::string_view value) {
  std::vector<std::string> attrs;
  if (key == "name") {
    attrs.push_back(s.name);
  } else if (key == "description") {
    // Documented as a prefix match; AWS matches it word by word, as "all" (moto's finding).
    return s.has_description && all_matches(std::string(value), {s.description});
  } else if (key == "tag-key") {
    for (const Tag& t : s.tags) attrs.push_back(t.key);
  } else if (key == "tag-value") {
    for (const Tag& t : s.tags) attrs.push_back(t.value);
  } else if (key == "owning-service") {
    if (!s.owning_service().empty()) attrs.push_back(s.owning_service());
  } else if (key == "primary-region") {
    // A secret that is not replicated has no primary Region to match (nubo has no replicas).
  } else if (key == "all") {
    attrs.push_back(s.name);
    if (s.has_description) attrs.push_back(s.description);
    for (const Tag& t : s.tags) {
      attrs.push_back(t.key);
      attrs.push_back(t.value);
    }
    return all_matches(std::string(value), attrs);
  }
  for (const std::string& a : attrs) {
    if (prefix_of(value, a, false)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Paging: NextToken is the offset of the next item, base64 of "nubo:<offset>".

std::string page_token(size_t offset) {
  return base64_encode("nubo:" + std::to_string(offset));
}
Result<size_t> page_offset(const std::string& token) {
  if (token.empty()) return size_t{0};
  auto text = base64_decode(token);
  if (!text || !starts_with(*text, "nubo:") || text->size() == 5 || text->size() > 20) {
    return Error{"InvalidNextTokenException", 400, "The NextToken value is invalid."};
  }
  size_t n = 0;
  for (char c : text->substr(5)) {
    if (c < '0' || c > '9') {
      return Error{"InvalidNextTokenException", 400, "The NextToken value is invalid."};
    }
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  return n;
}

std::string random_alnum(size_t n) {
  static constexpr std::string_view kChars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  while (out.size() < n) {
    for (unsigned char b : random_bytes(n * 2)) {
      if (b >= 248) continue;  // 248 = 4 * 62: no modulo bias
      out.push_back(kChars[b % kChars.size()]);
      if (out.size() == n) break;
    }
  }
  return out;
}

}  // namespace

// -----------------------------------------------------------------------------------------------

const Version* Secret::version(const std::string& id) const {
  for (const Version& v : versions) {
    if (v.version_id == id) return &v;
  }
  return nullptr;
}

const Version* Secret::staged(std::string_view stage) const {
  for (const Version& v : versions) {
    if (std::find(v.stages.begin(), v.stages.end(), stage) != v.stages.end()) return &v;
  }
  return nullptr;
}

std::string Secret::owning_service() const {
  for (const Tag& t : tags) {
    if (t.key == kOwningServiceTag) return t.value;
  }
  return {};
}

bool matches(const Secret& s, const std::vector<Filter>& filters) {
  for (const Filter& f : filters) {
    bool any = false;
    for (const std::string& v : f.values) {
      bool negated = !v.empty() && v[0] == '!';
      std::string_view value = negated ? std::string_view(v).substr(1) : std::string_view(v);
      bool hit = filter_value_matches(s, f.key, value);
      if (hit != negated) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  return true;
}

Secrets::Secrets(storage::Store* store, const Clock* clock, const auth::Keyring* keyring,
                 std::string account_id, std::string region)
    : store_(store),
      clock_(clock),
      keyring_(keyring),
      account_id_(std::move(account_id)),
      region_(std::move(region)) {}

Status Secrets::start() {
  return store_->migrate("secretsmanager", schema());
}

std::string Secrets::arn_prefix() const {
  return "arn:aws:secretsmanager:" + region_ + ":" + account_id_ + ":secret:";
}

std::string Secrets::new_arn(const std::string& name) const {
  return arn_prefix() + name + "-" + random_alnum(kArnSuffixLength);
}

std::string Secrets::unresolved_arn(const std::string& secret_id) const {
  if (starts_with(secret_id, "arn:")) return secret_id;
  return arn_prefix() + secret_id;
}

namespace {

// The ARN a SecretId names, if any: the full ARN, the partial ARN (prefix and name) or the name.
Result<std::optional<std::string>> resolve(const Query& q, const std::string& prefix,
                                           const std::string& id) {
  std::string name = id;
  if (starts_with(id, "arn:")) {
    NUBO_ASSIGN_OR_RETURN(Rows rows, q("SELECT arn FROM sm_secrets WHERE arn = ?", {id}));
    if (!rows.empty()) return std::optional<std::string>(rows[0].text(0));
    if (!starts_with(id, prefix)) return std::optional<std::string>();
    name = id.substr(prefix.size());
  }
  NUBO_ASSIGN_OR_RETURN(Rows rows, q("SELECT arn FROM sm_secrets WHERE name = ?", {name}));
  if (rows.empty()) return std::optional<std::string>();
  return std::optional<std::string>(rows[0].text(0));
}

Result<Secret> load(const Query& q, const std::string& prefix, const std::string& id) {
  NUBO_ASSIGN_OR_RETURN(std::optional<std::string> arn, resolve(q, prefix, id));
  if (!arn) return not_found();
  NUBO_ASSIGN_OR_RETURN(std::optional<Secret> s, load_arn(q, *arn));
  if (!s) return not_found();
  return std::move(*s);
}

}  // namespace

Status Secrets::write(const std::function<Status(storage::Txn&)>& fn) {
  return store_->transaction([&](Txn& txn) -> Status {
    NUBO_TRY(fn(txn));
    NUBO_TRY(txn.exec("UPDATE sm_generation SET generation = generation + 1 WHERE id = 1"));
    return Ok{};
  });
}

Result<uint64_t> Secrets::generation() {
  NUBO_ASSIGN_OR_RETURN(Rows rows,
                        store_->query("SELECT generation FROM sm_generation WHERE id = 1"));
  if (rows.empty()) return internal_error("sm_generation has no row");
  return static_cast<uint64_t>(rows[0].integer(0));
}

namespace {

// The entry of `key` if it was read at generation `gen`; a full cache starts over.
template <typename C>
const typename C::mapped_type::second_type* cache_find(C& cache, const std::string& key,
                                                       uint64_t gen) {
  auto it = cache.find(key);
  return it != cache.end() && it->second.first == gen ? &it->second.second : nullptr;
}

template <typename C, typename T>
void cache_put(C& cache, size_t max, std::string key, uint64_t gen, T value) {
  if (cache.size() >= max) cache.clear();
  cache[std::move(key)] = {gen, std::move(value)};
}

}  // namespace

Result<Secret> Secrets::cached_load(const std::string& secret_id) {
  NUBO_ASSIGN_OR_RETURN(uint64_t gen, generation());
  {
    std::lock_guard lock(cache_mu_);
    if (const Secret* s = cache_find(secrets_, secret_id, gen)) return *s;
  }
  NUBO_ASSIGN_OR_RETURN(Secret s, load(on(store_), arn_prefix(), secret_id));
  std::lock_guard lock(cache_mu_);
  cache_put(secrets_, kCacheMax, secret_id, gen, s);
  return s;
}

Result<std::string> Secrets::cached_data_key(const std::string& arn) {
  NUBO_ASSIGN_OR_RETURN(uint64_t gen, generation());
  {
    std::lock_guard lock(cache_mu_);
    if (const std::string* k = cache_find(keys_, arn, gen)) return *k;
  }
  NUBO_ASSIGN_OR_RETURN(std::string key, data_key(on(store_), *keyring_, arn));
  std::lock_guard lock(cache_mu_);
  cache_put(keys_, kCacheMax, arn, gen, key);
  return key;
}

Result<std::pair<int64_t, std::string>> Secrets::cached_ciphertext(const std::string& arn,
                                                                   const std::string& vid) {
  NUBO_ASSIGN_OR_RETURN(uint64_t gen, generation());
  std::string id = arn + "\n" + vid;
  {
    std::lock_guard lock(cache_mu_);
    if (const auto* c = cache_find(versions_, id, gen)) return *c;
  }
  NUBO_ASSIGN_OR_RETURN(
      Rows rows,
      store_->query("SELECT kind, ciphertext FROM sm_versions WHERE arn = ? AND version_id = ?",
                    {arn, vid}));
  if (rows.empty()) return no_value("VersionId", vid);
  std::pair<int64_t, std::string> c{rows[0].integer(0), rows[0].text(1)};
  std::lock_guard lock(cache_mu_);
  cache_put(versions_, kCacheMax, std::move(id), gen, c);
  return c;
}

Result<Secret> Secrets::describe(const std::string& secret_id) {
  return cached_load(secret_id);
}

Result<Written> Secrets::create(CreateRequest req) {
  const int64_t now = to_ms(clock_->now());
  const std::string arn = req.arn.empty() ? new_arn(req.name) : req.arn;
  const std::string token = req.token.empty() ? new_uuid() : req.token;
  Written out;
  NUBO_TRY(write([&](Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(
        Rows taken,
        txn.query("SELECT arn, deletion_ms FROM sm_secrets WHERE name = ?", {req.name}));
    if (!taken.empty()) {
      if (!taken[0].is_null(1)) {
        return invalid_request(
            "You can't create this secret because a secret with this name is already scheduled "
            "for deletion.");
      }
      NUBO_ASSIGN_OR_RETURN(std::optional<Secret> s, load_arn(on(txn), taken[0].text(0)));
      const Version* v = s && !req.token.empty() ? s->version(req.token) : nullptr;
      if (v != nullptr && req.value && v->kind != ValueKind::kNone) {
        // A retry of the request that created it: the same answer, or a token reused.
        NUBO_ASSIGN_OR_RETURN(std::string key, data_key(on(txn), *keyring_, s->arn));
        NUBO_ASSIGN_OR_RETURN(SecretValue old, read_value(on(txn), key, s->arn, req.token));
        if (!(old == *req.value)) return token_in_use(req.token, s->arn);
        out = Written{s->arn, s->name, req.token, v->stages};
        return Ok{};
      }
      return Error{"ResourceExistsException", 400,
                   "The operation failed because the secret " + req.name + " already exists."};
    }
    NUBO_ASSIGN_OR_RETURN(Rows seq, txn.query("SELECT COALESCE(MAX(seq), 0) FROM sm_secrets"));
    std::string key = auth::Keyring::new_data_key();
    NUBO_TRY(txn.exec(
        "INSERT INTO sm_secrets (arn, name, seq, description, kms_key_id, type, data_key, "
        "created_ms, changed_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {arn, req.name, (seq.empty() ? 0 : seq[0].integer(0)) + 1, opt_text(req.description),
         req.kms_key_id.empty() ? Value(Null{}) : Value(req.kms_key_id),
         req.type.empty() ? Value(Null{}) : Value(req.type), Blob{keyring_->wrap(key, arn)}, now,
         now}));
    int64_t i = 0;
    for (const Tag& t : req.tags) {
      NUBO_TRY(txn.exec(
          "INSERT INTO sm_tags (arn, tag_key, tag_value, seq) VALUES (?, ?, ?, ?) ON CONFLICT "
          "(arn, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
          {arn, t.key, t.value, i++}));
    }
    out = Written{arn, req.name, "", {}};
    if (req.value) {
      NUBO_ASSIGN_OR_RETURN(std::optional<Secret> s, load_arn(on(txn), arn));
      NUBO_ASSIGN_OR_RETURN(out, write_value(txn, *keyring_, *s, token, *req.value,
                                             {std::string(kStageCurrent)}, now));
    }
    return Ok{};
  }));
  return out;
}

Result<Written> Secrets::put_value(PutRequest req) {
  const int64_t now = to_ms(clock_->now());
  const std::string token = req.token.empty() ? new_uuid() : req.token;
  std::vector<std::string> stages =
      req.stages ? *req.stages : std::vector<std::string>{std::string(kStageCurrent)};
  Written out;
  NUBO_TRY(write([&](Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(Secret s, load(on(txn), arn_prefix(), req.secret_id));
    if (s.deleted()) return marked_deleted();
    NUBO_ASSIGN_OR_RETURN(out, write_value(txn, *keyring_, s, token, req.value, stages, now));
    return Ok{};
  }));
  return out;
}

Result<Written> Secrets::update(UpdateRequest req) {
  const int64_t now = to_ms(clock_->now());
  const std::string token = req.token.empty() ? new_uuid() : req.token;
  Written out;
  NUBO_TRY(write([&](Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(Secret s, load(on(txn), arn_prefix(), req.secret_id));
    if (s.deleted()) return marked_deleted();
    if (req.description) {
      NUBO_TRY(txn.exec("UPDATE sm_secrets SET description = ? WHERE arn = ?",
                        {*req.description, s.arn}));
    }
    if (req.kms_key_id) {
      NUBO_TRY(txn.exec("UPDATE sm_secrets SET kms_key_id = ? WHERE arn = ?",
                        {req.kms_key_id->empty() ? Value(Null{}) : Value(*req.kms_key_id), s.arn}));
      s.kms_key_id = *req.kms_key_id;
    }
    if (req.type) {
      NUBO_TRY(txn.exec("UPDATE sm_secrets SET type = ? WHERE arn = ?", {*req.type, s.arn}));
    }
    NUBO_TRY(touch(txn, s.arn, now));
    out = Written{s.arn, s.name, "", {}};
    if (req.value) {
      NUBO_ASSIGN_OR_RETURN(out, write_value(txn, *keyring_, s, token, *req.value,
                                             {std::string(kStageCurrent)}, now));
    }
    return Ok{};
  }));
  return out;
}

Result<ReadValue> Secrets::get_value(const std::string& secret_id, const std::string& version_id,
                                     const std::string& version_stage) {
  const SystemTime now = clock_->now();
  // A read outside any transaction (reads do not queue behind writes); only a new access date
  // is written, at most once a day.
  NUBO_ASSIGN_OR_RETURN(Secret s, cached_load(secret_id));
  if (s.deleted()) return marked_deleted();
  const Version* v = nullptr;
  if (!version_id.empty()) {
    v = s.version(version_id);
    if (v == nullptr) return no_value("VersionId", version_id);
    if (!version_stage.empty() &&
        std::find(v->stages.begin(), v->stages.end(), version_stage) == v->stages.end()) {
      return invalid_request(
          "You provided a VersionStage that is not associated to the provided VersionId.");
    }
  } else {
    std::string stage = version_stage.empty() ? std::string(kStageCurrent) : version_stage;
    v = s.staged(stage);
    if (v == nullptr || v->kind == ValueKind::kNone) return no_value("staging label", stage);
  }
  if (v->kind == ValueKind::kNone) return no_value("VersionId", v->version_id);
  ReadValue out;
  NUBO_ASSIGN_OR_RETURN(std::string key, cached_data_key(s.arn));
  NUBO_ASSIGN_OR_RETURN(auto sealed, cached_ciphertext(s.arn, v->version_id));
  out.value.kind = static_cast<ValueKind>(sealed.first);
  if (out.value.kind == ValueKind::kNone) return no_value("VersionId", v->version_id);
  auto plain = aes256gcm_open(key, sealed.second, aad(s.arn, v->version_id, out.value.kind));
  if (!plain) return decryption_failure();
  out.value.bytes = std::move(*plain);
  out.arn = s.arn;
  out.name = s.name;
  out.version_id = v->version_id;
  out.stages = v->stages;
  out.created = v->created;
  const SystemTime today = day_of(now);
  if (s.last_accessed != today || v->last_accessed != today) {
    NUBO_TRY(write([&](Txn& txn) -> Status {
      NUBO_TRY(
          txn.exec("UPDATE sm_secrets SET accessed_ms = ? WHERE arn = ?", {to_ms(today), s.arn}));
      NUBO_TRY(txn.exec("UPDATE sm_versions SET accessed_ms = ? WHERE arn = ? AND version_id = ?",
                        {to_ms(today), s.arn, out.version_id}));
      return Ok{};
    }));
  }
  return out;
}

Result<Written> Secrets::update_stage(const std::string& secret_id, const std::string& stage,
                                      const std::string& remove_from, const std::string& move_to) {
  const int64_t now = to_ms(clock_->now());
  Written out;
  NUBO_TRY(write([&](Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(Secret s, load(on(txn), arn_prefix(), secret_id));
    if (s.deleted()) return marked_deleted();
    out = Written{s.arn, s.name, "", {}};
    const Version* holder = s.staged(stage);
    if (!remove_from.empty() && s.version(remove_from) == nullptr) {
      return bad_parameter("Not a valid version: " + remove_from);
    }
    if (!move_to.empty() && s.version(move_to) == nullptr) {
      return bad_parameter("Not a valid version: " + move_to);
    }
    if (!remove_from.empty() && (holder == nullptr || holder->version_id != remove_from)) {
      return bad_parameter("The staging label " + stage + " isn't attached to version " +
                           remove_from + ", so you can't remove it from that version.");
    }
    if (move_to.empty()) {
      if (remove_from.empty()) {
        return bad_parameter("You must specify MoveToVersionId or RemoveFromVersionId, or both.");
      }
      if (stage == kStageCurrent) {
        return bad_parameter(
            "You can only move staging label AWSCURRENT to a different secret version. It "
            "can't be completely removed.");
      }
      NUBO_TRY(txn.exec("DELETE FROM sm_stages WHERE arn = ? AND stage = ?", {s.arn, stage}));
      NUBO_TRY(touch(txn, s.arn, now));
      return Ok{};
    }
    if (holder != nullptr && holder->version_id == move_to) return Ok{};
    if (holder != nullptr && remove_from.empty()) {
      return bad_parameter("The parameter RemoveFromVersionId can't be empty. Staging label " +
                           stage + " is currently attached to version " + holder->version_id +
                           ", so you must explicitly reference that version in "
                           "RemoveFromVersionId.");
    }
    NUBO_TRY(attach_stage(txn, s.arn, stage, move_to));
    NUBO_TRY(check_stage_count(txn, s.arn, move_to));
    if (stage == kStageCurrent && holder != nullptr) {
      NUBO_TRY(check_stage_count(txn, s.arn, holder->version_id));
    }
    NUBO_TRY(touch(txn, s.arn, now));
    NUBO_TRY(prune_versions(txn, s.arn, now));
    return Ok{};
  }));
  return out;
}

Result<Deleted> Secrets::remove(const std::string& secret_id, std::optional<int64_t> window_days,
                                bool force) {
  const SystemTime now = clock_->now();
  Deleted out;
  NUBO_TRY(write([&](Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> arn,
                          resolve(on(txn), arn_prefix(), secret_id));
    if (!arn) {
      if (!force) return not_found();
      // "If you forcibly delete an already deleted or nonexistent secret, the operation does
      // not return ResourceNotFoundException."
      out.arn = starts_with(secret_id, "arn:") ? secret_id : new_arn(secret_id);
      out.name = secret_id;
      out.deletion_date = now;
      return Ok{};
    }
    NUBO_ASSIGN_OR_RETURN(std::optional<Secret> s, load_arn(on(txn), *arn));
    if (!s) return not_found();
    out.arn = s->arn;
    out.name = s->name;
    if (force) {
      out.deletion_date = now;
      return delete_secret_rows(txn, s->arn);
    }
    if (s->deleted()) return marked_deleted();
    out.deletion_date =
        now + std::chrono::hours(24 * window_days.value_or(kRecoveryWindowDefaultDays));
    NUBO_TRY(txn.exec("UPDATE sm_secrets SET deletion_ms = ?, changed_ms = ? WHERE arn = ?",
                      {to_ms(out.deletion_date), to_ms(now), s->arn}));
    return Ok{};
  }));
  return out;
}

Result<Secret> Secrets::restore(const std::string& secret_id) {
  const int64_t now = to_ms(clock_->now());
  Secret out;
  NUBO_TRY(write([&](Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(out, load(on(txn), arn_prefix(), secret_id));
    if (!out.deleted()) return Ok{};
    NUBO_TRY(txn.exec("UPDATE sm_secrets SET deletion_ms = NULL, changed_ms = ? WHERE arn = ?",
                      {now, out.arn}));
    out.deletion_date.reset();
    return Ok{};
  }));
  return out;
}

Result<int> Secrets::purge(SystemTime now) {
  int n = 0;
  NUBO_TRY(write([&](Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(Rows rows,
                          txn.query("SELECT arn FROM sm_secrets WHERE deletion_ms IS NOT NULL AND "
                                    "deletion_ms <= ?",
                                    {to_ms(now)}));
    for (const Row& r : rows) {
      NUBO_TRY(delete_secret_rows(txn, r.text(0)));
      ++n;
    }
    return Ok{};
  }));
  return n;
}

Status Secrets::tag(const std::string& secret_id, const std::vector<Tag>& tags) {
  const int64_t now = to_ms(clock_->now());
  return write([&](Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(Secret s, load(on(txn), arn_prefix(), secret_id));
    std::vector<Tag> merged = s.tags;
    for (const Tag& t : tags) {
      auto it =
          std::find_if(merged.begin(), merged.end(), [&](const Tag& m) { return m.key == t.key; });
      if (it != merged.end()) {
        it->value = t.value;
      } else {
        merged.push_back(t);
      }
    }
    if (merged.size() > kTagsMax) {
      return bad_parameter("The number of tags on a secret can't exceed " +
                           std::to_string(kTagsMax) + ".");
    }
    NUBO_TRY(txn.exec("DELETE FROM sm_tags WHERE arn = ?", {s.arn}));
    int64_t i = 0;
    for (const Tag& t : merged) {
      NUBO_TRY(txn.exec("INSERT INTO sm_tags (arn, tag_key, tag_value, seq) VALUES (?, ?, ?, ?)",
                        {s.arn, t.key, t.value, i++}));
    }
    return touch(txn, s.arn, now);
  });
}

Status Secrets::untag(const std::string& secret_id, const std::vector<std::string>& keys) {
  const int64_t now = to_ms(clock_->now());
  return write([&](Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(Secret s, load(on(txn), arn_prefix(), secret_id));
    for (const std::string& k : keys) {
      NUBO_TRY(txn.exec("DELETE FROM sm_tags WHERE arn = ? AND tag_key = ?", {s.arn, k}));
    }
    return touch(txn, s.arn, now);
  });
}

Result<Secret> Secrets::put_policy(const std::string& secret_id, const std::string& policy) {
  const int64_t now = to_ms(clock_->now());
  Secret out;
  NUBO_TRY(write([&](Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(out, load(on(txn), arn_prefix(), secret_id));
    if (out.deleted()) return marked_deleted();
    NUBO_TRY(txn.exec("UPDATE sm_secrets SET policy = ?, changed_ms = ? WHERE arn = ?",
                      {policy, now, out.arn}));
    out.policy = policy;
    return Ok{};
  }));
  return out;
}

Result<Secret> Secrets::delete_policy(const std::string& secret_id) {
  const int64_t now = to_ms(clock_->now());
  Secret out;
  NUBO_TRY(write([&](Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(out, load(on(txn), arn_prefix(), secret_id));
    NUBO_TRY(txn.exec("UPDATE sm_secrets SET policy = NULL, changed_ms = ? WHERE arn = ?",
                      {now, out.arn}));
    out.policy.reset();
    return Ok{};
  }));
  return out;
}

Result<SecretPage> Secrets::list(const ListQuery& query) {
  NUBO_ASSIGN_OR_RETURN(size_t offset, page_offset(query.next_token));
  NUBO_ASSIGN_OR_RETURN(std::vector<Secret> all, load_secrets(on(store_), "1 = 1", {}));
  std::vector<Secret> kept;
  for (Secret& s : all) {
    if (s.deleted() && !query.include_planned_deletion) continue;
    if (!matches(s, query.filters)) continue;
    kept.push_back(std::move(s));
  }
  auto key_less = [&](const Secret& a, const Secret& b) {
    if (query.sort_by == "name") return a.name < b.name;
    if (query.sort_by == "last-changed-date") return a.last_changed < b.last_changed;
    if (query.sort_by == "last-accessed-date") {
      return a.last_accessed.value_or(SystemTime{}) < b.last_accessed.value_or(SystemTime{});
    }
    return a.created < b.created;
  };
  // Stable: ties keep creation order.
  std::stable_sort(kept.begin(), kept.end(), [&](const Secret& a, const Secret& b) {
    return query.descending ? key_less(b, a) : key_less(a, b);
  });
  SecretPage page;
  size_t end = std::min(kept.size(), offset + static_cast<size_t>(query.max_results));
  for (size_t i = std::min(offset, kept.size()); i < end; ++i) page.secrets.push_back(kept[i]);
  if (end < kept.size()) page.next_token = page_token(end);
  return page;
}

Result<VersionPage> Secrets::list_versions(const std::string& secret_id, bool include_deprecated,
                                           int64_t max_results, const std::string& next_token) {
  NUBO_ASSIGN_OR_RETURN(size_t offset, page_offset(next_token));
  NUBO_ASSIGN_OR_RETURN(Secret s, describe(secret_id));
  VersionPage page;
  page.arn = s.arn;
  page.name = s.name;
  std::vector<Version> kept;
  for (Version& v : s.versions) {
    if (v.stages.empty() && !include_deprecated) continue;
    kept.push_back(std::move(v));
  }
  size_t end = std::min(kept.size(), offset + static_cast<size_t>(max_results));
  for (size_t i = std::min(offset, kept.size()); i < end; ++i) page.versions.push_back(kept[i]);
  if (end < kept.size()) page.next_token = page_token(end);
  return page;
}

namespace {

// Makes the AWSPENDING version of a rotation (no value; AWSCURRENT's value when testing), taking
// AWSPENDING from the current version if a finished rotation left it there.
Status make_pending(Txn& txn, const auth::Keyring& keyring, const Secret& s,
                    const std::string& token, bool copy_current, int64_t now) {
  if (s.version(token) != nullptr) return token_in_use(token, s.arn);
  const Version* current = s.staged(kStageCurrent);
  std::optional<Blob> ct;
  ValueKind kind = ValueKind::kNone;
  if (copy_current && current != nullptr && current->kind != ValueKind::kNone) {
    NUBO_ASSIGN_OR_RETURN(std::string key, data_key(on(txn), keyring, s.arn));
    NUBO_ASSIGN_OR_RETURN(SecretValue v, read_value(on(txn), key, s.arn, current->version_id));
    ct = seal_value(key, s.arn, token, v);
    kind = v.kind;
  }
  NUBO_TRY(insert_version(txn, s.arn, token, ct, kind, s.kms_key_id, now));
  return set_stage(txn, s.arn, std::string(kStagePending), token);
}

// An unfinished rotation: AWSPENDING on a version that is not AWSCURRENT.
const Version* unfinished(const Secret& s) {
  const Version* pending = s.staged(kStagePending);
  if (pending == nullptr || pending == s.staged(kStageCurrent)) return nullptr;
  return pending;
}

Value next_window_ms(const RotationRules& rules, SystemTime from) {
  if (rules.empty()) return Null{};
  auto schedule = RotationSchedule::parse(rules);
  if (!schedule.ok()) return Null{};
  return to_ms(schedule->next_window(from));
}

}  // namespace

Result<RotationJob> Secrets::begin_rotation(RotateRequest req) {
  const SystemTime now_t = clock_->now();
  const int64_t now = to_ms(now_t);
  RotationJob job;
  NUBO_TRY(write([&](Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(Secret s, load(on(txn), arn_prefix(), req.secret_id));
    if (s.deleted()) return marked_deleted();
    std::string lambda =
        req.lambda_arn && !req.lambda_arn->empty() ? *req.lambda_arn : s.rotation_lambda_arn;
    if (lambda.empty()) {
      return invalid_request(
          "You tried to enable rotation on a secret that doesn't already have a Lambda function "
          "ARN configured and you didn't include such an ARN as a parameter in this call.");
    }
    RotationRules rules = req.rules ? *req.rules : s.rotation_rules;
    job = RotationJob{s.arn, s.name, lambda, req.token.empty() ? new_uuid() : req.token,
                      !req.rotate_immediately};
    if (const Version* pending = unfinished(s)) {
      if (req.token.empty() || pending->version_id != req.token || !req.rotate_immediately) {
        return invalid_request(
            "A previous rotation isn't complete. That rotation will be "
            "reattempted.");
      }
      // The same token again: that rotation is tried again, on its version.
    } else {
      NUBO_TRY(make_pending(txn, *keyring_, s, job.token, job.test_only, now));
    }
    NUBO_TRY(txn.exec(
        "UPDATE sm_secrets SET rotation_configured = 1, rotation_enabled = 1, rotation_lambda = "
        "?, rotation_days = ?, rotation_duration = ?, rotation_expression = ?, next_rotation_ms "
        "= ?, rotation_retry_ms = NULL, rotation_failure = NULL, changed_ms = ? WHERE arn = ?",
        {lambda,
         rules.automatically_after_days ? Value(*rules.automatically_after_days) : Value(Null{}),
         rules.duration.empty() ? Value(Null{}) : Value(rules.duration),
         rules.schedule_expression.empty() ? Value(Null{}) : Value(rules.schedule_expression),
         next_window_ms(rules, now_t), now, s.arn}));
    return Ok{};
  }));
  return job;
}

Status Secrets::finish_rotation(const RotationJob& job) {
  const SystemTime now_t = clock_->now();
  const int64_t now = to_ms(now_t);
  bool not_current = false;
  NUBO_TRY(write([&](Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(std::optional<Secret> s, load_arn(on(txn), job.arn));
    if (!s) return Ok{};  // deleted meanwhile
    if (job.test_only) return delete_version(txn, s->arn, job.token);
    const Version* v = s->version(job.token);
    if (v == nullptr || s->staged(kStageCurrent) != v) {
      not_current = true;
      NUBO_TRY(
          txn.exec("UPDATE sm_secrets SET rotation_failure = ?, rotation_retry_ms = ? "
                   "WHERE arn = ?",
                   {"finishSecret: the rotation's version is not AWSCURRENT",
                    to_ms(now_t + kRotationRetryDelay), s->arn}));
      return Ok{};
    }
    // "Our backend cleans up the pending label on rotation completion."
    NUBO_TRY(txn.exec("DELETE FROM sm_stages WHERE arn = ? AND stage = ? AND version_id = ?",
                      {s->arn, std::string(kStagePending), job.token}));
    Value next = s->rotation_enabled ? next_window_ms(s->rotation_rules, now_t) : Value(Null{});
    NUBO_TRY(
        txn.exec("UPDATE sm_secrets SET last_rotated_ms = ?, next_rotation_ms = ?, "
                 "rotation_retry_ms = NULL, rotation_failure = NULL, changed_ms = ? WHERE "
                 "arn = ?",
                 {now, next, now, s->arn}));
    return Ok{};
  }));
  if (not_current) {
    return invalid_request("The rotation function finished without moving AWSCURRENT to version " +
                           job.token + ".");
  }
  return Ok{};
}

Status Secrets::fail_rotation(const RotationJob& job, const std::string& what) {
  const SystemTime now = clock_->now();
  return write([&](Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(std::optional<Secret> s, load_arn(on(txn), job.arn));
    if (!s) return Ok{};
    if (job.test_only) NUBO_TRY(delete_version(txn, s->arn, job.token));
    NUBO_TRY(
        txn.exec("UPDATE sm_secrets SET rotation_failure = ?, rotation_retry_ms = ? WHERE arn = ?",
                 {what, to_ms(now + kRotationRetryDelay), s->arn}));
    return Ok{};
  });
}

Result<Written> Secrets::cancel_rotation(const std::string& secret_id) {
  const int64_t now = to_ms(clock_->now());
  Written out;
  NUBO_TRY(write([&](Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(Secret s, load(on(txn), arn_prefix(), secret_id));
    if (s.deleted()) return marked_deleted();
    if (s.rotation_lambda_arn.empty()) {
      return invalid_request(
          "You tried to enable rotation on a secret that doesn't already have a Lambda function "
          "ARN configured and you didn't include such an ARN as a parameter in this call.");
    }
    out = Written{s.arn, s.name, "", {}};
    if (const Version* pending = unfinished(s)) out.version_id = pending->version_id;
    NUBO_TRY(
        txn.exec("UPDATE sm_secrets SET rotation_enabled = 0, next_rotation_ms = NULL, "
                 "rotation_retry_ms = NULL, changed_ms = ? WHERE arn = ?",
                 {now, s.arn}));
    return Ok{};
  }));
  return out;
}

Result<std::vector<RotationJob>> Secrets::due_rotations(SystemTime now_t) {
  const int64_t now = to_ms(now_t);
  std::vector<RotationJob> jobs;
  NUBO_TRY(write([&](Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(
        Rows rows,
        txn.query("SELECT arn FROM sm_secrets WHERE rotation_enabled = 1 AND deletion_ms IS NULL "
                  "AND next_rotation_ms IS NOT NULL AND next_rotation_ms <= ? AND "
                  "(rotation_retry_ms IS NULL OR rotation_retry_ms <= ?) ORDER BY seq",
                  {now, now}));
    for (const Row& r : rows) {
      NUBO_ASSIGN_OR_RETURN(std::optional<Secret> s, load_arn(on(txn), r.text(0)));
      if (!s || s->rotation_lambda_arn.empty()) continue;
      RotationJob job{s->arn, s->name, s->rotation_lambda_arn, "", false};
      if (const Version* pending = unfinished(*s)) {
        job.token = pending->version_id;
      } else {
        job.token = new_uuid();
        NUBO_TRY(make_pending(txn, *keyring_, *s, job.token, false, now));
      }
      jobs.push_back(std::move(job));
    }
    return Ok{};
  }));
  return jobs;
}

}  // namespace nubo::secretsmanager
