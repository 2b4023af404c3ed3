#include "core/torch_info.h"

#include <gtest/gtest.h>

namespace galaxy {
namespace {

TEST(TorchInfoTest, ReportsAVersionAndConsistentDevices) {
  TorchInfo info = GetTorchInfo();
  EXPECT_FALSE(info.version.empty());
  if (!info.built_with_cuda) {
    EXPECT_EQ(info.cuda_devices, 0);
  }
  EXPECT_GE(info.cpu_threads, 1);
}

TEST(TorchInfoTest, ResolveDeviceHonoursAvailability) {
  EXPECT_EQ(*ResolveDevice("cpu"), DeviceKind::kCpu);
  absl::StatusOr<DeviceKind> automatic = ResolveDevice("auto");
  ASSERT_TRUE(automatic.ok());
  absl::StatusOr<DeviceKind> cuda = ResolveDevice("cuda");
  if (GetTorchInfo().cuda_devices > 0) {
    EXPECT_EQ(*automatic, DeviceKind::kCuda);
    EXPECT_EQ(*cuda, DeviceKind::kCuda);
  } else {
    EXPECT_EQ(*automatic, DeviceKind::kCpu);
    EXPECT_EQ(cuda.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(cuda.status().message().find("--device cuda"), std::string::npos);
  }
  absl::StatusOr<DeviceKind> bad = ResolveDevice("tpu");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("tpu"), std::string::npos);
}

TEST(TorchInfoTest, SetCpuThreadsTakesEffect) {
  SetCpuThreads(1);
  EXPECT_EQ(GetTorchInfo().cpu_threads, 1);
  SetCpuThreads(0);  // all usable cores
  EXPECT_GE(GetTorchInfo().cpu_threads, 1);
}

}  // namespace
}  // namespace galaxy
