#include "services/secretsmanager/secrets.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <thread>

#include "base/crypto.h"
#include "test_util.h"

namespace nubo::secretsmanager {
namespace {

using testing::DataDir;
using testing::kAccount;
using testing::kRegion;

SecretValue text(std::string s) {
  return SecretValue{ValueKind::kString, std::move(s)};
}

std::vector<std::string> stages_of(const Secret& s, const std::string& vid) {
  const Version* v = s.version(vid);
  return v ? v->stages : std::vector<std::string>{"<no such version>"};
}

class SecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    secrets_ = std::make_unique<Secrets>(dir_.store(), &clock_, &keyring_, kAccount, kRegion);
    ASSERT_TRUE(secrets_->start().ok());
  }

  Written create(const std::string& name, std::optional<SecretValue> value = text("v1"),
                 const std::string& token = "") {
    CreateRequest r;
    r.name = name;
    r.value = std::move(value);
    r.token = token;
    auto w = secrets_->create(std::move(r));
    EXPECT_TRUE(w.ok()) << w.error().message;
    return w.ok() ? *w : Written{};
  }
  Written put(const std::string& id, const std::string& value, const std::string& token = "",
              std::optional<std::vector<std::string>> stages = std::nullopt) {
    auto w = secrets_->put_value(PutRequest{id, text(value), token, std::move(stages)});
    EXPECT_TRUE(w.ok()) << w.error().message;
    return w.ok() ? *w : Written{};
  }
  Secret describe(const std::string& id) {
    auto s = secrets_->describe(id);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? *s : Secret{};
  }
  std::string value(const std::string& id, const std::string& vid = "",
                    const std::string& stage = "") {
    auto v = secrets_->get_value(id, vid, stage);
    return v.ok() ? v->value.bytes : "<" + v.error().code + ": " + v.error().message + ">";
  }

  DataDir dir_;
  FakeClock clock_{testing::start_time()};
  auth::Keyring keyring_{std::string(32, '\x42')};
  std::unique_ptr<Secrets> secrets_;
};

TEST_F(SecretsTest, CreateThenFindByNameFullArnAndPartialArn) {
  Written w = create("prod/db-password");
  const std::string prefix =
      "arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db-password-";
  ASSERT_EQ(w.arn.substr(0, prefix.size()), prefix);
  const std::string suffix = w.arn.substr(prefix.size());
  EXPECT_EQ(suffix.size(), 6u) << w.arn;
  EXPECT_TRUE(std::all_of(suffix.begin(), suffix.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c));
  })) << w.arn;
  EXPECT_EQ(w.version_id.size(), 36u);
  EXPECT_EQ(w.stages, std::vector<std::string>{"AWSCURRENT"});
  EXPECT_EQ(value("prod/db-password"), "v1");
  EXPECT_EQ(value(w.arn), "v1");
  EXPECT_EQ(value("arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db-password"), "v1");
  // Another account's or Region's partial ARN names nothing here.
  EXPECT_EQ(secrets_
                ->describe("arn:aws:secretsmanager:eu-west-1:000000000000:secret:prod/"
                           "db-password")
                .error()
                .code,
            "ResourceNotFoundException");
  auto missing = secrets_->describe("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "Secrets Manager can't find the specified secret.");
  EXPECT_EQ(missing.error().status, 400);

  Secret s = describe("prod/db-password");
  EXPECT_EQ(s.created, testing::start_time());
  EXPECT_EQ(s.versions.size(), 1u);
  EXPECT_FALSE(s.last_accessed.has_value() && *s.last_accessed > s.created);
}

TEST_F(SecretsTest, CreateIsIdempotentForItsTokenAndRefusesATakenName) {
  const std::string token(32, 'a');
  Written first = create("api-key", text("k1"), token);
  auto again = secrets_->create(CreateRequest{"api-key", "", "", {}, {}, text("k1"), token, ""});
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->arn, first.arn);
  EXPECT_EQ(again->version_id, token);

  auto other_value =
      secrets_->create(CreateRequest{"api-key", "", "", {}, {}, text("k2"), token, ""});
  ASSERT_FALSE(other_value.ok());
  EXPECT_EQ(other_value.error().code, "ResourceExistsException");
  EXPECT_NE(other_value.error().message.find("You can't use ClientRequestToken " + token),
            std::string::npos);
  EXPECT_EQ(other_value.error().message.find("k2"), std::string::npos);  // no value in errors

  auto taken = secrets_->create(CreateRequest{"api-key", "", "", {}, {}, text("k1"), "", ""});
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code, "ResourceExistsException");
  EXPECT_EQ(taken.error().message,
            "The operation failed because the secret api-key already exists.");

  // Without a value: no version, and GetSecretValue finds none.
  Written empty = create("no-value", std::nullopt);
  EXPECT_TRUE(empty.version_id.empty());
  EXPECT_EQ(value("no-value"),
            "<ResourceNotFoundException: Secrets Manager can't find the specified secret value "
            "for staging label: AWSCURRENT>");
  // Its first PutSecretValue gets AWSCURRENT even when given other labels.
  Written first_put = put("no-value", "x", "", std::vector<std::string>{"MINE"});
  EXPECT_EQ(first_put.stages, (std::vector<std::string>{"AWSCURRENT", "MINE"}));
}

TEST_F(SecretsTest, PutSecretValueMovesTheLabels) {
  Written w1 = create("s");
  Written w2 = put("s", "v2");
  Secret s = describe("s");
  EXPECT_EQ(stages_of(s, w2.version_id), std::vector<std::string>{"AWSCURRENT"});
  EXPECT_EQ(stages_of(s, w1.version_id), std::vector<std::string>{"AWSPREVIOUS"});
  Written w3 = put("s", "v3");
  s = describe("s");
  EXPECT_EQ(stages_of(s, w1.version_id), std::vector<std::string>{});  // deprecated
  EXPECT_EQ(stages_of(s, w2.version_id), std::vector<std::string>{"AWSPREVIOUS"});
  EXPECT_EQ(value("s"), "v3");
  EXPECT_EQ(value("s", "", "AWSPREVIOUS"), "v2");
  EXPECT_EQ(value("s", w1.version_id), "v1");

  // A pending version leaves AWSCURRENT where it is.
  Written p = put("s", "v4", "", std::vector<std::string>{"AWSPENDING"});
  EXPECT_EQ(p.stages, std::vector<std::string>{"AWSPENDING"});
  EXPECT_EQ(value("s"), "v3");
  EXPECT_EQ(value("s", "", "AWSPENDING"), "v4");

  // Idempotency: the same token and value is the first answer; another value is refused.
  const std::string token(40, 'b');
  Written t1 = put("s", "v5", token);
  Written t2 = put("s", "v5", token);
  EXPECT_EQ(t2.version_id, token);
  EXPECT_EQ(t2.stages, t1.stages);
  EXPECT_EQ(describe("s").versions.size(), 5u);
  auto clash = secrets_->put_value(PutRequest{"s", text("v6"), token, std::nullopt});
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error().code, "ResourceExistsException");
  // Binary and string values differ even with the same bytes.
  auto kind = secrets_->put_value(
      PutRequest{"s", SecretValue{ValueKind::kBinary, "v5"}, token, std::nullopt});
  EXPECT_FALSE(kind.ok());
}

TEST_F(SecretsTest, GetSecretValueErrors) {
  Written w = create("g");
  const std::string unknown(36, 'c');
  EXPECT_EQ(value("g", unknown),
            "<ResourceNotFoundException: Secrets Manager can't find the specified secret value "
            "for VersionId: " +
                unknown + ">");
  EXPECT_EQ(value("g", "", "NOPE"),
            "<ResourceNotFoundException: Secrets Manager can't find the specified secret value "
            "for staging label: NOPE>");
  EXPECT_EQ(value("g", w.version_id, "AWSPREVIOUS"),
            "<InvalidRequestException: You provided a VersionStage that is not associated to the "
            "provided VersionId.>");
  EXPECT_EQ(value("g", w.version_id, "AWSCURRENT"), "v1");
}

TEST_F(SecretsTest, LastAccessedIsADateRecordedOnRead) {
  create("a");
  EXPECT_FALSE(describe("a").last_accessed.has_value());
  EXPECT_EQ(value("a"), "v1");
  Secret s = describe("a");
  ASSERT_TRUE(s.last_accessed.has_value());
  EXPECT_EQ(*s.last_accessed, SystemTime(std::chrono::seconds(1699920000)));  // 2023-11-14
  ASSERT_TRUE(s.versions[0].last_accessed.has_value());
  clock_.advance(std::chrono::hours(2));  // 2023-11-15T00:13Z
  EXPECT_EQ(value("a"), "v1");
  EXPECT_EQ(*describe("a").last_accessed, SystemTime(std::chrono::seconds(1700006400)));
}

TEST_F(SecretsTest, UpdateSecretVersionStageFollowsAwsRules) {
  Written w1 = create("u");
  Written w2 = put("u", "v2");
  // AWSCURRENT is on w2: moving it needs RemoveFromVersionId naming w2.
  auto no_remove = secrets_->update_stage("u", "AWSCURRENT", "", w1.version_id);
  ASSERT_FALSE(no_remove.ok());
  EXPECT_EQ(no_remove.error().code, "InvalidParameterException");
  EXPECT_EQ(no_remove.error().message,
            "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is "
            "currently attached to version " +
                w2.version_id +
                ", so you must explicitly reference that version in RemoveFromVersionId.");
  auto wrong_remove = secrets_->update_stage("u", "AWSCURRENT", w1.version_id, w1.version_id);
  EXPECT_EQ(wrong_remove.error().code, "InvalidParameterException");
  auto rollback = secrets_->update_stage("u", "AWSCURRENT", w2.version_id, w1.version_id);
  ASSERT_TRUE(rollback.ok()) << rollback.error().message;
  Secret s = describe("u");
  EXPECT_EQ(stages_of(s, w1.version_id), std::vector<std::string>{"AWSCURRENT"});
  EXPECT_EQ(stages_of(s, w2.version_id), std::vector<std::string>{"AWSPREVIOUS"});
  EXPECT_EQ(value("u"), "v1");

  // AWSCURRENT only moves.
  auto remove_current = secrets_->update_stage("u", "AWSCURRENT", w1.version_id, "");
  ASSERT_FALSE(remove_current.ok());
  EXPECT_EQ(remove_current.error().message,
            "You can only move staging label AWSCURRENT to a different secret version. It can't "
            "be completely removed.");
  // Other labels are added and removed freely.
  ASSERT_TRUE(secrets_->update_stage("u", "BLUE", "", w2.version_id).ok());
  EXPECT_EQ(stages_of(describe("u"), w2.version_id),
            (std::vector<std::string>{"AWSPREVIOUS", "BLUE"}));
  ASSERT_TRUE(secrets_->update_stage("u", "BLUE", w2.version_id, "").ok());
  EXPECT_EQ(stages_of(describe("u"), w2.version_id), std::vector<std::string>{"AWSPREVIOUS"});
  auto not_a_version = secrets_->update_stage("u", "BLUE", "", std::string(32, 'z'));
  EXPECT_EQ(not_a_version.error().code, "InvalidParameterException");

  // At most 20 labels on a version.
  for (int i = 0; i < 19; ++i) {
    ASSERT_TRUE(secrets_->update_stage("u", "L" + std::to_string(i), "", w1.version_id).ok());
  }
  auto too_many = secrets_->update_stage("u", "L19", "", w1.version_id);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code, "LimitExceededException");
  EXPECT_EQ(stages_of(describe("u"), w1.version_id).size(), 20u);  // rolled back
}

TEST_F(SecretsTest, DeleteRestoreAndTheEndOfTheRecoveryWindow) {
  Written w = create("d");
  auto del = secrets_->remove("d", std::nullopt, false);
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->deletion_date, testing::start_time() + std::chrono::hours(24 * 30));
  EXPECT_EQ(value("d"),
            "<InvalidRequestException: You can't perform this operation on the secret because it "
            "was marked for deletion.>");
  EXPECT_EQ(secrets_->put_value(PutRequest{"d", text("x"), "", std::nullopt}).error().code,
            "InvalidRequestException");
  EXPECT_EQ(secrets_->remove("d", 7, false).error().code, "InvalidRequestException");
  EXPECT_TRUE(describe("d").deleted());
  auto recreate = secrets_->create(CreateRequest{"d", "", "", {}, {}, text("x"), "", ""});
  ASSERT_FALSE(recreate.ok());
  EXPECT_EQ(recreate.error().message,
            "You can't create this secret because a secret with this name is already scheduled "
            "for deletion.");
  EXPECT_TRUE(secrets_->list(ListQuery{})->secrets.empty());
  ListQuery planned;
  planned.include_planned_deletion = true;
  EXPECT_EQ(secrets_->list(planned)->secrets.size(), 1u);

  ASSERT_TRUE(secrets_->restore("d").ok());
  EXPECT_EQ(value("d"), "v1");

  ASSERT_TRUE(secrets_->remove(w.arn, 7, false).ok());
  clock_.advance(std::chrono::hours(24 * 7 - 1));
  EXPECT_EQ(*secrets_->purge(clock_.now()), 0);
  clock_.advance(std::chrono::hours(1));
  EXPECT_EQ(*secrets_->purge(clock_.now()), 1);
  EXPECT_EQ(secrets_->describe("d").error().code, "ResourceNotFoundException");
  // The name is free again, under a new ARN (and a new data key).
  Written again = create("d", text("fresh"));
  EXPECT_NE(again.arn, w.arn);
  EXPECT_EQ(value("d"), "fresh");

  // Forced: gone at once; a secret that does not exist is not an error then.
  auto forced = secrets_->remove("d", std::nullopt, true);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(secrets_->describe("d").error().code, "ResourceNotFoundException");
  auto ghost = secrets_->remove("ghost", std::nullopt, true);
  ASSERT_TRUE(ghost.ok());
  EXPECT_EQ(ghost->name, "ghost");
  EXPECT_EQ(secrets_->remove("ghost", std::nullopt, false).error().code,
            "ResourceNotFoundException");
}

TEST_F(SecretsTest, ValuesAreStoredOnlyAsCiphertext) {
  const std::string plain = "PLAINTEXT-canary-7f3e9a1c-do-not-store";
  const std::string binary = std::string("\x01\x02BINARY-canary-5b2d\xff", 21);
  create("enc", text(plain));
  put("enc", plain + "-v2");
  ASSERT_TRUE(
      secrets_
          ->put_value(PutRequest{"enc", SecretValue{ValueKind::kBinary, binary}, "", std::nullopt})
          .ok());
  EXPECT_EQ(value("enc", "", "AWSPREVIOUS"), plain + "-v2");
  EXPECT_EQ(value("enc"), binary);
  // Every byte of every file: the database, its WAL and shared memory.
  ASSERT_GT(dir_.total_bytes(), 0u);
  EXPECT_TRUE(dir_.any_file_contains("enc"));  // the grep works: the name is there in the clear
  EXPECT_FALSE(dir_.any_file_contains(plain));
  EXPECT_FALSE(dir_.any_file_contains("BINARY-canary-5b2d"));
  EXPECT_FALSE(dir_.any_file_contains(base64_encode(plain)));
}

TEST_F(SecretsTest, TamperedOrMovedCiphertextAndAnotherMasterKeyDoNotOpen) {
  Written a = create("a", text("alpha"));
  Written b = create("b", text("bravo"));
  Written a2 = put("a", "alpha-2");

  // Another node's master key: the data key does not unwrap.
  auth::Keyring other(std::string(32, '\x43'));
  Secrets stranger(dir_.store(), &clock_, &other, kAccount, kRegion);
  auto wrong_key = stranger.get_value("a", "", "");
  ASSERT_FALSE(wrong_key.ok());
  EXPECT_EQ(wrong_key.error().code, "DecryptionFailure");

  auto exec = [&](const std::string& sql, const storage::Params& p) {
    ASSERT_TRUE(dir_.store()
                    ->transaction([&](storage::Txn& t) -> Status {
                      NUBO_TRY(t.exec(sql, p));
                      return Ok{};
                    })
                    .ok());
  };
  // One flipped bit.
  auto rows = dir_.store()->query(
      "SELECT ciphertext FROM sm_versions WHERE arn = ? AND version_id = ?", {a.arn, a.version_id});
  ASSERT_TRUE(rows.ok() && rows->size() == 1);
  std::string ct = (*rows)[0].text(0);
  std::string flipped = ct;
  flipped[flipped.size() / 2] ^= 0x01;
  exec("UPDATE sm_versions SET ciphertext = ? WHERE arn = ? AND version_id = ?",
       {storage::Blob{flipped}, a.arn, a.version_id});
  EXPECT_EQ(value("a", a.version_id),
            "<DecryptionFailure: Secrets Manager can't decrypt the "
            "protected secret text using the provided KMS key.>");
  // A version's ciphertext copied onto another version of the same secret (same data key): the
  // associated data binds it to its version id.
  exec("UPDATE sm_versions SET ciphertext = ? WHERE arn = ? AND version_id = ?",
       {storage::Blob{ct}, a.arn, a2.version_id});
  EXPECT_EQ(secrets_->get_value("a", "", "").error().code, "DecryptionFailure");
  // A wrapped data key copied onto another secret does not unwrap there.
  auto key_b = dir_.store()->query("SELECT data_key FROM sm_secrets WHERE arn = ?", {b.arn});
  exec("UPDATE sm_secrets SET data_key = ? WHERE arn = ?",
       {storage::Blob{(*key_b)[0].text(0)}, a.arn});
  EXPECT_EQ(secrets_->get_value("a", a2.version_id, "").error().code, "DecryptionFailure");
  EXPECT_EQ(value("b"), "bravo");
}

TEST_F(SecretsTest, TagsMergeAndAreLimited) {
  create("t");
  ASSERT_TRUE(secrets_->tag("t", {{"env", "prod"}, {"team", "blue"}}).ok());
  ASSERT_TRUE(secrets_->tag("t", {{"env", "dev"}}).ok());
  Secret s = describe("t");
  ASSERT_EQ(s.tags.size(), 2u);
  EXPECT_EQ(s.tags[0].key, "env");
  EXPECT_EQ(s.tags[0].value, "dev");
  ASSERT_TRUE(secrets_->untag("t", {"env", "absent"}).ok());
  EXPECT_EQ(describe("t").tags.size(), 1u);
  std::vector<Tag> many;
  for (int i = 0; i < 50; ++i) many.push_back(Tag{"k" + std::to_string(i), "v"});
  auto over = secrets_->tag("t", many);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, "InvalidParameterException");
  EXPECT_EQ(describe("t").tags.size(), 1u);
}

TEST_F(SecretsTest, ListFiltersSortsAndPages) {
  auto make = [&](const std::string& name, const std::string& desc, std::vector<Tag> tags) {
    CreateRequest r;
    r.name = name;
    r.description = desc;
    r.tags = std::move(tags);
    r.value = text("x");
    ASSERT_TRUE(secrets_->create(std::move(r)).ok());
    clock_.advance(std::chrono::seconds(1));
  };
  make("prod/db", "Main Database password", {{"env", "prod"}, {"team", "blue"}});
  make("prod/api", "API key", {{"env", "prod"}});
  make("dev/db", "dev database", {{"env", "dev"}, {"Team", "red"}});
  make("Prod/other", "other", {});

  auto names = [&](std::vector<Filter> filters, bool desc = false, std::string by = "") {
    ListQuery q;
    q.filters = std::move(filters);
    q.descending = desc;
    if (!by.empty()) q.sort_by = by;
    auto page = secrets_->list(q);
    EXPECT_TRUE(page.ok());
    std::vector<std::string> out;
    for (const Secret& s : page->secrets) out.push_back(s.name);
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names({}), (V{"prod/db", "prod/api", "dev/db", "Prod/other"}));
  EXPECT_EQ(names({}, true), (V{"Prod/other", "dev/db", "prod/api", "prod/db"}));
  EXPECT_EQ(names({}, false, "name"), (V{"Prod/other", "dev/db", "prod/api", "prod/db"}));
  EXPECT_EQ(names({{"name", {"prod/"}}}), (V{"prod/db", "prod/api"}));  // case-sensitive prefix
  EXPECT_EQ(names({{"name", {"!prod/"}}}), (V{"dev/db", "Prod/other"}));
  EXPECT_EQ(names({{"name", {"dev", "Prod"}}}), (V{"dev/db", "Prod/other"}));   // values OR
  EXPECT_EQ(names({{"description", {"database"}}}), (V{"prod/db", "dev/db"}));  // words, any case
  EXPECT_EQ(names({{"description", {"main"}}}), (V{"prod/db"}));
  EXPECT_EQ(names({{"tag-key", {"team"}}}), (V{"prod/db"}));
  EXPECT_EQ(names({{"tag-key", {"!team"}}}), (V{"prod/api", "dev/db", "Prod/other"}));
  EXPECT_EQ(names({{"tag-value", {"prod"}}, {"name", {"prod/d"}}}), (V{"prod/db"}));  // AND
  EXPECT_EQ(names({{"all", {"database"}}}), (V{"prod/db", "dev/db"}));
  EXPECT_EQ(names({{"all", {"RED"}}}), (V{"dev/db"}));
  EXPECT_EQ(names({{"all", {"api key"}}}), (V{"prod/api"}));
  EXPECT_EQ(names({{"primary-region", {"us-east-1"}}}), V{});
  EXPECT_EQ(names({{"owning-service", {"rds"}}}), V{});

  ListQuery q;
  q.max_results = 3;
  auto p1 = secrets_->list(q);
  ASSERT_EQ(p1->secrets.size(), 3u);
  ASSERT_FALSE(p1->next_token.empty());
  q.next_token = p1->next_token;
  auto p2 = secrets_->list(q);
  ASSERT_EQ(p2->secrets.size(), 1u);
  EXPECT_EQ(p2->secrets[0].name, "Prod/other");
  EXPECT_TRUE(p2->next_token.empty());
  q.next_token = "garbage";
  EXPECT_EQ(secrets_->list(q).error().code, "InvalidNextTokenException");
}

TEST_F(SecretsTest, VersionListsAndTheRemovalOfOldUnlabeledVersions) {
  Written first = create("v");
  for (int i = 0; i < 104; ++i) put("v", "value-" + std::to_string(i));
  // All within a day: none is removed yet.
  EXPECT_EQ(describe("v").versions.size(), 105u);
  auto labeled = secrets_->list_versions("v", false, 100, "");
  ASSERT_TRUE(labeled.ok());
  EXPECT_EQ(labeled->versions.size(), 2u);  // AWSCURRENT and AWSPREVIOUS
  auto all = secrets_->list_versions("v", true, 100, "");
  EXPECT_EQ(all->versions.size(), 100u);
  auto rest = secrets_->list_versions("v", true, 100, all->next_token);
  EXPECT_EQ(rest->versions.size(), 5u);
  EXPECT_EQ(all->versions[0].version_id, first.version_id);

  clock_.advance(std::chrono::hours(25));
  put("v", "later");
  Secret s = describe("v");
  EXPECT_EQ(s.versions.size(), 100u);
  EXPECT_EQ(s.version(first.version_id), nullptr);  // the oldest unlabeled went first
  EXPECT_EQ(value("v"), "later");
}

TEST_F(SecretsTest, RotationStateMachine) {
  Written w1 = create("r", text("old"));
  // No function configured, none given.
  auto no_fn = secrets_->begin_rotation(RotateRequest{"r", "", std::nullopt, std::nullopt, true});
  ASSERT_FALSE(no_fn.ok());
  EXPECT_EQ(no_fn.error().code, "InvalidRequestException");

  const std::string fn = "arn:aws:lambda:us-east-1:000000000000:function:rotator";
  RotationRules rules;
  rules.automatically_after_days = 30;
  auto job = secrets_->begin_rotation(RotateRequest{"r", "", fn, rules, true});
  ASSERT_TRUE(job.ok()) << job.error().message;
  EXPECT_FALSE(job->test_only);
  Secret s = describe("r");
  EXPECT_TRUE(s.rotation_enabled);
  EXPECT_EQ(s.rotation_lambda_arn, fn);
  // The rotation's version exists, labelled AWSPENDING, without a value.
  EXPECT_EQ(stages_of(s, job->token), std::vector<std::string>{"AWSPENDING"});
  EXPECT_EQ(value("r", job->token, "AWSPENDING"),
            "<ResourceNotFoundException: Secrets Manager can't find the specified secret value "
            "for VersionId: " +
                job->token + ">");
  EXPECT_EQ(value("r", "", "AWSPENDING").substr(0, 27), "<ResourceNotFoundException:");
  // Another rotation now: refused, unless it names this one.
  auto busy = secrets_->begin_rotation(RotateRequest{"r", "", std::nullopt, std::nullopt, true});
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().message,
            "A previous rotation isn't complete. That rotation will be reattempted.");
  auto same =
      secrets_->begin_rotation(RotateRequest{"r", job->token, std::nullopt, std::nullopt, true});
  ASSERT_TRUE(same.ok()) << same.error().message;
  EXPECT_EQ(same->token, job->token);

  // Finishing before the function moved AWSCURRENT: a failure, AWSPENDING stays.
  EXPECT_FALSE(secrets_->finish_rotation(*job).ok());
  EXPECT_FALSE(describe("r").rotation_failure.empty());

  // What the function does: createSecret puts the pending value; finishSecret moves AWSCURRENT.
  put("r", "new", job->token, std::vector<std::string>{"AWSPENDING"});
  EXPECT_EQ(value("r", "", "AWSPENDING"), "new");
  ASSERT_TRUE(secrets_->update_stage("r", "AWSCURRENT", w1.version_id, job->token).ok());
  clock_.advance(std::chrono::minutes(5));
  ASSERT_TRUE(secrets_->finish_rotation(*job).ok());
  s = describe("r");
  EXPECT_EQ(stages_of(s, job->token), std::vector<std::string>{"AWSCURRENT"});  // cleaned up
  EXPECT_EQ(stages_of(s, w1.version_id), std::vector<std::string>{"AWSPREVIOUS"});
  ASSERT_TRUE(s.last_rotated.has_value());
  EXPECT_EQ(*s.last_rotated, testing::start_time() + std::chrono::minutes(5));
  // The next window opens at midnight UTC, 30 days after the day of the last rotation.
  ASSERT_TRUE(s.next_rotation.has_value());
  EXPECT_EQ(*s.next_rotation, SystemTime(std::chrono::seconds(1699920000 + 30 * 86400)));
  EXPECT_TRUE(s.rotation_failure.empty());
  EXPECT_EQ(value("r"), "new");

  // Nothing is due before the window opens; then one job, with a fresh pending version.
  EXPECT_TRUE(secrets_->due_rotations(clock_.now())->empty());
  clock_.set(*s.next_rotation);
  auto due = secrets_->due_rotations(clock_.now());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].lambda_arn, fn);
  EXPECT_EQ(stages_of(describe("r"), (*due)[0].token), std::vector<std::string>{"AWSPENDING"});
  // Still unfinished on the next pass: the same version is tried again.
  auto again = secrets_->due_rotations(clock_.now());
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].token, (*due)[0].token);
  // A failure waits before it is tried again.
  ASSERT_TRUE(secrets_->fail_rotation((*due)[0], "setSecret: ResourceNotFoundException").ok());
  EXPECT_EQ(describe("r").rotation_failure, "setSecret: ResourceNotFoundException");
  EXPECT_TRUE(secrets_->due_rotations(clock_.now())->empty());

  // Cancel: no longer enabled, nothing due, the unfinished version named.
  auto cancel = secrets_->cancel_rotation("r");
  ASSERT_TRUE(cancel.ok());
  EXPECT_EQ(cancel->version_id, (*due)[0].token);
  s = describe("r");
  EXPECT_FALSE(s.rotation_enabled);
  EXPECT_FALSE(s.next_rotation.has_value());
  clock_.advance(std::chrono::hours(48));
  EXPECT_TRUE(secrets_->due_rotations(clock_.now())->empty());
}

TEST_F(SecretsTest, ATestOnlyRotationCopiesTheCurrentValueAndRemovesItsVersion) {
  create("t", text("cur"));
  RotationRules rules;
  rules.schedule_expression = "rate(10 days)";
  auto job = secrets_->begin_rotation(
      RotateRequest{"t", "", "arn:aws:lambda:us-east-1:000000000000:function:f", rules, false});
  ASSERT_TRUE(job.ok()) << job.error().message;
  EXPECT_TRUE(job->test_only);
  EXPECT_EQ(value("t", "", "AWSPENDING"), "cur");
  Secret s = describe("t");
  EXPECT_EQ(*s.next_rotation, SystemTime(std::chrono::seconds(1699920000 + 10 * 86400)));
  ASSERT_TRUE(secrets_->finish_rotation(*job).ok());
  s = describe("t");
  EXPECT_EQ(s.versions.size(), 1u);
  EXPECT_EQ(s.staged("AWSPENDING"), nullptr);
  EXPECT_FALSE(s.last_rotated.has_value());
  EXPECT_TRUE(s.rotation_enabled);
}

TEST_F(SecretsTest, ConcurrentWritersKeepOneCurrentVersion) {
  create("busy", text("v0"));
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        auto w = secrets_->put_value(PutRequest{
            "busy", text("t" + std::to_string(t) + "-" + std::to_string(i)), "", std::nullopt});
        if (!w.ok()) ++failures;
      }
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(failures.load(), 0);
  Secret s = describe("busy");
  EXPECT_EQ(s.versions.size(), 41u);
  int current = 0, previous = 0;
  for (const Version& v : s.versions) {
    current += std::count(v.stages.begin(), v.stages.end(), "AWSCURRENT");
    previous += std::count(v.stages.begin(), v.stages.end(), "AWSPREVIOUS");
  }
  EXPECT_EQ(current, 1);
  EXPECT_EQ(previous, 1);
}

TEST_F(SecretsTest, SchemaSurvivesAReopen) {
  Written w = create("persist", text("kept"));
  secrets_.reset();
  dir_.open();
  secrets_ = std::make_unique<Secrets>(dir_.store(), &clock_, &keyring_, kAccount, kRegion);
  ASSERT_TRUE(secrets_->start().ok());
  EXPECT_EQ(value(w.arn), "kept");
}

}  // namespace
}  // namespace nubo::secretsmanager
