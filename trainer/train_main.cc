// galaxy-train: learns galaxy representations (MoCo v2) and fine-tunes a redshift head.
#include <iostream>

#include "absl/strings/str_join.h"
#include "core/command_line.h"
#include "core/library_versions.h"
#include "core/torch_info.h"
#include "trainer/train_options.h"

namespace galaxy {
namespace {

absl::Status Devices() {
  TorchInfo info = GetTorchInfo();
  std::cout << "LibTorch      " << info.version << "\n"
            << "built with    " << (info.built_with_cuda ? "CUDA" : "CPU only") << "\n"
            << "CUDA devices  " << info.cuda_devices << "\n";
  for (size_t d = 0; d < info.device_names.size(); ++d) {
    std::cout << "  cuda:" << d << "      " << info.device_names[d] << "\n";
  }
  std::cout << "CPU threads   " << info.cpu_threads << "\n";
  absl::StatusOr<DeviceKind> device = ResolveDevice("auto");
  std::cout << "--device auto " << (device.ok() && *device == DeviceKind::kCuda ? "cuda" : "cpu")
            << "\n";
  return absl::OkStatus();
}

}  // namespace
}  // namespace galaxy

int main(int argc, char** argv) {
  galaxy::CommandLine cli(
      "galaxy-train",
      "Self-supervised MoCo v2 pretraining of a ResNet on multi-band galaxy images, redshift\n"
      "fine-tuning, the supervised baseline, evaluation and the label-efficiency experiment.");
  cli.SetVersionDetails([] {
    return galaxy::JoinVersions({galaxy::TorchLibraryVersions(), galaxy::CoreLibraryVersions()});
  });
  cli.AddCommand("devices", "Show LibTorch, CUDA devices and CPU threads",
                 [] { return galaxy::Devices(); });

  galaxy::PretrainOptions defaults;
  CLI::App* pretrain = cli.AddPlannedCommand("pretrain", "MoCo v2 pretraining");
  pretrain->add_option("--data", "Dataset (.h5)");
  pretrain->add_option("--out", "Output directory (checkpoints)");
  pretrain->add_option("--arch", "resnet50 | resnet18 | tiny")->default_str(defaults.arch);
  pretrain->add_option("--stem", "paper | torchvision")->default_str(defaults.stem);
  pretrain->add_option("--epochs", "Epochs")->default_str(std::to_string(defaults.epochs));
  pretrain->add_option("--steps", "Exact number of steps (instead of --epochs)");
  pretrain->add_option("--batch", "Images per step")->default_str(std::to_string(defaults.batch));
  pretrain->add_option("--device", "cpu | cuda | auto")->default_str(defaults.device);
  pretrain->add_option("--seed", "Random seed");
  pretrain->add_flag("--resume", "Continue from the last checkpoint in --out");

  CLI::App* finetune = cli.AddPlannedCommand("finetune", "Fine-tune a 180-bin redshift head");
  finetune->add_option("--data", "Dataset (.h5)");
  finetune->add_option("--init", "Pretrained checkpoint");
  finetune->add_option("--out", "Output directory");
  finetune->add_option("--label-fraction", "Fraction of labelled galaxies to use");
  CLI::App* supervised =
      cli.AddPlannedCommand("supervised", "Train the same network from scratch (baseline)");
  supervised->add_option("--data", "Dataset (.h5)");
  supervised->add_option("--out", "Output directory");
  CLI::App* eval = cli.AddPlannedCommand(
      "eval", "sigma_MAD, bias, outlier rate (+ kNN-on-colours baseline) of a model");
  eval->add_option("--data", "Dataset (.h5)");
  eval->add_option("--model", "Checkpoint");
  cli.AddPlannedCommand("experiment", "label-efficiency: SSL+fine-tune vs supervised");
  cli.AddPlannedCommand("bench", "Training-step and embedding throughput (img/s)");
  return cli.Run(argc, argv);
}
