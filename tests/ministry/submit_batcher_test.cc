#include "gateway/ministry/submit_batcher.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gateway/common/sequence_notifier.h"
#include "gateway/common/thread_pool.h"
#include "gateway/ministry/record_acceptor.h"
#include "gateway/proof/batch_signature.h"
#include "gateway/security/authorizer.h"
#include "gateway/store/sqlite_store.h"
#include "gtest/gtest.h"
#include "iicc/v1/peer_exchange.pb.h"
#include "tests/testing/test_env.h"
#include "tests/testing/test_policies.h"

namespace iicc::ministry {
namespace {

using ::iicc::testing::TempDir;

constexpr char kRegistry[] = "spiffe://kz.iicc/ministry/registry";  // Submits every type.
constexpr char kCustoms[] = "spiffe://kz.iicc/ministry/customs";    // Submits cargo only.

v1::GatewayConfig Config() {
  v1::GatewayConfig config;
  config.set_jurisdiction(v1::JURISDICTION_KZ);
  auto add = [&config](const char* id, std::vector<v1::RecordType> types) {
    v1::MinistryIdentity* identity = config.add_ministries();
    identity->set_spiffe_id(id);
    v1::RoleGrant* grant = identity->add_grants();
    grant->set_role(v1::ROLE_SUBMIT);
    for (v1::RecordType type : types) grant->add_record_types(type);
  };
  add(kRegistry, {});
  add(kCustoms, {v1::RECORD_TYPE_CARGO});
  return config;
}

v1::SubmitRequest CargoRequest(const std::string& request_id, const std::string& consignment_id) {
  v1::SubmitRequest request;
  request.set_request_id(request_id);
  v1::CargoRecord* cargo = request.mutable_record()->mutable_cargo();
  cargo->set_consignment_id(consignment_id);
  cargo->set_direction(v1::DIRECTION_KZ_TO_UZ);
  cargo->set_checkpoint(v1::CHECKPOINT_ATAMEKEN);
  cargo->mutable_vehicle()->set_plate("123ABC02");
  cargo->mutable_vehicle()->set_country("KZ");
  v1::GoodsLine* goods = cargo->add_goods();
  goods->set_hs6("080810");
  goods->set_national_code("0808108000");
  goods->set_description("Fresh apples");
  goods->set_gross_kg(1000);
  goods->set_net_kg(950);
  goods->set_quantity(950);
  goods->set_unit("KGM");
  goods->set_packages(40);
  goods->set_origin_country("KZ");
  goods->mutable_customs_value()->set_currency_code("USD");
  goods->mutable_customs_value()->set_units(800);
  return request;
}

// What the batcher answered one request: how many times, and what.
struct Answer {
  int calls = 0;
  absl::StatusOr<v1::SubmitResponse> result = absl::UnknownError("no answer");
};

class SubmitBatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> store = store::SqliteStore::Open(dir_.File("gateway.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    acceptor_ = std::make_unique<RecordAcceptor>(v1::JURISDICTION_KZ, store_.get(), &authorizer_, &policy_,
                                                 signer_.get(), &outbox_);
  }

  // The batcher's tasks use the acceptor: done before anything goes.
  void TearDown() override {
    if (workers_ != nullptr) workers_->WaitIdle();
  }

  void StartBatcher(int threads) {
    workers_ = std::make_unique<ThreadPool>(threads);
    batcher_ = std::make_unique<SubmitBatcher>(acceptor_.get(), workers_.get());
  }

  // Hands requests_[index] to the batcher; its answer goes to answers_[index].
  void Submit(const std::string& identity, size_t index) {
    batcher_->Submit(identity, &requests_[index], "Submit", [this, index](absl::StatusOr<v1::SubmitResponse> result) {
      absl::MutexLock lock(&mu_);
      ++answers_[index].calls;
      answers_[index].result = std::move(result);
      ++answered_;
    });
  }

  // Waits until `count` answers came (or a generous deadline passes).
  bool WaitForAnswers(int count) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return answered_ >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30) * testing::TestTimeScale());
  }

  // The queued envelopes' record ids, in outbox order, and their payloads'
  // consignment ids by record id.
  std::vector<std::string> Outbox(std::map<std::string, std::string>* consignments = nullptr,
                                  std::vector<v1::BatchProof>* proofs = nullptr) {
    absl::StatusOr<std::vector<store::PendingEnvelope>> pending = store_->ListPending(0, 100000);
    EXPECT_TRUE(pending.ok()) << pending.status();
    std::vector<std::string> ids;
    if (!pending.ok()) return ids;
    for (const store::PendingEnvelope& one : *pending) {
      ids.push_back(one.record_id);
      v1::Envelope envelope;
      EXPECT_TRUE(envelope.ParseFromString(one.envelope));
      v1::Record payload;
      EXPECT_TRUE(payload.ParseFromString(envelope.payload()));
      if (consignments != nullptr) (*consignments)[one.record_id] = payload.cargo().consignment_id();
      if (proofs != nullptr) proofs->push_back(envelope.proof());
    }
    return ids;
  }

  static std::unique_ptr<proof::Signer> KzSigner() {
    absl::StatusOr<std::unique_ptr<proof::Signer>> signer = proof::Signer::Load(
        testing::SharedPki().File("kz", "signing.crt"), testing::SharedPki().File("kz", "signing.key"));
    EXPECT_TRUE(signer.ok()) << signer.status();
    return signer.ok() ? *std::move(signer) : nullptr;
  }

  TempDir dir_;
  const std::unique_ptr<proof::Signer> signer_ = KzSigner();
  std::unique_ptr<store::SqliteStore> store_;
  const security::Authorizer authorizer_{Config()};
  policy::ActivePolicy policy_{testing::KeepAllPolicy(v1::JURISDICTION_KZ)};
  SequenceNotifier outbox_;
  std::unique_ptr<RecordAcceptor> acceptor_;
  std::unique_ptr<ThreadPool> workers_;
  std::unique_ptr<SubmitBatcher> batcher_;

  // Sized before any Submit: the batcher holds pointers into it.
  std::vector<v1::SubmitRequest> requests_;
  absl::Mutex mu_;
  std::vector<Answer> answers_ ABSL_GUARDED_BY(mu_);
  int answered_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_F(SubmitBatcherTest, ConcurrentSubmitsEachGetTheirOwnAnswerExactlyOnce) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  constexpr int kTotal = kThreads * kPerThread;
  StartBatcher(4);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const std::string tag = absl::StrCat(t, "-", i);
      if (i % 10 == 3) {
        requests_.push_back(CargoRequest(absl::StrCat("bad id ", tag), "C-" + tag));  // INVALID_ARGUMENT.
      } else if (i % 10 == 7) {
        // Customs may not submit enterprise records: PERMISSION_DENIED.
        v1::SubmitRequest request;
        request.set_request_id("req-" + tag);
        request.mutable_record()->mutable_enterprise();
        requests_.push_back(std::move(request));
      } else {
        requests_.push_back(CargoRequest("req-" + tag, "C-" + tag));
      }
    }
  }
  const std::vector<v1::SubmitRequest> originals = requests_;  // The batcher filters requests_ in place.
  {
    absl::MutexLock lock(&mu_);
    answers_.resize(kTotal);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < kPerThread; ++i) Submit(t % 2 == 0 ? kRegistry : kCustoms, t * kPerThread + i);
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE(WaitForAnswers(kTotal));
  workers_->WaitIdle();

  std::map<std::string, std::string> consignments;
  const std::vector<std::string> outbox = Outbox(&consignments);
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(answered_, kTotal);
  std::set<std::string> record_ids;
  int queued = 0;
  for (int k = 0; k < kTotal; ++k) {
    const Answer& answer = answers_[k];
    const int i = k % kPerThread;
    const bool customs = (k / kPerThread) % 2 == 1;
    EXPECT_EQ(answer.calls, 1) << k;
    if (i % 10 == 3) {
      EXPECT_EQ(answer.result.status().code(), absl::StatusCode::kInvalidArgument)
          << k << ": " << answer.result.status();
    } else if (i % 10 == 7) {
      if (customs) {
        EXPECT_EQ(answer.result.status().code(), absl::StatusCode::kPermissionDenied)
            << k << ": " << answer.result.status();
      } else {  // The registry may, but an empty enterprise record is invalid.
        EXPECT_EQ(answer.result.status().code(), absl::StatusCode::kInvalidArgument)
            << k << ": " << answer.result.status();
      }
    } else {
      ASSERT_TRUE(answer.result.ok()) << k << ": " << answer.result.status();
      ++queued;
      EXPECT_EQ(answer.result->request_id(), originals[k].request_id()) << k;
      EXPECT_EQ(answer.result->state(), v1::DELIVERY_STATE_QUEUED) << k;
      EXPECT_TRUE(record_ids.insert(answer.result->record_id()).second) << k << ": a record id answered twice";
      // The record id answered is the one stored for this request's record.
      EXPECT_EQ(consignments[answer.result->record_id()], originals[k].record().cargo().consignment_id()) << k;
    }
  }
  EXPECT_EQ(queued, kThreads * 20);  // Of each thread's 25: 3 invalid, 2 enterprise.
  EXPECT_EQ(outbox.size(), static_cast<size_t>(queued));
}

TEST_F(SubmitBatcherTest, RecordsHandedInFromOneThreadAreStoredInThatOrder) {
  constexpr int kRecords = 60;
  StartBatcher(4);
  for (int i = 0; i < kRecords; ++i) {
    requests_.push_back(CargoRequest(absl::StrCat("req-", i), absl::StrCat("C-", i)));
  }
  {
    absl::MutexLock lock(&mu_);
    answers_.resize(kRecords);
  }
  for (int i = 0; i < kRecords; ++i) Submit(i % 3 == 0 ? kCustoms : kRegistry, i);
  ASSERT_TRUE(WaitForAnswers(kRecords));
  workers_->WaitIdle();

  std::map<std::string, std::string> consignments;
  const std::vector<std::string> outbox = Outbox(&consignments);
  absl::MutexLock lock(&mu_);
  std::vector<std::string> answered;
  for (int i = 0; i < kRecords; ++i) {
    EXPECT_EQ(answers_[i].calls, 1) << i;
    ASSERT_TRUE(answers_[i].result.ok()) << i << ": " << answers_[i].result.status();
    answered.push_back(answers_[i].result->record_id());
  }
  EXPECT_EQ(outbox, answered);  // Outbox order is the order handed in.
  ASSERT_EQ(outbox.size(), static_cast<size_t>(kRecords));
  for (int i = 0; i < kRecords; ++i) EXPECT_EQ(consignments[outbox[i]], absl::StrCat("C-", i)) << i;
}

// Records that arrive while the workers are busy wait and go together: one
// signature and one commit per batch of at most kMaxBatch, in order.
TEST_F(SubmitBatcherTest, RecordsWaitingTogetherShareABatchOfAtMostMaxBatch) {
  constexpr int kRecords = static_cast<int>(SubmitBatcher::kMaxBatch) + 44;
  StartBatcher(1);
  absl::Notification release;
  workers_->Schedule([&release] { release.WaitForNotification(); });  // The only worker, busy.
  for (int i = 0; i < kRecords; ++i) {
    requests_.push_back(CargoRequest(absl::StrCat("req-", i), absl::StrCat("C-", i)));
  }
  {
    absl::MutexLock lock(&mu_);
    answers_.resize(kRecords);
  }
  const int64_t commits = store_->commits();
  for (int i = 0; i < kRecords; ++i) Submit(kRegistry, i);
  {
    absl::MutexLock lock(&mu_);
    EXPECT_EQ(answered_, 0);  // Nothing judged while the worker is busy.
  }
  release.Notify();
  ASSERT_TRUE(WaitForAnswers(kRecords));
  workers_->WaitIdle();

  EXPECT_EQ(store_->commits(), commits + 2);  // kMaxBatch, then the rest.
  std::vector<v1::BatchProof> proofs;
  const std::vector<std::string> outbox = Outbox(nullptr, &proofs);
  ASSERT_EQ(outbox.size(), static_cast<size_t>(kRecords));
  for (int i = 0; i < kRecords; ++i) {
    const bool first_batch = i < static_cast<int>(SubmitBatcher::kMaxBatch);
    EXPECT_EQ(proofs[i].leaf_count(), first_batch ? SubmitBatcher::kMaxBatch : 44u) << i;
    EXPECT_EQ(proofs[i].leaf_index(), first_batch ? i : i - SubmitBatcher::kMaxBatch) << i;
    EXPECT_EQ(proofs[i].signature(), proofs[first_batch ? 0 : SubmitBatcher::kMaxBatch].signature()) << i;
  }
  EXPECT_NE(proofs.front().signature(), proofs.back().signature());
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < kRecords; ++i) {
    EXPECT_EQ(answers_[i].calls, 1) << i;
    ASSERT_TRUE(answers_[i].result.ok()) << i << ": " << answers_[i].result.status();
    EXPECT_EQ(answers_[i].result->request_id(), absl::StrCat("req-", i));
    EXPECT_EQ(answers_[i].result->record_id(), outbox[i]) << i;
  }
}

}  // namespace
}  // namespace iicc::ministry
