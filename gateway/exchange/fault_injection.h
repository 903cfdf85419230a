// Crash points for fault tests, compiled only into test builds.
//
// IICC_FAULT_POINT("receiver.after_commit") kills the process with SIGKILL
// when the environment variable IICC_FAULT names that point. In a build
// without IICC_FAULT_INJECTION (every production build) it compiles to
// nothing.
#ifndef IICC_GATEWAY_EXCHANGE_FAULT_INJECTION_H_
#define IICC_GATEWAY_EXCHANGE_FAULT_INJECTION_H_

#ifdef IICC_FAULT_INJECTION
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IICC_FAULT_POINT(name)                                      \
  do {                                                              \
    const char* iicc_fault_ = getenv("IICC_FAULT");                 \
    if (iicc_fault_ != nullptr && strcmp(iicc_fault_, name) == 0) { \
      kill(getpid(), SIGKILL);                                      \
    }                                                               \
  } while (false)
#else
#define IICC_FAULT_POINT(name) \
  do {                         \
  } while (false)
#endif

#endif  // IICC_GATEWAY_EXCHANGE_FAULT_INJECTION_H_
