#!/usr/bin/env bash
# CPU training and embedding throughput of galaxy-train against PyTorch eager on the same
# machine, in the same run (../shared/anchors/cpu_moco_anchor.py's network and step). Shared
# machines are noisy: both are run alternately ROUNDS times and the medians compared.
# Needs Debian's python3-torch and python3-torchvision (deploy/install-deps.sh --bench).
#   bench/cpu_anchor_ratio.sh [ROUNDS]        (default 5; writes bench/results/cpu_anchor_ratio.json)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
bin=build/bin/galaxy-train
out=bench/results
mkdir -p "$out"
py=/usr/bin/python3
"$py" -c 'import torch, torchvision' 2>/dev/null || {
  echo "needs python3-torch and python3-torchvision: deploy/install-deps.sh --bench" >&2; exit 1; }
anchor=$(mktemp)
trap 'rm -f "$anchor"' EXIT
cat >"$anchor" <<'PY'
# The anchor's ResNet18 (torchvision stem) MoCo step and embedding, batch 64, 2 threads.
import sys, time, torch, torch.nn as nn, torch.nn.functional as F, torchvision
torch.manual_seed(0); torch.set_num_threads(2)
def net():
    m = torchvision.models.resnet18(num_classes=128); m.conv1 = nn.Conv2d(5, 64, 7, 2, 3, bias=False)
    d = m.fc.in_features; m.fc = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, 128)); return m
q, k = net(), net(); k.load_state_dict(q.state_dict())
queue = F.normalize(torch.randn(128, 4096), dim=0); opt = torch.optim.SGD(q.parameters(), lr=0.03, momentum=0.9)
x = torch.randn(64, 5, 64, 64)
def step():
    qq = F.normalize(q(torch.flip(x, [3])), dim=1)
    with torch.no_grad(): kk = F.normalize(k(torch.rot90(x, 1, [2, 3])), dim=1)
    logits = torch.cat([(qq * kk).sum(1, keepdim=True), qq @ queue], 1) / 0.2
    loss = F.cross_entropy(logits, torch.zeros(64, dtype=torch.long)); opt.zero_grad(); loss.backward(); opt.step()
step(); t = time.perf_counter()
for _ in range(5): step()
train = 64 * 5 / (time.perf_counter() - t)
q.eval()
with torch.no_grad():
    q(x); t = time.perf_counter()
    for _ in range(5): q(x)
    embed = 64 * 5 / (time.perf_counter() - t)
print(f"{train} {embed}")
PY
py_train=(); py_embed=(); our_train=(); our_plain=(); our_embed=()
for r in $(seq 1 "$rounds"); do
  read -r t e < <("$py" "$anchor")
  py_train+=("$t"); py_embed+=("$e")
  j=$("$bin" bench --arch resnet18 --stem torchvision --batch 64 --embed-batch 64 --steps 5 --threads 2 --device cpu --json)
  our_train+=("$(echo "$j" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["train_images_per_s"])')")
  our_plain+=("$(echo "$j" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["train_no_augment_images_per_s"])')")
  our_embed+=("$(echo "$j" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["embed_images_per_s"])')")
  echo "round $r: anchor train $t embed $e | ours train ${our_train[-1]} (no aug ${our_plain[-1]}) embed ${our_embed[-1]}"
done
"$py" - "$out/cpu_anchor_ratio.json" "${py_train[*]}" "${py_embed[*]}" "${our_train[*]}" "${our_plain[*]}" "${our_embed[*]}" <<'PY'
import json, statistics, sys
path = sys.argv[1]
pt, pe, ot, op, oe = ([float(v) for v in a.split()] for a in sys.argv[2:7])
m = statistics.median
r = {"anchor_train": m(pt), "anchor_embed": m(pe), "train": m(ot), "train_no_augment": m(op), "embed": m(oe)}
r["ratio_train"] = r["train"] / r["anchor_train"]
r["ratio_train_no_augment"] = r["train_no_augment"] / r["anchor_train"]
r["ratio_embed"] = r["embed"] / r["anchor_embed"]
json.dump(r, open(path, "w"), indent=1)
print(f"medians over {len(pt)} rounds (img/s): anchor train {r['anchor_train']:.1f}, embed {r['anchor_embed']:.1f}")
print(f"galaxy-train: train {r['train']:.1f} ({r['ratio_train']:.2f}x), without augmentation {r['train_no_augment']:.1f} "
      f"({r['ratio_train_no_augment']:.2f}x), embed {r['embed']:.1f} ({r['ratio_embed']:.2f}x)")
PY
