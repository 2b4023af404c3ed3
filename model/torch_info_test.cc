#include "model/torch_info.h"

#include <sys/resource.h>

#include <cstring>

#include <gtest/gtest.h>
#include <c10/core/CPUAllocator.h>
#include <torch/torch.h>

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

long MinorFaults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// Page faults of `passes` passes that each allocate and write 24 tensors of 4 MiB, then free
// them all: the pattern of a forward pass's activations.
long FaultsOfActivationPasses(int passes) {
  const long before = MinorFaults();
  for (int pass = 0; pass < passes; ++pass) {
    std::vector<torch::Tensor> activations;
    for (int i = 0; i < 24; ++i) activations.push_back(torch::ones({1 << 20}));
    EXPECT_EQ(activations.back()[123].item<float>(), 1.0f);
  }
  return MinorFaults() - before;
}

TEST(TorchInfoTest, FreedTensorMemoryIsReusedWithoutPageFaults) {
  if (!KeepFreedMemoryForReuse()) GTEST_SKIP() << "glibc malloc tuning not applied here (sanitizer or environment)";
  EXPECT_TRUE(KeepFreedMemoryForReuse());  // idempotent
  (void)FaultsOfActivationPasses(4);       // the heap grows to its working size
  // With glibc's defaults the heap's top (96 MiB, over the dynamic trim threshold) goes back to
  // the kernel after each pass: about 20,000 faults per pass here, 100,000 in all. Kept, it is
  // reused: 0 to a few thousand (an odd block placed afresh), never a pass's worth.
  const long faults = FaultsOfActivationPasses(5);
  EXPECT_LT(faults, 8192) << faults << " page faults for 5 passes of 96 MiB of tensors";
}

// A full-resolution activation (64 MiB: batch 128 of 32 channels at 64 x 64) is allocated,
// written and freed: the block goes into the cache and the next request of its size gets it
// back, without faulting its pages in again.
TEST(TorchInfoTest, AFullResolutionActivationIsReusedWithoutPageFaults) {
  if (!KeepFreedMemoryForReuse()) GTEST_SKIP() << "malloc tuning not applied here (sanitizer or environment)";
  const int64_t floats = int64_t{16} << 20;
  const void* first = nullptr;
  {
    torch::Tensor activation = torch::ones({floats});
    first = activation.data_ptr();
  }
  const size_t cached = CachedTensorBytes();
  EXPECT_GE(cached, floats * sizeof(float));
  const long before = MinorFaults();
  for (int pass = 0; pass < 4; ++pass) {
    torch::Tensor activation = torch::ones({floats});
    EXPECT_EQ(activation.data_ptr(), first) << "pass " << pass;
    EXPECT_EQ(activation[floats - 1].item<float>(), 1.0f);
  }
  // Mapped afresh, each pass faults 16,384 pages of 4 KiB in (65,537 for the four passes
  // when glibc's heap held the blocks instead).
  const long faults = MinorFaults() - before;
  EXPECT_LT(faults, 2048) << faults << " page faults for 4 passes of a 64 MiB tensor";
  EXPECT_EQ(CachedTensorBytes(), cached);
}

TEST(TorchInfoTest, SmallBlocksBypassTheCacheAndTheRawInterfaceRoundsUp) {
  if (!KeepFreedMemoryForReuse()) GTEST_SKIP() << "malloc tuning not applied here (sanitizer or environment)";
  const size_t cached_before = CachedTensorBytes();
  { torch::Tensor small = torch::ones({1 << 20}); }  // 4 MiB: glibc's heap keeps it
  EXPECT_EQ(CachedTensorBytes(), cached_before);
  c10::Allocator* allocator = c10::GetCPUAllocator();
  void* block = allocator->raw_allocate((size_t{40} << 20) + 1);
  ASSERT_NE(block, nullptr);
  std::memset(block, 7, (size_t{40} << 20) + 1);
  allocator->raw_deallocate(block);
  EXPECT_EQ(CachedTensorBytes(), cached_before + (size_t{42} << 20));  // rounded up to 2 MiB
  void* again = allocator->raw_allocate(size_t{41} << 20);               // same rounded size
  EXPECT_EQ(again, block);
  EXPECT_EQ(CachedTensorBytes(), cached_before);
  allocator->raw_deallocate(again);
  void* small = allocator->raw_allocate(1024);  // the default allocator's, freed through ours
  ASSERT_NE(small, nullptr);
  allocator->raw_deallocate(small);
  EXPECT_EQ(CachedTensorBytes(), cached_before + (size_t{42} << 20));
}

}  // namespace
}  // namespace galaxy
