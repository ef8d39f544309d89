// containerd's filter language as List/Walk receives it (services/containerd/filter.h).
#include <gtest/gtest.h>

#include <map>

#include "base/error.h"
#include "services/containerd/filter.h"

namespace thinsnap::containerd {
namespace {

// A snapshot's fields the way the snapshotter's adaptor gives them.
FieldLookup Fields(std::map<std::string, std::string> top,
                   std::map<std::string, std::string> labels) {
  return [top, labels](const std::vector<std::string>& path) -> std::optional<std::string> {
    if (path.size() == 1 && top.count(path[0])) return top.at(path[0]);
    if (path.size() >= 2 && path[0] == "labels") {
      std::string k = path[1];
      for (size_t i = 2; i < path.size(); ++i) k += "." + path[i];
      if (labels.count(k)) return labels.at(k);
    }
    return std::nullopt;
  };
}

const FieldLookup kActive = Fields({{"kind", "active"}, {"name", "a"}, {"parent", "p"}},
                                   {{"containerd.io/gc.root", "x"}, {"k", "v"}});
const FieldLookup kCommitted = Fields({{"kind", "committed"}, {"name", "c"}, {"parent", ""}}, {});

bool Matches(const std::string& f, const FieldLookup& fields) {
  return Filter::Parse(f).Match(fields);
}

TEST(ContainerdFilter, EqualityOnKindAndName) {
  EXPECT_TRUE(Matches("kind==active", kActive));
  EXPECT_FALSE(Matches("kind==active", kCommitted));
  EXPECT_TRUE(Matches("name==c", kCommitted));
  EXPECT_TRUE(Matches(" kind == committed ", kCommitted));
}

TEST(ContainerdFilter, QuotedLabelKeyAndValue) {
  EXPECT_TRUE(Matches(R"(labels."containerd.io/gc.root"==x)", kActive));
  EXPECT_TRUE(Matches(R"(labels."containerd.io/gc.root"=="x")", kActive));
  EXPECT_FALSE(Matches(R"(labels."containerd.io/gc.root"==y)", kActive));
  EXPECT_FALSE(Matches(R"(labels."containerd.io/gc.root"==x)", kCommitted));
  EXPECT_TRUE(Matches(R"(labels."a\"b"!=z)", kActive));  // escaped quote in a field
}

TEST(ContainerdFilter, NotEqualEmptyMeansHasAParent) {
  EXPECT_TRUE(Matches(R"(parent!="")", kActive));
  EXPECT_FALSE(Matches(R"(parent!="")", kCommitted));
}

TEST(ContainerdFilter, BareFieldIsPresence) {
  EXPECT_TRUE(Matches("labels.k", kActive));
  EXPECT_FALSE(Matches("labels.k", kCommitted));
  EXPECT_FALSE(Matches("labels.missing", kActive));
}

TEST(ContainerdFilter, CommaIsAndSeveralFiltersAreOr) {
  EXPECT_TRUE(Matches("kind==active,labels.k==v", kActive));
  EXPECT_FALSE(Matches("kind==active,labels.k==w", kActive));
  FilterSet either = FilterSet::Parse({"kind==committed", "labels.k==v"});
  EXPECT_TRUE(either.Match(kActive));
  EXPECT_TRUE(either.Match(kCommitted));
  FilterSet neither = FilterSet::Parse({"kind==view", "name==zzz"});
  EXPECT_FALSE(neither.Match(kActive));
  EXPECT_TRUE(FilterSet::Parse({}).Match(kActive));
  EXPECT_TRUE(FilterSet::Parse({""}).Match(kActive));
}

TEST(ContainerdFilter, RegexMatch) {
  EXPECT_TRUE(Matches("name~=/^a$/", kActive));
  EXPECT_TRUE(Matches("kind~=act", kActive));
  EXPECT_FALSE(Matches("kind~=^comm", kActive));
}

TEST(ContainerdFilter, SyntaxErrorsAreInvalidArguments) {
  for (const char* bad : {"kind==", "==x", "kind=x", "labels.\"open", "a,,b", "kind==a b",
                          "name~=/[/", "1abc==x", "labels."}) {
    try {
      Filter::Parse(bad);
      ADD_FAILURE() << "parsed: " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage) << bad;
      EXPECT_NE(std::string(e.what()).find("filter"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace thinsnap::containerd
