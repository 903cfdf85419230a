// Test support for every test: temporary directories, reserved ports, a PKI
// made for the test, paths to the built binaries.
#ifndef IICC_TESTS_TESTING_TEST_ENV_H_
#define IICC_TESTS_TESTING_TEST_ENV_H_

#include <string>

namespace iicc::testing {

// The repository root: $IICC_SOURCE_DIR, else the one this was built from.
std::string SourceDir();
// Where iicc-gateway and iicc-cli are: $IICC_BIN_DIR, else the build's bin/.
std::string BinDir();

// How many times longer than usual a test may wait for something to happen:
// $IICC_TEST_TIME_SCALE, a whole number from 1 (scripts/sanitize.sh sets 3, as
// sanitized processes run 2 to 3 times slower). Default: 1. Scales the
// deadlines of waits only, never a time that a test asserts about.
int TestTimeScale();

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on
// destruction unless IICC_KEEP_TEST_DIRS is set.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // `path()/name`.
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A loopback TCP port reserved for this test until destruction. Ports come
// from 20000-31999, below Linux's ephemeral range, so no outgoing connection
// takes one; a lock file under /tmp/iicc-test-ports keeps parallel tests
// apart. The port is free when reserved, and stays reserved (not bound) so a
// process can listen on it, die, and come back on it.
class ReservedPort {
 public:
  ReservedPort();
  ~ReservedPort();
  ReservedPort(const ReservedPort&) = delete;
  ReservedPort& operator=(const ReservedPort&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int port_ = 0;
  int lock_fd_ = -1;
};

// The dev PKI (certs/make-dev-pki.sh) made in `dir`: `dir/kz/...`,
// `dir/uz/...`.
class TestPki {
 public:
  // Runs make-dev-pki.sh; aborts the test on failure.
  explicit TestPki(std::string dir);

  const std::string& dir() const { return dir_; }
  // `dir/side/name`, e.g. File("kz", "ca.crt").
  std::string File(const std::string& side, const std::string& name) const { return dir_ + "/" + side + "/" + name; }
  // Issues `dir/side/name.crt|key` from that side's CA with `spiffe_id` as
  // its URI SAN; `usage` is serverAuth, clientAuth, both or signing.
  void Issue(const std::string& side, const std::string& name, const std::string& spiffe_id,
             const std::string& usage = "clientAuth") const;

 private:
  std::string dir_;
};

// A development PKI made once per test process, in a temporary directory,
// for unit tests that need valid certificates and keys but not their own
// (integration tests make their own per test).
const TestPki& SharedPki();

// Runs `command` with /bin/sh; returns its exit status (or -1).
int RunShell(const std::string& command);

// Reads a whole file ("" if missing).
std::string ReadFileOrEmpty(const std::string& path);

// SHA-256 of `data`, computed by the test itself (not by the gateway code
// under test).
std::string Sha256Of(const std::string& data);

}  // namespace iicc::testing

#endif  // IICC_TESTS_TESTING_TEST_ENV_H_
