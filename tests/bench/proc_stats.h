// What the benchmark tools read of other processes in /proc: their CPU time.
// Linux only, as the gateway is.
#ifndef IICC_TESTS_BENCH_PROC_STATS_H_
#define IICC_TESTS_BENCH_PROC_STATS_H_

#include <sys/types.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace iicc::bench {

// User plus system CPU seconds that `pid` has used so far (all its threads),
// or -1 if it cannot be read.
inline double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces; the fields after it start
  // past its closing parenthesis. utime and stime are fields 14 and 15.
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  long long utime = -1, stime = -1;
  for (int number = 3; fields >> field; ++number) {
    if (number == 14) utime = std::atoll(field.c_str());
    if (number == 15) {
      stime = std::atoll(field.c_str());
      break;
    }
  }
  if (utime < 0 || stime < 0) return -1;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// "12,34" -> {12, 34}; an empty text gives none.
inline std::vector<pid_t> ParsePids(const std::string& text) {
  std::vector<pid_t> pids;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) pids.push_back(static_cast<pid_t>(std::atol(item.c_str())));
  }
  return pids;
}

}  // namespace iicc::bench

#endif  // IICC_TESTS_BENCH_PROC_STATS_H_
