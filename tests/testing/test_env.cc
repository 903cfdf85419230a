#include "tests/testing/test_env.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "gtest/gtest.h"

namespace iicc::testing {

namespace {

std::string EnvOr(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

bool CanBind(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return ok;
}

}  // namespace

std::string SourceDir() { return EnvOr("IICC_SOURCE_DIR", IICC_SOURCE_DIR_DEFAULT); }
std::string BinDir() { return EnvOr("IICC_BIN_DIR", IICC_BIN_DIR_DEFAULT); }

int TestTimeScale() {
  static const int scale = [] {
    const std::string value = EnvOr("IICC_TEST_TIME_SCALE", "1");
    char* end = nullptr;
    const long parsed = std::strtol(value.c_str(), &end, 10);
    if (end == value.c_str() || *end != '\0' || parsed < 1 || parsed > 100) {
      ADD_FAILURE() << "IICC_TEST_TIME_SCALE must be a whole number from 1 to 100, not '" << value << "'";
      return 1;
    }
    return static_cast<int>(parsed);
  }();
  return scale;
}

TempDir::TempDir() {
  std::string pattern = EnvOr("TMPDIR", "/tmp") + "/iicc-test-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    abort();
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  if (std::getenv("IICC_KEEP_TEST_DIRS") != nullptr) return;
  RunShell("rm -rf '" + path_ + "'");
}

ReservedPort::ReservedPort() {
  mkdir("/tmp/iicc-test-ports", 0777);
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pick(20000, 31999);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int port = pick(rng);
    const std::string lock_path = "/tmp/iicc-test-ports/" + std::to_string(port) + ".lock";
    const int fd = open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0666);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0 || !CanBind(port)) {
      close(fd);
      continue;
    }
    port_ = port;
    lock_fd_ = fd;
    return;
  }
  ADD_FAILURE() << "no free port in 20000-31999";
  abort();
}

ReservedPort::~ReservedPort() {
  if (lock_fd_ >= 0) close(lock_fd_);  // Releases the flock.
}

TestPki::TestPki(std::string dir) : dir_(std::move(dir)) {
  const int status = RunShell("'" + SourceDir() + "/certs/make-dev-pki.sh' '" + dir_ + "' >/dev/null");
  if (status != 0) {
    ADD_FAILURE() << "make-dev-pki.sh failed with status " << status;
    abort();
  }
}

const TestPki& SharedPki() {
  // Removed at exit, after the last test.
  static const TempDir dir;
  static const TestPki pki(dir.path());
  return pki;
}

void TestPki::Issue(const std::string& side, const std::string& name, const std::string& spiffe_id,
                    const std::string& usage) const {
  const int status = RunShell("'" + SourceDir() + "/certs/make-dev-pki.sh' --issue '" + dir_ + "/" + side + "' '" +
                              name + "' '" + spiffe_id + "' " + usage + " >/dev/null");
  if (status != 0) {
    ADD_FAILURE() << "make-dev-pki.sh --issue failed with status " << status;
    abort();
  }
}

int RunShell(const std::string& command) {
  const int status = std::system(command.c_str());
  if (status == -1 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::string Sha256Of(const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), out, &size, EVP_sha256(), nullptr), 1);
  return std::string(reinterpret_cast<char*>(out), size);
}

}  // namespace iicc::testing
