// End-to-end test of `mixtrain bench gemm` ($MIXTRAIN_BIN): one JSON line with the agreed keys
// for every operand dtype, and the error contract for bad arguments (exit 2, one stderr line).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

namespace {

struct CliRun {
  int status = -1;
  std::string out;
};

// Runs `[ENV] mixtrain ARGS 2>&1` and captures its output.
CliRun run(const std::string& args, const std::string& env = "") {
  const char* bin = std::getenv("MIXTRAIN_BIN");
  if (bin == nullptr) {
    ADD_FAILURE() << "MIXTRAIN_BIN is not set (ctest sets it to the built tool)";
    return {};
  }
  const std::string cmd = (env.empty() ? "" : "env " + env + " ") + "'" + bin + "' " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  CliRun r;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int rc = pclose(p);
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return r;
}

TEST(kernels_bench_cli, GemmPrintsOneJsonLine) {
  for (const char* dtype : {"fp32", "fp16", "bf16", "e4m3"}) {
    const CliRun r =
        run(std::string("bench gemm --m 64 --n 48 --k 40 --repeats 3 --dtype ") + dtype);
    ASSERT_EQ(r.status, 0) << r.out;
    ASSERT_EQ(r.out.find('\n'), r.out.size() - 1) << "exactly one line: " << r.out;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.at("dtype"), dtype);
    EXPECT_EQ(j.at("m"), 64);
    EXPECT_EQ(j.at("n"), 48);
    EXPECT_EQ(j.at("k"), 40);
    for (const char* key : {"ms", "gflops", "sgemm_gflops", "ratio_vs_sgemm", "fp32_gflops",
                            "ratio_vs_fp32", "fp32_ratio_vs_sgemm"}) {
      ASSERT_TRUE(j.contains(key)) << key;
      EXPECT_GT(j.at(key).get<double>(), 0.0) << key;
    }
    // The tier and kernel that ran, and either the oneDNN peer's figures or why there are none.
    EXPECT_FALSE(j.at("isa_tier").get<std::string>().empty());
    EXPECT_FALSE(j.at("kernel").get<std::string>().empty());
    if (j.contains("onednn_gflops")) {
      EXPECT_GT(j.at("onednn_gflops").get<double>(), 0.0);
      EXPECT_GT(j.at("ratio_vs_onednn").get<double>(), 0.0);
      EXPECT_EQ(j.at("onednn_dtype"), std::string(dtype) == "fp32" ? "f32" : "bf16");
    } else {
      EXPECT_TRUE(j.contains("onednn")) << r.out;
    }
    if (std::string(dtype) == "e4m3") {
      EXPECT_GT(j.at("ratio_vs_bf16").get<double>(), 0.0);
    }
  }
}

// MIXTRAIN_ISA caps the tier the bench reports; a bad value is one line and exit 2.
TEST(kernels_bench_cli, IsaCapIsReportedAndBadValuesAreErrors) {
  const CliRun r = run("bench gemm --m 32 --n 32 --k 32 --repeats 1 --dtype bf16", "MIXTRAIN_ISA=avx2");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j.at("isa_tier") == "avx2" || j.at("isa_tier") == "generic") << r.out;
  EXPECT_NE(j.at("kernel"), "avx512_bf16dot");
  for (const char* env : {"MIXTRAIN_ISA=avx9000", "MIXTRAIN_GEMM=fastest"}) {
    const CliRun bad = run("bench gemm --m 32 --n 32 --k 32 --repeats 1", env);
    EXPECT_EQ(bad.status, 2) << env << ": " << bad.out;
    EXPECT_EQ(bad.out.rfind("mixtrain: ", 0), 0u) << env << ": " << bad.out;
    EXPECT_EQ(bad.out.find('\n'), bad.out.size() - 1) << env << ": " << bad.out;
  }
}

TEST(kernels_bench_cli, GemmRejectsBadArguments) {
  for (const char* args : {"bench gemm --dtype fp64", "bench gemm --m 0", "bench gemm --dtype x",
                           "bench gemm --repeats 0", "bench"}) {
    const CliRun r = run(args);
    EXPECT_EQ(r.status, 2) << args;
    EXPECT_EQ(r.out.rfind("mixtrain: ", 0), 0u) << args << ": " << r.out;
    EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << args << ": " << r.out;
  }
}

}  // namespace
