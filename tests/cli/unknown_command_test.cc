#include "cli/unknown_command.h"

#include <gtest/gtest.h>

namespace thinsnap::cli {
namespace {

// A tree shaped like thinsnap's: global options with values, nested commands, an alias.
struct TestApp {
  CLI::App app{"test"};
  std::string root, data_size, name;
  bool json = false;
  TestApp() {
    app.name("thinsnap");
    app.add_option("--root", root);
    app.add_flag("--json", json);
    app.add_flag("-v", json);
    CLI::App* pool = app.add_subcommand("pool");
    pool->add_subcommand("create")->add_option("--data-size", data_size);
    pool->add_subcommand("status");
    app.add_subcommand("unmount")->alias("umount");
    app.add_subcommand("ls");
    app.add_subcommand("inspect")->add_option("NAME", name);
  }
  std::optional<std::string> Check(std::vector<std::string> args) {
    return FindUnknownCommand(app, args);
  }
};

TEST(UnknownCommand, NamesTheWordAndTheClosestCommand) {
  TestApp t;
  EXPECT_EQ(t.Check({"pool", "crate"}), "unknown command 'crate' (did you mean 'create'?)");
  EXPECT_EQ(t.Check({"pol", "create"}), "unknown command 'pol' (did you mean 'pool'?)");
  EXPECT_EQ(t.Check({"nosuchcmd"}), "unknown command 'nosuchcmd' (see thinsnap --help)");
  EXPECT_EQ(t.Check({"pool", "zzzzzz"}), "unknown command 'zzzzzz' (see thinsnap pool --help)");
}

TEST(UnknownCommand, AlsoWhenHelpFollows) {
  TestApp t;
  EXPECT_EQ(t.Check({"nosuchcmd", "--help"}), "unknown command 'nosuchcmd' (see thinsnap --help)");
  EXPECT_EQ(t.Check({"pool", "crate", "--help"}),
            "unknown command 'crate' (did you mean 'create'?)");
}

TEST(UnknownCommand, SkipsOptionValuesAndAcceptsKnownWords) {
  TestApp t;
  EXPECT_EQ(t.Check({"--root", "/tmp/pool", "pool", "create", "--data-size", "1G"}), std::nullopt);
  EXPECT_EQ(t.Check({"--root=/tmp/x", "--json", "-v", "ls"}), std::nullopt);
  EXPECT_EQ(t.Check({"pool", "--root", "status", "status"}), std::nullopt);
  EXPECT_EQ(t.Check({"umount"}), std::nullopt);
  EXPECT_EQ(t.Check({"-v", "--root", "/x", "ls"}), std::nullopt);  // a flag takes no value
  EXPECT_EQ(t.Check({"--json", "lss"}), "unknown command 'lss' (did you mean 'ls'?)");
  EXPECT_EQ(t.Check({"--help"}), std::nullopt);
  EXPECT_EQ(t.Check({}), std::nullopt);
}

TEST(UnknownCommand, PositionalsOfALeafCommandAreNotCommands) {
  TestApp t;
  EXPECT_EQ(t.Check({"inspect", "crate"}), std::nullopt);
  EXPECT_EQ(t.Check({"--", "crate"}), std::nullopt);
}

TEST(UnknownCommand, ClosestNameNeedsACloseWord) {
  EXPECT_EQ(ClosestName("crate", {"create", "status"}), "create");
  EXPECT_EQ(ClosestName("stat", {"create", "status"}), "status");
  EXPECT_EQ(ClosestName("xyz", {"create", "status"}), "");
  EXPECT_EQ(ClosestName("l", {"ls", "df"}), "ls");
}

}  // namespace
}  // namespace thinsnap::cli
