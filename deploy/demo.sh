#!/usr/bin/env bash
# The first command of the README: from a fresh Debian bookworm machine, installs, builds and runs
# galaxy-search end to end as far as it goes today, then says what it did and where to look.
# Rerunning reuses what is already built.
#
# Synthesises a survey (physically grounded, with labelled anomalies), inspects it, runs the
# classical photo-z baseline, pretrains a small MoCo v2 model and fine-tunes a redshift head
# (GPU when present, else a few minutes of CPU), builds a snapshot (FAISS HNSW + RocksDB), starts
# galaxy-server on a free loopback port, runs example queries of every kind (CLI and Python),
# writes HTML galleries of similar and anomalous galaxies, checks the gallery in headless
# Chromium, and stops the server with SIGTERM (a clean drain).
# GALAXY_DEMO_COUNT sets the survey size (default 20000), GALAXY_DEMO_PRETRAIN_STEPS and
# GALAXY_DEMO_FINETUNE_EPOCHS the training (300, 6), GALAXY_DEMO_DIR the output directory.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=${GALAXY_DEMO_DIR:-$root/demo-output}
mkdir -p "$work"

step() { printf '\n==> %s\n' "$*"; }

step "Installing dependencies (Debian packages)"
deploy/install-deps.sh
step "Building (build/bin/)"
deploy/build.sh >"$work/build.log" 2>&1 || { tail -50 "$work/build.log"; exit 1; }
bin=$root/build/bin
count=${GALAXY_DEMO_COUNT:-20000}

survey=$work/survey-$count.h5
if [ -f "$survey" ]; then
  step "Synthetic survey: reusing $survey"
else
  step "Synthesising a survey of $count galaxies (r < 17.8, z <= 0.4, 1% anomalies)"
  "$bin/galaxy-data" synth --out "$survey" --count "$count" --seed 1
fi
step "Inspecting it; colour composites of a sample go to $work/gallery/"
"$bin/galaxy-data" inspect "$survey" --png "$work/gallery" --samples 24
step "Classical photo-z baseline: kNN on de-reddened colours"
"$bin/galaxy-data" photoz-baseline "$survey" --json-out "$work/photoz-baseline.json"

# A small model, so that this runs in minutes on a laptop's CPU (GPU when present).
steps=${GALAXY_DEMO_PRETRAIN_STEPS:-300}
if [ -f "$work/moco/model.pt" ]; then
  step "Pretrained model: reusing $work/moco/model.pt"
else
  step "Self-supervised MoCo v2 pretraining ($steps steps, tiny ResNet, with the photometric pretext; labels are not read)"
  # The sharper contrast and the image's own aperture colours as a second target make 300 steps
  # learn far more than the contrast alone (docs/SCIENCE.md, "The demo's pretraining").
  "$bin/galaxy-train" pretrain --data "$survey" --out "$work/moco" --arch tiny --stem torchvision \
    --steps "$steps" --batch 128 --queue 4096 --momentum 0.99 --lr 0.12 \
    --temperature 0.1 --photometry-weight 5 --photometry-radii 1.5,3,6
fi
if [ -f "$work/redshift/model.pt" ]; then
  step "Fine-tuned model: reusing $work/redshift/model.pt"
else
  step "Fine-tuning a photometric-redshift head on 25% of the training labels"
  "$bin/galaxy-train" finetune --data "$survey" --init "$work/moco/model.pt" --out "$work/redshift" \
    --label-fraction 0.25 --epochs "${GALAXY_DEMO_FINETUNE_EPOCHS:-6}" --batch 128 --lr 0.003
fi
step "Evaluating on the test part (with the kNN-on-colours baseline)"
"$bin/galaxy-train" eval --data "$survey" --model "$work/redshift/model.pt" \
  --json "$work/eval.json" --plot "$work/redshift.png"

snapshots=$work/snapshots
if [ -s "$snapshots/CURRENT" ] && "$bin/galaxy-index" verify "$snapshots" >/dev/null 2>&1; then
  step "Snapshot: reusing $snapshots/$(cat "$snapshots/CURRENT")"
else
  step "Indexing the survey: embeddings, HNSW index, RocksDB records, anomaly scores"
  "$bin/galaxy-index" build --data "$survey" --model "$work/redshift/model.pt" --out "$snapshots" --index hnsw
fi
"$bin/galaxy-index" info "$snapshots"

step "Starting galaxy-server on a free loopback port, with the web explorer"
rm -f "$work/server.port" "$work/http.port"
"$bin/galaxy-server" --snapshots "$snapshots" --listen 127.0.0.1:0 --port-file "$work/server.port" \
  --metrics-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --http-port-file "$work/http.port" \
  >"$work/server.log" 2>&1 &
server_pid=$!
trap 'kill -9 $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  [ -s "$work/server.port" ] && break
  kill -0 $server_pid 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.1
done
address=127.0.0.1:$(cat "$work/server.port")
explorer="http://127.0.0.1:$(cat "$work/http.port")/"
echo "listening on $address (log: $work/server.log)"
echo "web explorer: $explorer"

client() { "$bin/galaxy-client" --server "$address" "$@"; }
step "Health (grpc.health.v1): the search service is SERVING once the snapshot is loaded"
client health --service galaxy.v1.GalaxySearch
step "Services and methods (server reflection)"
client services
step "Index info"
client info
# A galaxy to ask about: the 8th most anomalous one.
query=$(client --json list-anomalies --top 8 | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["galaxies"][7]["id"])')
step "Galaxies similar to $query (by catalog ID), with a gallery page"
client similar --id "$query" --k 12 --html "$work/similar.html"
step "The same query by image: row 7 of the survey file, uploaded as pixels"
client similar --image "$survey" --row 7 --k 5
step "By sky position (the galaxy nearest to ra, dec), with a redshift filter"
pos=$(client --json galaxy --id "$query" | /usr/bin/python3 -c 'import json,sys; g=json.load(sys.stdin); print(g["ra"], g["dec"])')
client similar --ra "${pos% *}" --dec "${pos#* }" --k 5 --z-min 0.05 --z-max 0.3
step "Photometric redshift (from the fine-tuned head) with its pdf"
client predict-z --id "$query" --image "$survey" --row 7 --pdf
step "Anomaly score of $query"
client anomaly --id "$query"
step "The most anomalous galaxies, with a gallery page"
client list-anomalies --top 24 --html "$work/anomalies.html"
step "The stored record of $query"
client galaxy --id "$query"
step "The same from Python (client/python/example.py)"
PYTHONPATH="$root/client/python" /usr/bin/python3 "$root/client/python/example.py" --server "$address" --id "$query"
step "The example notebook (client/python/examples/quickstart.ipynb), executed: $work/quickstart.html"
# Tables with units, sky positions, galleries and batch calls from a notebook; executed by
# nbconvert in a kernel of Debian's python3, which sees the client through PYTHONPATH.
GALAXY_SERVER="$address" GALAXY_QUERY_ID="$query" PYTHONPATH="$root/client/python" /usr/bin/python3 -m nbconvert \
  --to html --execute --output-dir "$work" --output quickstart "$root/client/python/examples/quickstart.ipynb" 2>&1 |
  grep -v "^0.00s - " || true   # the kernel's debugger warns that Python's modules are frozen
[ -s "$work/quickstart.html" ] || { echo "demo: the notebook did not run" >&2; exit 1; }
step "Few-shot search: ten mergers (from the survey's truth column) rank the whole catalog"
# The first ten galaxies the simulator made mergers; a logistic regression on their embeddings
# against 1000 random galaxies scores every galaxy of the snapshot.
positives=$(/usr/bin/python3 -c 'import h5py,sys; f=h5py.File(sys.argv[1],"r"); k=f["anomaly_kind"][:]; ids=f["ObjID"][:]
print(" ".join(f"--positive {int(i)}" for i in ids[k == 1][:10]))' "$survey")
# shellcheck disable=SC2086  # one word per flag and ID
client rank $positives --top 20 --csv "$work/mergers.csv" --html "$work/mergers.html"
/usr/bin/python3 -c 'import csv,h5py,sys; f=h5py.File(sys.argv[1],"r"); k=dict(zip(f["ObjID"][:].tolist(), f["anomaly_kind"][:].tolist()))
top=[int(r["id"]) for r in csv.DictReader(open(sys.argv[2]))]; hits=sum(k[i] == 1 for i in top)
share=sum(v == 1 for v in k.values()) / len(k)
print(f"{hits} of the top {len(top)} are mergers; {100 * share:.2f}% of the survey is")' "$survey" "$work/mergers.csv"
step "Rebuilding the index in the background and swapping to it (admin RPCs)"
client rebuild --data "$survey" --wait
client info
step "Prometheus metrics (a few lines)"
metrics_port=$(grep -o 'metrics_port=[0-9]*' "$work/server.log" | head -1 | cut -d= -f2)
/usr/bin/python3 -c "import urllib.request,sys; t=urllib.request.urlopen('http://127.0.0.1:$metrics_port/metrics').read().decode(); print('\n'.join(l for l in t.splitlines() if l.startswith(('galaxy_requests_total','galaxy_snapshot_info','galaxy_index_galaxies'))))"
if command -v chromium >/dev/null; then
  step "Rendering the gallery in headless Chromium: $work/similar.png"
  # Image decoding runs outside Chromium's virtual time: on a busy machine the DOM can be dumped
  # before it ends. Try again (3 times in all) while the page has said neither yes nor no.
  for attempt in 1 2 3; do
    title=$(chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=5000 --dump-dom \
              "file://$work/similar.html" 2>/dev/null | grep -o '<title>[^<]*</title>' || true)
    case "$title" in *"images decoded]"*|*"decode failed]"*) break ;; esac
  done
  echo "page title: $title"
  case "$title" in
    *"images decoded]"*) ;;
    *) echo "demo: the gallery did not render in Chromium (title: $title)" >&2; exit 1 ;;
  esac
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,900 \
    --virtual-time-budget=5000 --screenshot="$work/similar.png" "file://$work/similar.html" >/dev/null 2>&1
fi

step "The web explorer over HTTP/JSON: $explorer"
/usr/bin/python3 - "$explorer" "$query" <<'PY'
import json, sys, urllib.request
base, query = sys.argv[1], sys.argv[2]
def post(rpc, body):
    request = urllib.request.Request(base + "api/v1/" + rpc, json.dumps(body).encode(), {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(request))
answer = post("SimilarGalaxies", {"id": query, "k": 3})
print("POST api/v1/SimilarGalaxies:", [(n["id"], round(n["score"], 3)) for n in answer["neighbors"]])
png = urllib.request.urlopen(base + "api/v1/galaxies/" + query + "/cutout.png").read()
print("GET api/v1/galaxies/%s/cutout.png: %d bytes of PNG" % (query, len(png)))
PY
if command -v chromium >/dev/null; then
  chromium --headless --no-sandbox --disable-gpu --disable-background-networking --hide-scrollbars \
    --window-size=1366,900 --virtual-time-budget=10000 --screenshot="$work/explorer.png" \
    "${explorer}#/galaxy/$query" >/dev/null 2>&1 || true
  [ -s "$work/explorer.png" ] && echo "the galaxy's page, as headless Chromium rendered it: $work/explorer.png"
fi
if [ -t 0 ] && [ -t 1 ]; then
  echo
  echo "Open $explorer in a browser to search, browse anomalies and label them."
  read -r -p "Press Enter to stop the server. " _
fi

step "Stopping the server (SIGTERM drains in-flight requests)"
kill -TERM $server_pid
wait $server_pid
trap - EXIT

cat <<EOT

Done. What happened:
  - built every binary into $bin (galaxy-data, galaxy-train, galaxy-index, galaxy-server,
    galaxy-client, galaxy-bench; each explains itself with --help)
  - synthesised $survey ($count galaxies with truth columns), inspected it,
    and measured the classical photo-z baseline
  - pretrained a small MoCo v2 model, fine-tuned a redshift head, evaluated it
  - built a snapshot ($snapshots: HNSW index, RocksDB records, anomaly scores)
  - served it with galaxy-server and queried every RPC: similar by ID, image and sky position,
    redshift, anomalies, records, a background rebuild with a hot swap; from the CLI and Python,
    and over HTTP/JSON, with the web explorer at $explorer
  - stopped the server cleanly (SIGTERM drain)
Where to look:
  - $work/similar.html       the query galaxy and its 12 most similar galaxies (open in a browser)
  - $work/anomalies.html     the 24 most anomalous galaxies
  - $work/quickstart.html    the example notebook, run against this server (galleries, tables)
  - $work/similar.png        the same page, as headless Chromium rendered it
  - $work/explorer.png       the web explorer's page of that galaxy
  - $work/gallery/sheet.png  colour composites of the survey (asinh i,r,g)
  - $work/photoz-baseline.json  sigma_MAD, bias, outlier rate of kNN on colours
  - $work/redshift.png       predicted vs true redshift of the fine-tuned model
  - $work/eval.json          its metrics, overall and per redshift bin
  - $work/server.log         the server's structured log
  - proto/galaxy/v1/galaxy.proto  the API, documented field by field
  - docs/                    architecture and API overview
EOT
