// The plugin's HTTP transport on a real unix socket (Boost.Beast on both ends), over the engine's
// fakes: JSON calls on one keep-alive connection, a chunked ApplyDiff body streamed into the
// import, a chunked Diff reply, HTTP error statuses, and the socket path's rules.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>

#include "base/error.h"
#include "services/docker/plugin_server.h"
#include "tests/services/docker_test_pool.h"

namespace thinsnap::docker {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Local = asio::local::stream_protocol;
using nlohmann::json;

class PluginServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = std::make_unique<DockerTestPool>("thinsnap-plugin-test");
    dir_ = pool_->dir();
    root_ = pool_->root();
    driver_ = pool_->driver.get();
    path_ = dir_ + "/plugins/thinsnap.sock";
    server_ = std::make_unique<PluginServer>(driver_, path_);
    server_->Start();
    sock_.connect(Local::endpoint(path_));
  }
  void TearDown() override {
    beast::error_code ignored;
    sock_.close(ignored);
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_.reset();
    pool_.reset();
  }
  http::response<http::string_body> Post(const std::string& target, const std::string& body) {
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, "plugin");
    req.body() = body;
    req.prepare_payload();
    http::write(sock_, req);
    http::response<http::string_body> res;
    http::read(sock_, buf_, res);
    return res;
  }
  // An ApplyDiff with a chunked body, as Go's client sends an io.Reader of unknown length.
  http::response<http::string_body> ApplyChunked(const std::string& target, const std::string& body,
                                                 size_t piece) {
    http::request<http::empty_body> req{http::verb::post, target, 11};
    req.set(http::field::host, "plugin");
    req.chunked(true);
    http::request_serializer<http::empty_body> sr{req};
    http::write_header(sock_, sr);
    for (size_t at = 0; at < body.size(); at += piece) {
      asio::write(sock_, http::make_chunk(asio::buffer(body.substr(at, piece))));
    }
    asio::write(sock_, http::make_chunk_last());
    http::response<http::string_body> res;
    http::read(sock_, buf_, res);
    return res;
  }

  std::unique_ptr<DockerTestPool> pool_;
  std::string dir_, root_, path_;
  GraphDriver* driver_ = nullptr;
  std::unique_ptr<PluginServer> server_;
  asio::io_context io_;
  Local::socket sock_{io_};
  beast::flat_buffer buf_;
};

TEST_F(PluginServerTest, SocketIsRootOnly) {
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST_F(PluginServerTest, JsonCallsShareOneKeepAliveConnection) {
  auto activate = Post("/Plugin.Activate", "");
  EXPECT_EQ(activate.result_int(), 200);
  EXPECT_EQ(json::parse(activate.body()), json::parse(R"({"Implements":["GraphDriver"]})"));
  EXPECT_EQ(activate[http::field::content_type], "application/vnd.docker.plugins.v1+json");
  auto init = Post("/GraphDriver.Init", R"({"Home":"/var/lib/docker","Opts":null})");
  EXPECT_EQ(init.result_int(), 200) << init.body();
  auto missing = Post("/GraphDriver.Get", R"({"ID":"nope"})");
  EXPECT_EQ(missing.result_int(), 500);
  EXPECT_EQ(json::parse(missing.body())["Err"], "no layer or container 'nope' (device nope)");
  EXPECT_EQ(Post("/GraphDriver.Bogus", "{}").result_int(), 404);
  auto garbage = Post("/GraphDriver.Exists", "{not json");
  EXPECT_EQ(garbage.result_int(), 500);
  EXPECT_EQ(json::parse(garbage.body())["Err"].get<std::string>().rfind("bad request: ", 0), 0u);
}

TEST_F(PluginServerTest, ChunkedApplyDiffStreamsIntoTheImport) {
  std::string layer(300000, 'z');
  ASSERT_EQ(Post("/GraphDriver.Create", R"({"ID":"l1"})").result_int(), 200);
  auto res = ApplyChunked("/GraphDriver.ApplyDiff?id=l1&parent=", layer, 4096);
  ASSERT_EQ(res.result_int(), 200) << res.body();
  EXPECT_EQ(json::parse(res.body())["Size"], layer.size());
  auto exists = Post("/GraphDriver.Exists", R"({"ID":"l1"})");
  EXPECT_EQ(json::parse(exists.body())["Exists"], true);
  // A refused layer answers 500 with the engine's line, and the connection goes on.
  ASSERT_EQ(Post("/GraphDriver.Create", R"({"ID":"l2","Parent":"l1"})").result_int(), 200);
  auto evil = ApplyChunked("/GraphDriver.ApplyDiff?id=l2&parent=l1", "xx EVIL xx", 3);
  EXPECT_EQ(evil.result_int(), 500);
  EXPECT_NE(evil.body().find("escapes the layer root"), std::string::npos) << evil.body();
  EXPECT_EQ(json::parse(Post("/GraphDriver.Exists", R"({"ID":"l2"})").body())["Exists"], false);
}

TEST_F(PluginServerTest, DiffRepliesWithAChunkedTarOrAnError) {
  ASSERT_EQ(Post("/GraphDriver.Create", R"({"ID":"l1"})").result_int(), 200);
  ASSERT_EQ(ApplyChunked("/GraphDriver.ApplyDiff?id=l1", "tar", 2).result_int(), 200);
  auto diff = Post("/GraphDriver.Diff", R"({"ID":"l1"})");
  EXPECT_EQ(diff.result_int(), 200);
  EXPECT_TRUE(diff.chunked());
  EXPECT_EQ(diff[http::field::content_type], "application/x-tar");
  EXPECT_EQ(diff.body(), "");  // FakeSystem exports nothing
  auto bad = Post("/GraphDriver.Diff", R"({"ID":"l9"})");
  EXPECT_EQ(bad.result_int(), 500);
  EXPECT_EQ(json::parse(bad.body())["Err"], "no layer or container 'l9' (device l9)");
}

TEST_F(PluginServerTest, StaleSocketIsReplacedLiveOneAndOtherFilesRefused) {
  PluginServer second(driver_, path_);
  try {
    second.Start();
    FAIL() << "a second server took a live socket";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kExists);
    EXPECT_NE(std::string(e.what()).find("is served by another process already"),
              std::string::npos);
  }
  std::string file = dir_ + "/plain";
  std::ofstream(file) << "x";
  PluginServer on_file(driver_, file);
  EXPECT_THROW(on_file.Start(), Error);
  // Shut down (the socket file goes), leave a stale one behind, start again.
  server_->Shutdown(std::chrono::system_clock::now());
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);  // bound, never listened: stale
  server_ = std::make_unique<PluginServer>(driver_, path_);
  server_->Start();
  beast::error_code ignored;
  sock_.close(ignored);
  sock_ = Local::socket(io_);
  sock_.connect(Local::endpoint(path_));
  EXPECT_EQ(Post("/Plugin.Activate", "").result_int(), 200);
}

}  // namespace
}  // namespace thinsnap::docker
