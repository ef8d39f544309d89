#include "metadata/catalog.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "tests/metadata/metadata_test_util.h"

namespace thinsnap {
namespace {

using testing::SampleDevice;

void ExpectInvariant(Catalog& c, const Mutation& m) {
  try {
    c.Apply(m);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
  }
}

// base(0) <- l1(1) <- {c3(3), c4(4)}, base <- l2(2)
Catalog Tree() {
  Catalog c;
  c.Apply(Mutation::Put(SampleDevice(0, "base")));
  c.Apply(Mutation::Put(SampleDevice(1, "l1", 0)));
  c.Apply(Mutation::Put(SampleDevice(2, "l2", 0)));
  DeviceRecord c4 = SampleDevice(4, "c4", 1);
  c4.kind = DeviceKind::kContainer;
  c.Apply(Mutation::Put(c4));
  DeviceRecord c3 = SampleDevice(3, "c3", 1);
  c3.kind = DeviceKind::kContainer;
  c.Apply(Mutation::Put(c3));
  return c;
}

std::vector<uint32_t> Ids(const std::vector<const DeviceRecord*>& v) {
  std::vector<uint32_t> out;
  for (const DeviceRecord* d : v) out.push_back(d->id);
  return out;
}

TEST(Catalog, FindsByIdAndByName) {
  Catalog c = Tree();
  ASSERT_NE(c.FindById(2), nullptr);
  EXPECT_EQ(c.FindById(2)->name, "l2");
  EXPECT_EQ(c.FindByName("c4")->id, 4u);
  EXPECT_EQ(c.FindByName(std::string_view("c4x", 2))->id, 4u);
  EXPECT_EQ(c.FindById(99), nullptr);
  EXPECT_EQ(c.FindByName("nope"), nullptr);
  EXPECT_EQ(c.size(), 5u);
  EXPECT_EQ(c.CountByKind(DeviceKind::kContainer), 2u);
  EXPECT_EQ(c.CountByKind(DeviceKind::kLayer), 2u);
  EXPECT_EQ(c.CountByKind(DeviceKind::kVolume), 0u);
}

TEST(Catalog, ChildrenInIdOrder) {
  Catalog c = Tree();
  EXPECT_EQ(Ids(c.Children(1)), (std::vector<uint32_t>{3, 4}));
  EXPECT_EQ(Ids(c.Children(0)), (std::vector<uint32_t>{1, 2}));
  EXPECT_TRUE(c.Children(3).empty());
  EXPECT_TRUE(c.HasChildren(0));
  EXPECT_FALSE(c.HasChildren(2));
  std::vector<uint32_t> seen;
  c.ForEach([&](const DeviceRecord& d) { seen.push_back(d.id); });
  EXPECT_EQ(seen, (std::vector<uint32_t>{0, 1, 2, 3, 4}));
}

TEST(Catalog, ReplacingARecordReindexesIt) {
  Catalog c = Tree();
  DeviceRecord d = *c.FindById(2);
  d.name = "renamed";
  d.parent_id = 1;
  d.kind = DeviceKind::kVolume;
  c.Apply(Mutation::Put(d));
  EXPECT_EQ(c.FindByName("l2"), nullptr);
  EXPECT_EQ(c.FindByName("renamed")->id, 2u);
  EXPECT_EQ(Ids(c.Children(1)), (std::vector<uint32_t>{2, 3, 4}));
  EXPECT_EQ(c.CountByKind(DeviceKind::kVolume), 1u);
  EXPECT_EQ(c.size(), 5u);
}

TEST(Catalog, NextFreeIdReusesFreedIdsLowestFirst) {
  Catalog c = Tree();
  EXPECT_EQ(c.NextFreeId(), 5u);
  EXPECT_EQ(c.NextFreeId({5, 6}), 7u);
  c.Apply(Mutation::Delete(3));
  c.Apply(Mutation::Delete(2));
  EXPECT_EQ(c.NextFreeId(), 2u);
  EXPECT_EQ(c.NextFreeId({2}), 3u);
  EXPECT_EQ(c.NextFreeId({2, 3}), 5u);
  c.Apply(Mutation::Put(SampleDevice(2, "again", 0)));
  EXPECT_EQ(c.NextFreeId(), 3u);
  c.Apply(Mutation::Put(SampleDevice(kMaxThinId, "top")));
  c.Apply(Mutation::Delete(kMaxThinId));
  EXPECT_EQ(c.NextFreeId(), 3u);
}

TEST(Catalog, NextFreeIdStaysFastWithManyHoles) {
  Catalog c;
  for (uint32_t id = 0; id < 20000; ++id) {
    c.Apply(Mutation::Put(SampleDevice(id, "d" + std::to_string(id))));
  }
  for (uint32_t id = 1; id < 20000; id += 2) c.Apply(Mutation::Delete(id));
  EXPECT_EQ(c.NextFreeId(), 1u);
  for (uint32_t id = 1; id < 19999; id += 2) c.Apply(Mutation::Delete(id + 1));
  EXPECT_EQ(c.NextFreeId(), 1u);  // holes merged back into ranges
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(c.NextFreeId({1, 2, 3}), 4u);
}

TEST(Catalog, InvariantsAreEnforced) {
  Catalog c = Tree();
  ExpectInvariant(c, Mutation::Put(SampleDevice(7, "l1")));                // name taken
  ExpectInvariant(c, Mutation::Put(SampleDevice(kMaxThinId + 1, "big")));  // id too big
  ExpectInvariant(c, Mutation::Put(SampleDevice(7, "")));                  // empty name
  ExpectInvariant(c, Mutation::Put(SampleDevice(7, "orphan", 55)));        // no parent
  ExpectInvariant(c, Mutation::Delete(55));                                // absent
  DeviceRecord cyc = *c.FindById(1);
  cyc.parent_id = 3;  // 3's parent is 1
  ExpectInvariant(c, Mutation::Put(cyc));
  DeviceRecord self = *c.FindById(2);
  self.parent_id = 2;
  ExpectInvariant(c, Mutation::Put(self));
  DeviceRecord kind = SampleDevice(8, "k");
  kind.kind = static_cast<DeviceKind>(9);
  ExpectInvariant(c, Mutation::Put(kind));
  EXPECT_EQ(c.size(), 5u);  // nothing changed
  EXPECT_EQ(c.FindById(7), nullptr);
}

TEST(Catalog, DeletingAParentDetachesItsChildren) {
  Catalog c = Tree();
  c.Apply(Mutation::Delete(1));
  EXPECT_EQ(c.FindById(3)->parent_id, kNoParent);
  EXPECT_EQ(c.FindById(4)->parent_id, kNoParent);
  EXPECT_TRUE(c.Children(1).empty());
  // The freed id is reused by an unrelated device, which has no children.
  EXPECT_EQ(c.NextFreeId(), 1u);
  c.Apply(Mutation::Put(SampleDevice(1, "fresh")));
  EXPECT_FALSE(c.HasChildren(1));
  // Undo restores the links.
  Catalog d = Tree();
  EXPECT_THROW(d.ApplyAll({Mutation::Delete(1), Mutation::Delete(99)}), Error);
  EXPECT_EQ(d.FindById(3)->parent_id, 1u);
  EXPECT_EQ(Ids(d.Children(1)), (std::vector<uint32_t>{3, 4}));
}

TEST(Catalog, ApplyAllIsAllOrNothing) {
  Catalog c = Tree();
  const DeviceRecord before = *c.FindById(2);
  DeviceRecord changed = before;
  changed.mountpoint = "/mnt/x";
  const std::vector<Mutation> ms = {Mutation::Put(changed), Mutation::Delete(4),
                                    Mutation::SetConfig("a", "1"), Mutation::Delete(77)};
  EXPECT_THROW(c.ApplyAll(ms), Error);
  EXPECT_EQ(*c.FindById(2), before);
  EXPECT_NE(c.FindById(4), nullptr);
  EXPECT_TRUE(c.config().empty());
  EXPECT_EQ(c.NextFreeId(), 5u);
  EXPECT_EQ(Ids(c.Children(1)), (std::vector<uint32_t>{3, 4}));

  EXPECT_THROW(c.CheckAll(ms), Error);
  const std::vector<Mutation> ok = {Mutation::Delete(4), Mutation::Delete(3), Mutation::Delete(1)};
  c.CheckAll(ok);
  EXPECT_EQ(c.size(), 5u);
  c.ApplyAll(ok);
  EXPECT_EQ(c.size(), 2u);
  EXPECT_EQ(c.NextFreeId(), 1u);
}

TEST(Catalog, ConfigSetAndErase) {
  Catalog c;
  c.Apply(Mutation::SetConfig("fs", "ext4"));
  c.Apply(Mutation::SetConfig("fs", "xfs"));
  EXPECT_EQ(c.config().at("fs"), "xfs");
  c.Apply(Mutation::EraseConfig("fs"));
  c.Apply(Mutation::EraseConfig("absent"));
  EXPECT_TRUE(c.config().empty());
  c.set_transaction_id(9);
  EXPECT_EQ(c.transaction_id(), 9u);
}

TEST(Catalog, ConfigVersionChangesWithTheConfigOnly) {
  Catalog a, b;
  EXPECT_NE(a.config_version(), b.config_version());  // unique per catalog
  uint64_t v0 = a.config_version();
  DeviceRecord d;
  d.id = 1;
  d.name = "one";
  a.Apply(Mutation::Put(d));
  EXPECT_EQ(a.config_version(), v0);  // a device is not configuration
  a.Apply(Mutation::SetConfig("fs", "ext4"));
  uint64_t v1 = a.config_version();
  EXPECT_NE(v1, v0);
  a.Apply(Mutation::EraseConfig("fs"));
  EXPECT_NE(a.config_version(), v1);
  // A batch that fails is undone, and the undo changes the version too.
  uint64_t v2 = a.config_version();
  EXPECT_THROW(a.ApplyAll({Mutation::SetConfig("fs", "xfs"), Mutation::Delete(77)}), Error);
  EXPECT_TRUE(a.config().empty());
  EXPECT_NE(a.config_version(), v2);
  Catalog c;
  uint64_t before_load = c.config_version();
  c.Load({}, {{"fs", "xfs"}}, 3);
  EXPECT_NE(c.config_version(), before_load);
}

TEST(Catalog, LoadAcceptsChildBeforeParentAndRejectsCycles) {
  Catalog c;
  c.Load({SampleDevice(1, "child", 5), SampleDevice(5, "parent")}, {{"k", "v"}}, 3);
  EXPECT_EQ(Ids(c.Children(5)), (std::vector<uint32_t>{1}));
  EXPECT_EQ(c.transaction_id(), 3u);
  EXPECT_EQ(c.NextFreeId(), 0u);
  Catalog cyc;
  EXPECT_THROW(cyc.Load({SampleDevice(1, "a", 2), SampleDevice(2, "b", 1)}, {}, 0), Error);
  Catalog dup;
  EXPECT_THROW(dup.Load({SampleDevice(1, "a"), SampleDevice(2, "a")}, {}, 0), Error);
  Catalog orphan;
  EXPECT_THROW(orphan.Load({SampleDevice(1, "a", 9)}, {}, 0), Error);
}

TEST(Catalog, MoveKeepsRecords) {
  Catalog a = Tree();
  const DeviceRecord* p = a.FindById(3);
  Catalog b = std::move(a);
  EXPECT_EQ(b.FindById(3), p);
  Catalog c;
  c = std::move(b);
  EXPECT_EQ(c.size(), 5u);
}

}  // namespace
}  // namespace thinsnap
