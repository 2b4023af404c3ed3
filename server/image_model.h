// The snapshot's model at serving time: embeds uploaded images and predicts their redshift pdf.
// No LibTorch type appears here (image_model.cc holds it), so the rest of the server compiles
// without LibTorch headers.
#ifndef GALAXY_SERVER_IMAGE_MODEL_H_
#define GALAXY_SERVER_IMAGE_MODEL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/model_metadata.h"

namespace galaxy {

// What the model makes of n images.
struct ImageModelOutput {
  // n x dim, L2-normalised.
  std::vector<float> embeddings;
  // n x bins redshift probabilities, and the pdf's mean and standard deviation (n each); empty
  // when the model has no redshift head.
  std::vector<float> pdf;
  std::vector<float> z_mean, z_sigma;
};

// Thread-safe: Run may be called concurrently (calls are serialised inside; the batcher makes
// concurrent callers share one forward pass instead).
class ImageModel {
 public:
  // Loads a checkpoint for inference on `device` ("cpu", "cuda", "auto").
  static absl::StatusOr<std::unique_ptr<ImageModel>> Load(const std::string& path, const std::string& device);
  ~ImageModel();
  ImageModel(const ImageModel&) = delete;
  ImageModel& operator=(const ImageModel&) = delete;

  const ModelMetadata& metadata() const;
  bool on_gpu() const;

  // images: n x bands x S x S floats (S = metadata().image_size, already centre-cropped), e_bv: n.
  // INTERNAL naming LibTorch's reason when the forward pass fails; INTERNAL when it yields a
  // non-finite embedding.
  absl::StatusOr<ImageModelOutput> Run(const std::vector<float>& images, const std::vector<float>& e_bv,
                                       int n) const;

 private:
  struct Impl;
  explicit ImageModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace galaxy

#endif  // GALAXY_SERVER_IMAGE_MODEL_H_
