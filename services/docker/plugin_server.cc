#include "services/docker/plugin_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <limits>
#include <vector>

#include "base/error.h"
#include "services/unix_socket.h"

namespace thinsnap::docker {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Local = asio::local::stream_protocol;
using nlohmann::json;

constexpr char kJsonType[] = "application/vnd.docker.plugins.v1+json";
constexpr size_t kMaxJsonBody = 1 << 20;
constexpr size_t kChunk = 1 << 16;

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "%41%42" -> "AB"; '+' is a space in a query; a broken escape stays as it is.
std::string UrlDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
      out += static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2]));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

std::string QueryValue(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    std::string_view pair = query.substr(0, query.find('&'));
    query.remove_prefix(std::min(query.size(), pair.size() + 1));
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key) return eq == pair.npos ? "" : UrlDecode(pair.substr(eq + 1));
  }
  return "";
}

using Parser = http::request_parser<http::buffer_body>;

// Reads the next part of the body being parsed into `out`; 0 at its end.
size_t ReadBody(Local::socket& sock, beast::flat_buffer& buf, Parser& parser, char* out,
                size_t size) {
  while (!parser.is_done()) {
    parser.get().body().data = out;
    parser.get().body().size = size;
    beast::error_code ec;
    http::read(sock, buf, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) throw Error("docker plugin: reading a request body: " + ec.message());
    size_t n = size - parser.get().body().size;
    if (n > 0) return n;
  }
  return 0;
}

json ParseJson(const std::string& text) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
  return json::parse(text);
}

void WriteJson(Local::socket& sock, unsigned version, bool keep_alive, const Reply& reply) {
  http::response<http::string_body> res{static_cast<http::status>(reply.status), version};
  res.set(http::field::content_type, kJsonType);
  res.keep_alive(keep_alive);
  res.body() = reply.body.dump();
  res.prepare_payload();
  beast::error_code ec;
  http::write(sock, res, ec);
  if (ec) throw Error("docker plugin: writing a reply: " + ec.message());
}

// The spooled export, in chunks. An error after the header can only cut the stream short,
// which Docker reports as a broken tar.
void WriteStream(Local::socket& sock, unsigned version, bool keep_alive, int fd) {
  http::response<http::buffer_body> res{http::status::ok, version};
  res.set(http::field::content_type, "application/x-tar");
  res.keep_alive(keep_alive);
  res.chunked(true);
  res.body().data = nullptr;
  res.body().more = true;
  http::response_serializer<http::buffer_body> sr{res};
  beast::error_code ec;
  http::write_header(sock, sr, ec);
  std::vector<char> chunk(kChunk);
  while (!ec) {
    ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw Error("docker plugin: reading the Diff spool: " + std::string(strerror(errno)));
    res.body().data = n > 0 ? chunk.data() : nullptr;
    res.body().size = static_cast<size_t>(n);
    res.body().more = n > 0;
    http::write(sock, sr, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (n == 0) break;
  }
  if (ec) throw Error("docker plugin: writing a Diff stream: " + ec.message());
}

}  // namespace

std::string DockerPluginSocket(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.') {
    throw Error("--docker-plugin: '" + name + "' is not a plugin name (a plain file name)",
                ErrorKind::kUsage);
  }
  return "/run/docker/plugins/" + name + ".sock";
}

PluginServer::PluginServer(GraphDriver* driver, std::string socket_path, Log log, bool verbose)
    : driver_(driver), path_(std::move(socket_path)), log_(std::move(log)), verbose_(verbose) {}

void PluginServer::LogRequest(const std::string& method, const std::string& id,
                              const Reply& reply) {
  if (!log_ || (reply.status == 200 && !verbose_)) return;
  std::string line = "docker: " + method + (id.empty() ? "" : " " + id);
  auto err = reply.body.find("Err");
  if (reply.status != 200 && err != reply.body.end() && err->is_string()) {
    line += ": " + err->get<std::string>();
  } else if (reply.status != 200) {
    line += ": HTTP " + std::to_string(reply.status);
  }
  log_(line);
}

PluginServer::~PluginServer() {
  if (running_) Shutdown(std::chrono::system_clock::now());
}

void PluginServer::Start() {
  // An import that ends early closes its pipe while the body is still being pumped in: that
  // write must fail with EPIPE, not kill the daemon.
  std::signal(SIGPIPE, SIG_IGN);
  // dockerd makes /run/docker at its own start, which comes after ours.
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
  if (ec) ThrowErrno("docker plugin: creating the directory of " + path_, ec.value());
  PrepareSocketPath(path_);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path_.copy(addr.sun_path, sizeof addr.sun_path - 1);
  listener_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), path_);
  if (!listener_.valid()) ThrowErrno("docker plugin: socket for " + path_, errno);
  if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ThrowErrno("docker plugin: bind " + path_, errno);
  }
  RestrictSocket(path_);
  if (::listen(listener_.get(), 64) != 0) ThrowErrno("docker plugin: listen " + path_, errno);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) ThrowErrno("docker plugin: pipe", errno);
  wake_read_ = UniqueFd(fds[0], "wake pipe");
  wake_write_ = UniqueFd(fds[1], "wake pipe");
  running_ = true;
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

void PluginServer::AcceptLoop() {
  for (;;) {
    pollfd p[2] = {{listener_.get(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0 && errno != EINTR) return;
    if (p[1].revents) return;
    if (!(p[0].revents & POLLIN)) continue;
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;  // the client gave up already (ECONNABORTED) or EMFILE: next one
    std::lock_guard<std::mutex> hold(mu_);
    connections_.insert(fd);
    std::thread([this, fd] { Serve(fd); }).detach();
  }
}

void PluginServer::Serve(int fd) {
  asio::io_context io;
  Local::socket sock(io);
  sock.assign(Local(), fd);  // the socket closes fd
  beast::flat_buffer buf;
  try {
    for (bool keep_alive = true; keep_alive;) {
      Parser parser;
      // ApplyDiff bodies are layers: any size, streamed. (Not boost::none: Boost 1.74 compares
      // the length against the optional itself, and every length is larger than none.)
      parser.body_limit(std::numeric_limits<std::uint64_t>::max());
      beast::error_code ec;
      http::read_header(sock, buf, parser, ec);
      if (ec) break;  // closed by the client between requests, or garbage
      {
        std::lock_guard<std::mutex> hold(mu_);
        ++busy_;
      }
      auto& req = parser.get();
      unsigned version = req.version();
      keep_alive = req.keep_alive();
      std::string_view target(req.target().data(), req.target().size());
      std::string method(target.substr(1, target.find('?') - 1));
      std::string query(target.find('?') == target.npos ? "" : target.substr(target.find('?') + 1));
      BodyReader body = [&](char* out, size_t size) {
        return ReadBody(sock, buf, parser, out, size);
      };
      if (method == "GraphDriver.ApplyDiff") {
        std::string id = QueryValue(query, "id");
        Reply reply = driver_->ApplyDiff(id, QueryValue(query, "parent"), body);
        LogRequest(method, id, reply);
        WriteJson(sock, version, keep_alive, reply);
      } else {
        std::string text;
        std::vector<char> chunk(kChunk);
        for (size_t n; (n = body(chunk.data(), chunk.size())) > 0;) {
          text.append(chunk.data(), n);
          if (text.size() > kMaxJsonBody) throw Error("docker plugin: request body too large");
        }
        Reply reply;
        UniqueFd stream;
        std::string id;
        try {
          json request = ParseJson(text);
          if (request.is_object() && request.contains("ID") && request["ID"].is_string()) {
            id = request["ID"].get<std::string>();
          }
          if (method == "GraphDriver.Diff") {
            stream = driver_->Diff(request);
          } else {
            reply = driver_->Call(method, request);
          }
        } catch (const std::exception& e) {
          reply = GraphDriver::ErrorReply(e);
        }
        LogRequest(method, id, reply);
        if (stream.valid()) {
          WriteStream(sock, version, keep_alive, stream.get());
        } else {
          WriteJson(sock, version, keep_alive, reply);
        }
      }
      std::lock_guard<std::mutex> hold(mu_);
      --busy_;
      changed_.notify_all();
    }
  } catch (const Error&) {
    // The connection broke mid-request: nothing to answer; Docker reports its own side.
    std::lock_guard<std::mutex> hold(mu_);
    --busy_;
  }
  std::lock_guard<std::mutex> hold(mu_);
  connections_.erase(fd);  // before the close, so Shutdown never touches a reused descriptor
  beast::error_code ignored;
  sock.close(ignored);
  changed_.notify_all();
}

void PluginServer::Shutdown(std::chrono::system_clock::time_point deadline) {
  if (!running_) return;
  running_ = false;
  char byte = 1;
  if (::write(wake_write_.get(), &byte, 1) < 0) {
    // The accept loop also ends when the listener is closed below.
  }
  acceptor_.join();
  listener_ = UniqueFd();
  ::unlink(path_.c_str());
  std::unique_lock<std::mutex> hold(mu_);
  changed_.wait_until(hold, deadline, [this] { return busy_ == 0; });
  for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);  // idle keep-alive ones, or late
  changed_.wait_for(hold, std::chrono::seconds(30), [this] { return connections_.empty(); });
}

}  // namespace thinsnap::docker
