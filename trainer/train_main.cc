// galaxy-train: learns galaxy representations (MoCo v2) and fine-tunes a redshift head.
#include <iostream>

#include "absl/strings/str_join.h"
#include "core/command_line.h"
#include "core/library_versions.h"
#include "core/torch_info.h"
#include "trainer/pretrain.h"
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

  galaxy::PretrainOptions pretrain;
  CLI::App* pretrain_cmd = cli.AddCommand(
      "pretrain", "MoCo v2 pretraining (self-supervised; labels are never read)",
      [&]() -> absl::Status {
        absl::StatusOr<galaxy::PretrainResult> r = galaxy::RunPretrain(pretrain);
        if (!r.ok()) return r.status();
        std::cout << "pretrained " << r->steps << " steps at " << static_cast<int64_t>(r->images_per_second)
                  << " img/s; checkpoint " << r->checkpoint
                  << (r->model.empty() ? "" : ", model " + r->model) << "\n";
        return absl::OkStatus();
      });
  pretrain_cmd->add_option("--data", pretrain.data_path, "Dataset (.h5)")->required();
  pretrain_cmd->add_option("--out", pretrain.out_dir, "Output directory (checkpoint.pt, model.pt)")->required();
  pretrain_cmd->add_option("--arch", pretrain.arch, "resnet50 | resnet18 | tiny")->capture_default_str();
  pretrain_cmd->add_option("--stem", pretrain.stem, "paper | torchvision")->capture_default_str();
  pretrain_cmd->add_option("--epochs", pretrain.epochs, "Passes over the data")->capture_default_str();
  pretrain_cmd->add_option("--steps", pretrain.steps, "Exact number of steps (instead of --epochs)");
  pretrain_cmd->add_option("--batch", pretrain.batch, "Images per step")->capture_default_str();
  pretrain_cmd->add_option("--queue", pretrain.queue, "Negatives in the queue (multiple of --batch)")->capture_default_str();
  pretrain_cmd->add_option("--momentum", pretrain.momentum, "Key-encoder momentum")->capture_default_str();
  pretrain_cmd->add_option("--temperature", pretrain.temperature, "InfoNCE temperature")->capture_default_str();
  pretrain_cmd->add_option("--lr", pretrain.lr_per_256, "SGD learning rate per 256 images (cosine schedule)")->capture_default_str();
  pretrain_cmd->add_option("--weight-decay", pretrain.weight_decay, "SGD weight decay")->capture_default_str();
  pretrain_cmd->add_option("--max-blur", pretrain.max_blur, "Largest PSF-blur sigma of the augmentation, px")->capture_default_str();
  pretrain_cmd->add_option("--checkpoint-every", pretrain.checkpoint_every, "Steps between checkpoints")->capture_default_str();
  pretrain_cmd->add_option("--device", pretrain.device, "cpu | cuda | auto")->capture_default_str();
  pretrain_cmd->add_option("--seed", pretrain.seed, "Random seed")->capture_default_str();
  pretrain_cmd->add_option("--threads", pretrain.threads, "CPU threads (0: all)")->capture_default_str();
  pretrain_cmd->add_flag("--resume", pretrain.resume, "Continue exactly from --out/checkpoint.pt");

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
