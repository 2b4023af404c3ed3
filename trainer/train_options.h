// Hyper-parameters of MoCo v2 pretraining, with the defaults of the published recipe
// (docs/SCIENCE.md: queue 65536, momentum 0.999, temperature 0.2, head 2048->2048->128,
// SGD momentum 0.9, weight decay 1e-4, cosine schedule, lr 0.03 per 256 images).
#ifndef GALAXY_TRAINER_TRAIN_OPTIONS_H_
#define GALAXY_TRAINER_TRAIN_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace galaxy {

struct PretrainOptions {
  // Dataset in the native HDF5 layout. Required.
  std::string data_path;
  // Output directory for checkpoints and logs. Required.
  std::string out_dir;
  // Backbone: "resnet50" (default), "resnet18", "small" (tiny at twice the width: CPU science
  // runs) or "tiny" (CPU tests).
  std::string arch = "resnet50";
  // Stem: "paper" (7x7 stride 1, no max-pool; default), "half" (stride 2, no max-pool) or
  // "torchvision" (stride 2 + max-pool).
  std::string stem = "paper";
  // The network's input stretch: "asinh" (default; asinh(flux / band noise), ResNetConfig::
  // input_softening) or "linear" (raw flux, as models before it).
  std::string input_stretch = "asinh";
  // Training length: epochs over the dataset, or (when > 0) an exact number of steps.
  int epochs = 100;
  int64_t steps = 0;
  // Images per step. Default 256.
  int batch = 256;
  // Negatives queue length K; must be a multiple of batch. Default 65536.
  int queue = 65536;
  // Key-encoder momentum. Default 0.999.
  double momentum = 0.999;
  // InfoNCE temperature. Default 0.2.
  double temperature = 0.2;
  // SGD learning rate per 256 images (scaled linearly with batch). Default 0.03.
  double lr_per_256 = 0.03;
  // SGD weight decay and momentum. Defaults 1e-4 and 0.9.
  double weight_decay = 1e-4;
  double sgd_momentum = 0.9;
  // "cpu", "cuda" or "auto" (default: cuda when present).
  std::string device = "auto";
  // Seed of every random draw (initialisation, augmentation, sampling). Default 0.
  uint64_t seed = 0;
  // Continue from out_dir/checkpoint.pt, exactly where it stopped.
  bool resume = false;
  // Resume when out_dir/checkpoint.pt exists, start afresh otherwise: what a job that its
  // scheduler restarts after a failure runs with (deploy/k8s/galaxy-train.yaml).
  bool resume_if_present = false;
  // Save out_dir/checkpoint.pt every this many steps (and at the end). Default 500.
  int64_t checkpoint_every = 500;
  // CPU threads for LibTorch (0: every usable CPU).
  int threads = 0;
  // Largest PSF-blur sigma of the augmentation, pixels (each view: U(0, max_blur)). Default 3:
  // views blurred up to about twice the survey's seeing cannot be told apart by fine structure,
  // so the network keeps colour and overall shape; against 1 px it gained redshift and type
  // information in two pretraining seeds (docs/SCIENCE.md, "Blurred views").
  double max_blur = 3.0;
  // Largest noise the augmentation adds to each band of a view, in units of the data's own band
  // noise (AugmentOptions::max_noise). Default 1; 0: none.
  double max_noise = 1.0;
  // Largest relative change of scale of the augmentation: views are resized by U(1 - s, 1 + s).
  // Default 0.1; 0: none (the view keeps the galaxy's angular size, a cue to its distance).
  double scale_jitter = 0.1;
  // The augmentation's new dust reddening: "survey" (default: a lognormal fitted to the data's
  // own e_bv column, as Stein et al. 2021), "uniform" (U(0, max_dust)) or "none".
  std::string dust = "survey";
  double max_dust = 0.5;
  // Share of the views whose outskirts (beyond U(outskirt_radius, half the cutout) px from the
  // centre) become sky (AugmentOptions::outskirt_mask_prob), so that neighbouring sources stop
  // being a cue to which two views belong together. Default 0.
  double mask_outskirts = 0;
  double outskirt_radius = 12;
  // Weight of the photometric pretext: a linear map from the query encoder's features to the
  // image's own de-reddened aperture r magnitude and colours (measured on the image, no labels;
  // standardised), trained with InfoNCE by a Huber loss at this weight, so that the
  // representation keeps the colour that the views' invariances wear away. 0 (default): off.
  double photometry_weight = 0;
  // Radii of the pretext's apertures, arcsec (0.396"/px): each gives the magnitude and colours
  // in that aperture, so several give colour gradients and concentration too. Default {3}.
  std::vector<double> photometry_radii = {3.0};
  // Multi-crop (Caron et al. 2020): this many extra query views of each image, each a crop of
  // local_crop px (at the stored pixel scale) around its centre, with the global views'
  // turns, flips, jitter and photometric changes, contrasted with the image's one global key
  // and the queue. Their InfoNCE loss, averaged over the local views, is added to the global
  // pair's: a crop that shows little more than the bulge must find its whole galaxy. Default 0:
  // off. local_crop: 16 up to (not including) the global crop, default 32.
  int local_crops = 0;
  int64_t local_crop = 32;
  // Shuffling BatchNorm (MocoConfig::bn_splits): sub-batches per step, each normalised with its
  // own statistics, keys shuffled across them. Default 4; 1 disables; must divide batch.
  int bn_splits = 4;
  // Arithmetic of the training step on a GPU: "bf16" (default: autocast, matmuls and
  // convolutions in bfloat16) or "fp32". On the CPU the step is always fp32.
  std::string precision = "bf16";
  // Measure the representation (trainer/ssl_monitor.h: kNN redshift and type of a labelled
  // held-out sample) every this many steps and at the end; logged and kept in the checkpoint's
  // metadata. 0: never. Skipped (with a note) when the data has no redshifts. Default 500.
  int64_t monitor_every = 500;
  // Read the losses back from the device every this many steps (and at every log line and
  // checkpoint); 0 (default): each step on the CPU, where it costs nothing and a non-finite loss
  // is caught before its backward pass, every 10th on a GPU, where each read makes the host
  // wait. Either way no checkpoint is written after a non-finite loss. Not a command-line flag.
  int loss_readback_every = 0;
  // Data-parallel training (WORLD_SIZE > 1, trainer/data_parallel.h): how long a rank waits for
  // the group to form, and for the others in any collective, before it gives up. Default 1800 s.
  int dist_timeout_seconds = 1800;

  // INVALID_ARGUMENT naming the first bad field, e.g. "--queue: 1000 is not a multiple of
  // --batch 256".
  absl::Status Validate() const;
};

// OK for one of FinetuneOptions::validation_labels' choices ("all", "label-fraction"),
// INVALID_ARGUMENT naming the flag and both choices otherwise.
absl::Status ValidateValidationLabels(const std::string& validation_labels);

// Redshift training: fine-tuning a pretrained network (init set), or the same network from
// scratch (the supervised baseline, init empty).
struct FinetuneOptions {
  // Dataset with specz_redshift. Required.
  std::string data_path;
  // Pretrained checkpoint (kind moco); empty for the supervised baseline.
  std::string init_path;
  // Output directory. Required.
  std::string out_dir;
  // Fraction of the training part's labelled galaxies to use (nested across fractions). Default 1.
  double label_fraction = 1.0;
  // The validation labels that pick the best step and fit the pdfs' temperature:
  // "all" (default): every labelled galaxy of the validation part, whatever label_fraction (Hayat
  // et al.'s protocol: one validation set for every fraction); "label-fraction": the same share
  // of them as of the training part's (nested as those), what a user who holds only that share of
  // the labels has. ValidateValidationLabels checks it.
  std::string validation_labels = "all";
  // Passes over the labelled training galaxies, or (when > 0) an exact number of steps.
  int epochs = 30;
  int64_t steps = 0;
  // Images per step. Default 128.
  int batch = 128;
  // Adam learning rate of the redshift head; the backbone's is backbone_lr_factor times it when
  // fine-tuning (the whole network uses head_lr from scratch). Default 2e-3.
  double head_lr = 2e-3;
  // When fine-tuning, the backbone's learning rate as a multiple of head_lr. Default 1: the
  // pretrained backbone trains as fast as the head; a tenth of the rate (Hayat et al.'s choice)
  // was worse at every label fraction on our survey (docs/SCIENCE.md).
  double backbone_lr_factor = 1.0;
  // When fine-tuning, the first head_warmup_steps steps train the head alone on the frozen
  // backbone (its BatchNorms keep the pretrained statistics), then the whole network trains
  // ("linear probing, then fine-tuning": the head starts the joint phase from a fit, not from
  // random weights that send large gradients into the pretrained features). They count in the
  // run's steps and share its cosine schedule. Default 0 (no warm-up); as many as the steps keeps
  // the backbone frozen throughout (what the frozen representation alone gives, with this head).
  int64_t head_warmup_steps = 0;
  // A BatchNorm on the head's input features (RedshiftHeadImpl). Default true.
  bool head_norm = true;
  // Distillation into the unlabelled galaxies (the third step of "pretrain, fine-tune, distil",
  // Chen et al. 2020, SimCLRv2): a model with a redshift head (the teacher: usually a fine-tuned
  // model of this label fraction) predicts a pdf for every galaxy of the training part, labelled
  // or not; the run then trains on all of them, towards its label where a galaxy is inside the
  // label fraction and towards the teacher's pdf elsewhere. The teacher must have been trained on
  // the same split and on no more labels than this run has (its pdfs would carry the others).
  // Empty (default): the labelled galaxies only.
  std::string teacher_path;
  // When fine-tuning, keep pretraining's contrastive loss on the training part's galaxies,
  // labelled or not, beside the redshift loss (loss = redshift + ssl_weight x InfoNCE): each step
  // also draws a batch of two views, with the pretraining's views, queue, momentum, temperature
  // and shuffling BatchNorm (its metadata's record), a key encoder started from the pretrained
  // backbone and a fresh queue. The projection head trains at the backbone's rate. Few labels
  // fitted for many steps pull the backbone away from what pretraining learnt from every galaxy;
  // the contrastive loss holds it there (semi-supervised fine-tuning). Each step costs about three
  // times as much. Default 0: the labels alone.
  double ssl_weight = 0;
  double weight_decay = 1e-5;
  // Backbone and input stretch for the supervised baseline (fine-tuning takes the checkpoint's).
  std::string arch = "resnet50";
  std::string stem = "paper";
  std::string input_stretch = "asinh";
  // The supervised network's per-band noise (nanomaggies per pixel), from which its input
  // softening and its augmentation's noise follow; empty (default): measured on its own training
  // images. label-efficiency sets the pretrained model's, so that both arms see the same input.
  // Not a command-line flag; fine-tuning always takes the checkpoint's.
  std::vector<double> band_noise;
  // Width (in bins) of the Gaussian spread of each training target over neighbouring bins; 0
  // trains on one-hot bins. Default 1.5.
  double label_smoothing_bins = 1.5;
  // After training, fit the pdfs' temperature on the validation part (model/heads.h
  // FitPdfTemperature) and keep it in the model (ModelMetadata::redshift_temperature), so that
  // every pdf it gives, served or evaluated, is calibrated. Default true; false keeps T = 1.
  bool calibrate_pdf = true;
  // Redshift bins on [0, z_max]. Defaults 180 and 0.4.
  int bins = 180;
  double z_max = 0.4;
  // Split of the dataset by ID hash, and its seed (the test part is never trained on).
  std::string fractions = "0.8,0.1,0.1";
  uint64_t split_seed = 0;
  std::string device = "auto";
  uint64_t seed = 0;
  int threads = 0;
  // As PretrainOptions::dist_timeout_seconds.
  int dist_timeout_seconds = 1800;

  // The share of the validation part's labelled galaxies that validation_labels selects.
  double ValidationFraction() const { return validation_labels == "label-fraction" ? label_fraction : 1.0; }
  absl::Status Validate() const;
};


// OK for "asinh" or "linear" (the values of --input-stretch); INVALID_ARGUMENT naming it otherwise.
absl::Status ValidateInputStretch(const std::string& stretch);

// OK when 0 <= warmup_steps <= steps (the head warm-up of a fine-tuning run of `steps` steps;
// all of them: the backbone stays frozen);
// INVALID_ARGUMENT naming --head-warmup-steps otherwise.
absl::Status ValidateHeadWarmup(int64_t warmup_steps, int64_t steps);

// "0.01,0.05,1" -> {0.01, 0.05, 1}; INVALID_ARGUMENT naming `flag` and a cell that is not a
// number (the range is checked by the command's own options).
absl::StatusOr<std::vector<double>> ParseFractionList(const std::string& text, const std::string& flag = "--fractions");

}  // namespace galaxy

#endif  // GALAXY_TRAINER_TRAIN_OPTIONS_H_
