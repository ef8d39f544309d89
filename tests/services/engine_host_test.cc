// EngineHost against the fakes: the root's lock is held only while requests run, so a "CLI"
// Engine on the same root works between them, and the host sees what it did; concurrent
// requests are serialized and all land.
#include "services/engine_host.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <thread>

#include "base/error.h"
#include "tests/fakes/fake_device_mapper.h"
#include "tests/fakes/fake_system.h"

namespace thinsnap {
namespace {

class EngineHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/thinsnap-host-test-XXXXXX";
    root_ = ::mkdtemp(tmpl);
    EngineHostOptions o;
    o.root = root_;
    o.engine.lock_timeout_ms = 5000;
    host_ = std::make_unique<EngineHost>(&dm_, &sys_, o);
    host_->Run([](Engine& e) {
      PoolCreateOptions p;
      p.data_size = 1ull << 30;
      p.metadata_size = 16 << 20;
      p.base_size = 64 << 20;
      e.CreatePool(p);
    });
  }
  void TearDown() override {
    host_.reset();
    ASSERT_EQ(std::system(("rm -rf " + root_).c_str()), 0);
  }
  // What a CLI command does: its own Engine on the same root, with a short lock timeout.
  std::unique_ptr<Engine> OpenAsCli() {
    EngineOptions o;
    o.lock_timeout_ms = 2000;
    return Engine::Open(root_, &dm_, &sys_, o);
  }

  std::string root_;
  kernel::FakeDeviceMapper dm_;
  kernel::FakeSystem sys_{&dm_};
  std::unique_ptr<EngineHost> host_;
};

TEST_F(EngineHostTest, CliWorksBetweenRequestsAndHostSeesItsChanges) {
  host_->Run([](Engine& e) { e.CreateContainer("from-host", "base", std::nullopt); });
  {
    auto cli = OpenAsCli();  // would throw kBusy if the host still held the lock
    EXPECT_NE(cli->store().catalog().FindByName("from-host"), nullptr);
    cli->CreateContainer("from-cli", "base", std::nullopt);
  }
  bool seen =
      host_->Run([](Engine& e) { return e.store().catalog().FindByName("from-cli") != nullptr; });
  EXPECT_TRUE(seen);
}

TEST_F(EngineHostTest, BurstsKeepTheEngineUntilAnotherProcessWritesTheStore) {
  uint64_t opens = host_->opens();
  for (int i = 0; i < 3; ++i) host_->Run([](Engine& e) { return e.List().size(); });
  EXPECT_EQ(host_->opens(), opens);  // the catalog was kept: nothing else wrote the store
  EXPECT_GE(host_->reuses(), 3u);
  OpenAsCli()->List();  // a read-only command between two bursts writes nothing
  host_->Run([](Engine& e) { e.CreateContainer("from-host", "base", std::nullopt); });
  EXPECT_EQ(host_->opens(), opens);
  OpenAsCli()->CreateContainer("from-cli", "base", std::nullopt);
  bool seen =
      host_->Run([](Engine& e) { return e.store().catalog().FindByName("from-cli") != nullptr; });
  EXPECT_TRUE(seen);
  EXPECT_EQ(host_->opens(), opens + 1);  // re-read after the CLI's write
  // The host's own write after the reopen is its catalog's; the CLI sees it.
  host_->Run([](Engine& e) { e.Remove("from-cli", false, false); });
  EXPECT_EQ(OpenAsCli()->store().catalog().FindByName("from-cli"), nullptr);
  EXPECT_EQ(host_->Run([](Engine& e) { return e.List().size(); }), 2u);  // base, from-host
}

TEST_F(EngineHostTest, ErrorsComeThroughAndTheNextRequestStartsAfresh) {
  try {
    host_->Run([](Engine& e) { e.Inspect("missing"); });
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  }
  auto cli = OpenAsCli();  // the failed request left the lock free
  cli.reset();
  EXPECT_EQ(host_->Run([](Engine& e) { return e.List().size(); }), 1u);  // the base
}

TEST_F(EngineHostTest, ConcurrentRequestsAllLandWithDistinctIds) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 10; ++i) {
        host_->Run([&](Engine& e) {
          e.CreateContainer("c" + std::to_string(t) + "-" + std::to_string(i), "base",
                            std::nullopt);
        });
      }
    });
  }
  // A CLI command in the middle of the burst gets its turn too.
  std::thread cli([this] { OpenAsCli()->CreateContainer("cli", "base", std::nullopt); });
  for (auto& th : threads) th.join();
  cli.join();
  std::set<uint32_t> ids;
  size_t n = host_->Run([&](Engine& e) {
    for (const DeviceRecord& r : e.List()) ids.insert(r.id);
    EXPECT_TRUE(e.Check().clean());
    return e.List().size();
  });
  EXPECT_EQ(n, 42u);  // base + 40 + the CLI's
  EXPECT_EQ(ids.size(), 42u);
}

}  // namespace
}  // namespace thinsnap
