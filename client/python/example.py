#!/usr/bin/env python3
"""galaxy-search from Python: query by catalog ID, by a numpy image, by several examples, and
few-shot search over the whole catalog.

    PYTHONPATH=client/python python3 client/python/example.py --server 127.0.0.1:50051 [--id ID]

Without --id it takes the most anomalous galaxy of the snapshot as the query.
"""

import argparse
import sys

import numpy as np

from galaxy_search import Client, GalaxySearchError


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="127.0.0.1:50051")
    parser.add_argument("--id", type=int, help="catalog ID of the query galaxy")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--token-file")
    parser.add_argument("--tls-ca")
    args = parser.parse_args()

    with Client(args.server, token_file=args.token_file, tls_ca=args.tls_ca) as client:
        info = client.info()
        print(f"snapshot {info.snapshot_version}: {info.count} galaxies, {info.dimension}-d embeddings, "
              f"model {info.model.arch}")
        query_id = args.id if args.id is not None else client.list_anomalies(top=1)[0].id

        # 1. By catalog ID: the stored embedding; the galaxy itself is left out.
        by_id = client.similar(id=query_id, k=args.k)
        print(f"\nthe {args.k} galaxies most like {query_id}:")
        for n in by_id.neighbors:
            z = n.galaxy.specz if n.galaxy.HasField("specz") else float("nan")
            print(f"  {n.rank:2d}  {n.id:<20d} similarity {n.score:.4f}  z {z:.4f}")

        # 2. By image: a numpy array (bands x height x width, nanomaggies), here the galaxy's own
        #    cutout fetched from the server; it should find the galaxy itself first.
        record = client.galaxy(query_id, include_image=True)
        cube = np.array(record.image)   # numpy float32, bands x height x width
        print(f"\nits cutout: numpy {cube.dtype} {cube.shape}, E(B-V) {record.e_bv:.4f}")
        by_image = client.similar(image=cube, e_bv=record.e_bv, k=args.k)
        first = by_image.neighbors[0]
        print(f"by image: nearest {first.id} (similarity {first.score:.4f})"
              f"{' = the galaxy itself' if first.id == query_id else ''}")

        # 3. Redshift and anomaly score of the same image.
        z = client.predict_redshift(images=[cube * 1.0], include_pdf=True).predictions[0]
        if z.status.code == 0:
            print(f"photometric redshift {z.z_phot:.4f} ± {z.z_phot_err:.4f} (pdf of {len(z.pdf)} bins)")
        a = client.anomaly(id=query_id)
        print(f"anomaly score {a.score:.5f}, percentile {a.percentile:.2f}")

        # 4. Several examples at once: galaxies like the query and its two nearest neighbours,
        #    unlike the snapshot's most anomalous galaxy (at half weight). No example comes back.
        examples = [query_id] + [n.id for n in by_id.neighbors[:2]]
        unlike = client.list_anomalies(top=1)[0].id
        recommended = client.recommend(positives=examples, negatives=[{"id": unlike, "weight": 0.5}],
                                       strategy="best-score", k=args.k)
        returned = [n.id for n in recommended.neighbors]
        clean = not set(returned) & set(examples + [unlike])
        print(f"\nlike {examples}, unlike {unlike}: {returned}"
              f"{' (no example among them)' if clean else ' (an example came back!)'}")

        # 5. Few-shot search: a classifier trained on those examples (against 1000 random galaxies)
        #    ranks the whole catalog; the best five, with their probabilities.
        ranked = client.rank(positives=examples, top=args.k)
        c = ranked.classifier
        print(f"\nranked {ranked.total_count} galaxies by a classifier of {c.positives} positives and "
              f"{c.negatives} negatives (training accuracy {c.training_accuracy:.2f}):")
        for g in ranked.galaxies:
            print(f"  {g.rank:2d}  {g.id:<20d} probability {g.probability:.3f}")
        ranked_clean = not {g.id for g in ranked.galaxies} & set(examples)

        # 6. Labels, kept by the server: mark the examples, then rank from "all galaxies labelled".
        client.add_labels(examples, class_name="like-the-query", comment="from example.py")
        by_label = client.rank(positive_labels=["like-the-query"], top=args.k)
        labelled = client.labels(class_name="like-the-query")
        print(f"labelled {len(labelled)} galaxies; ranked from the label: {[g.id for g in by_label.galaxies]}")
        csv_text = client.export_labels(class_name="like-the-query")
        # The anomaly listing re-ranked by interest labels: the most anomalous galaxy, marked not
        # interesting, sinks.
        most = client.list_anomalies(top=1)[0].id
        client.add_labels([most], interest="not-interesting")
        after = client.list_anomalies(top=1, rerank_by_labels=True)[0].id
        print(f"most anomalous {most}; marked not interesting, the re-ranked listing starts with {after}")
        client.delete_labels([most])
        deleted = client.delete_labels(examples, "like-the-query")
        print(f"exported {csv_text.count(chr(10)) - 1} labels as CSV; deleted {deleted}")
        labels_ok = (len(labelled) == len(examples) and by_label.classifier.positives == len(examples)
                     and not {g.id for g in by_label.galaxies} & set(examples) and after != most)

        # 7. Errors are exceptions with the server's code and message.
        try:
            client.similar(id=42)
        except GalaxySearchError as e:
            print(f"as expected, an unknown ID: {e}")
        ok = first.id == query_id and clean and len(returned) == args.k
        return 0 if ok and ranked_clean and labels_ok and len(ranked.galaxies) == args.k else 1


if __name__ == "__main__":
    sys.exit(main())
