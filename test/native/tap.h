// A tiny TAP-style harness for the native unit tests: TEST cases, CHECK macros, one summary line.
//
//   TEST("ring keeps order") { CHECK_EQ(pop(), 1); }
//   int main(int argc, char** argv) { return tap::runAll(argc, argv); }
//
// Each TEST prints `ok N - name` or `not ok N - name`; a failed CHECK prints a `# file:line`
// diagnostic and the test goes on (an exception or REQUIRE failure ends that test only).
// The output ends with `1..N` and then exactly `P passed, F failed`; the exit status is
// nonzero when F > 0. Arguments, if any, run only the tests whose names contain one of them.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace tap {

struct Case {
  const char* name;
  void (*body)();
};

inline std::vector<Case>& registry() {
  static std::vector<Case> cases;
  return cases;
}

struct Registrar {
  Registrar(const char* name, void (*body)()) { registry().push_back({name, body}); }
};

// The failures seen by the test that is running.
inline int& currentFailures() {
  static int failures = 0;
  return failures;
}

// Thrown by REQUIRE to end the current test.
struct Abort {};

// note prints a `# ` comment line (measurements, context); printf-style.
inline void note(const char* format, ...) __attribute__((format(printf, 1, 2)));
inline void note(const char* format, ...) {
  char buffer[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof(buffer), format, args);
  va_end(args);
  std::printf("# %s\n", buffer);
  std::fflush(stdout);
}

inline void fail(const char* file, int line, const std::string& message) {
  ++currentFailures();
  std::printf("#   %s:%d: %s\n", file, line, message.c_str());
  std::fflush(stdout);
}

template <typename T>
std::string show(const T& value) {
  std::ostringstream out;
  if constexpr (std::is_same_v<T, unsigned char> || std::is_same_v<T, signed char> || std::is_same_v<T, char>) {
    out << static_cast<int>(value);
  } else if constexpr (std::is_same_v<T, bool>) {
    out << (value ? "true" : "false");
  } else {
    out.precision(10);
    out << value;
  }
  return out.str();
}

template <typename A, typename B>
bool checkBinary(bool holds, const A& actual, const B& expected, const char* text, const char* op, const char* file,
                 int line) {
  if (!holds) {
    fail(file, line, std::string(text) + " failed: " + show(actual) + " " + op + " " + show(expected) + " is false");
  }
  return holds;
}

// checkNear passes when |actual - expected| <= tolerance * |expected| (relative tolerance).
inline bool checkNear(double actual, double expected, double tolerance, const char* text, const char* file, int line) {
  double error = std::fabs(actual - expected);
  bool holds = error <= tolerance * std::fabs(expected);
  if (!holds) {
    fail(file, line,
         std::string(text) + " failed: " + show(actual) + " vs " + show(expected) + " (relative error " +
             show(expected == 0 ? error : error / std::fabs(expected)) + " > " + show(tolerance) + ")");
  }
  return holds;
}

inline int runAll(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  int passed = 0;
  int failed = 0;
  int number = 0;
  for (const Case& test : registry()) {
    if (argc > 1) {
      bool selected = false;
      for (int i = 1; i < argc; ++i) selected = selected || std::strstr(test.name, argv[i]) != nullptr;
      if (!selected) continue;
    }
    currentFailures() = 0;
    auto start = std::chrono::steady_clock::now();
    try {
      test.body();
    } catch (const Abort&) {
      // The failed REQUIRE has reported itself.
    } catch (const std::exception& error) {
      fail(__FILE__, __LINE__, std::string("uncaught exception: ") + error.what());
    } catch (...) {
      fail(__FILE__, __LINE__, "uncaught exception");
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bool ok = currentFailures() == 0;
    (ok ? passed : failed)++;
    if (seconds >= 0.1) std::printf("# took %.2fs\n", seconds);
    std::printf("%sok %d - %s\n", ok ? "" : "not ", ++number, test.name);
  }
  std::printf("1..%d\n", number);
  std::printf("%d passed, %d failed\n", passed, failed);
  std::fflush(stdout);
  return failed == 0 ? 0 : 1;
}

}  // namespace tap

#define TAP_CONCAT2(a, b) a##b
#define TAP_CONCAT(a, b) TAP_CONCAT2(a, b)

#define TEST(name)                                                                           \
  static void TAP_CONCAT(tapTest, __LINE__)();                                               \
  static ::tap::Registrar TAP_CONCAT(tapRegistrar, __LINE__)(name, &TAP_CONCAT(tapTest, __LINE__)); \
  static void TAP_CONCAT(tapTest, __LINE__)()

// CHECK(condition): records a failure and goes on. Each CHECK evaluates to whether it held.
#define CHECK(condition) \
  ((condition) ? true : (::tap::fail(__FILE__, __LINE__, "CHECK(" #condition ") failed"), false))

#define TAP_CHECK_OP(a, op, b)                                                                            \
  [&]() {                                                                                                 \
    const auto& tapA = (a);                                                                               \
    const auto& tapB = (b);                                                                               \
    return ::tap::checkBinary(tapA op tapB, tapA, tapB, "CHECK(" #a " " #op " " #b ")", #op, __FILE__, __LINE__); \
  }()

#define CHECK_EQ(a, b) TAP_CHECK_OP(a, ==, b)
#define CHECK_NE(a, b) TAP_CHECK_OP(a, !=, b)
#define CHECK_LT(a, b) TAP_CHECK_OP(a, <, b)
#define CHECK_LE(a, b) TAP_CHECK_OP(a, <=, b)
#define CHECK_GT(a, b) TAP_CHECK_OP(a, >, b)
#define CHECK_GE(a, b) TAP_CHECK_OP(a, >=, b)

// CHECK_NEAR(actual, expected, relativeTolerance)
#define CHECK_NEAR(actual, expected, tolerance) \
  ::tap::checkNear((actual), (expected), (tolerance), "CHECK_NEAR(" #actual ", " #expected ")", __FILE__, __LINE__)

// REQUIRE(condition): like CHECK, but ends the test when it fails (for preconditions).
#define REQUIRE(condition)                                                      \
  do {                                                                          \
    if (!(condition)) {                                                         \
      ::tap::fail(__FILE__, __LINE__, "REQUIRE(" #condition ") failed");        \
      throw ::tap::Abort{};                                                     \
    }                                                                           \
  } while (0)

#define TAP_MAIN() \
  int main(int argc, char** argv) { return ::tap::runAll(argc, argv); }
