// A pretraining run's record in its checkpoints (ModelMetadata::training_json) and the
// comparison that decides whether a checkpoint may be resumed: what RunPretrain writes and checks
// (trainer/pretrain.h). PretrainingOf, the record's reader, is declared in trainer/pretrain.h.
#ifndef GALAXY_TRAINER_PRETRAIN_RECORD_H_
#define GALAXY_TRAINER_PRETRAIN_RECORD_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "model/model_metadata.h"
#include "trainer/train_options.h"

namespace galaxy {

// The record of a run with options `o`, `total_steps` steps over `rows` galaxies, as JSON text:
// every setting that shapes the views or the contrast (photometry_* and local_crop* only when
// used, so that checkpoints made before they existed resume unchanged).
std::string PretrainingRecord(const PretrainOptions& o, int64_t total_steps, int64_t rows);

// OK when the checkpoint at `checkpoint_path` with metadata `old` can be resumed by the run whose
// metadata is `now` (its training_json a PretrainingRecord); otherwise a resume refusal
// (IsResumeRefusal, FAILED_PRECONDITION) naming the difference: another kind of checkpoint, other
// data (by checksum), a setting of the record changed, added or removed, or another network, stem
// or seed.
absl::Status CheckResumable(const ModelMetadata& old, const ModelMetadata& now, const std::string& checkpoint_path);

}  // namespace galaxy

#endif  // GALAXY_TRAINER_PRETRAIN_RECORD_H_
