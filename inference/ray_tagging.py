"""`bioalbert tag-ray`: tags a sharded corpus (JSONL or parquet files holding an id and a text column) on a Ray
cluster, with Ray Data: the shards are read as a stream of blocks, `map_batches` sends batches of rows to a pool
of actors that each load one Tagger once, and the tagged rows are written as JSONL or parquet shards.

    bioalbert tag-ray --input 'shards/*.jsonl' --output-dir tagged/                 # a local Ray on this machine
    RAY_ADDRESS=auto bioalbert tag-ray --input 's3://bucket/pubmed/*.parquet' --output-dir s3://bucket/out \
        --actors 64 --threads 2                               # on a node of a running cluster (docs/corpus-tagging.md)

Why Ray rather than Spark: tagging is a Python model held in memory per worker, which is what Ray's actors are
(a stateful Python process, the model loaded once in `__init__`, batches streamed to it, back-pressure included);
Spark would need a JVM on every node and a pandas UDF that reloads or caches the model per executor behind Arrow
serialisation between the JVM and Python. Ray Data installs with pip (the `ray` extra), runs the same code on one
machine (`ray.init(num_cpus=2)`, what the test does) and on a cluster (`ray.init(address=...)` / `RAY_ADDRESS`),
and reads and writes the usual shard formats on local disks or object stores.

Output rows: {"id", "text", "entities": [{"start", "end", "text", "label", "score", "model"}]}, the same entities
as `bioalbert tag` (offsets into "text"). Shards are named by Ray; documents keep their ids, not their order.
"""

import argparse
import glob
import os
import sys

from .formats import TYPE_NAMES, rename_types
from .shipped import default_ner_model


def entity_type():
    import pyarrow as pa

    # An explicit schema: a batch whose documents have no entities would otherwise be inferred as list<null>,
    # which does not merge with the list<struct> of other batches.
    return pa.list_(pa.struct([("start", pa.int64()), ("end", pa.int64()), ("text", pa.string()), ("label", pa.string()),
                               ("score", pa.float64()), ("model", pa.string())]))


class TaggerActor:
    """One Ray actor: one Tagger, loaded once, tagging the batches Ray Data sends it (pyarrow tables)."""

    def __init__(self, models: list[str], text_column: str, id_column: str, threads: int, type_names: str = "model",
                 tagger_kwargs: dict | None = None):
        import torch

        from .tagger import Tagger

        torch.set_num_threads(threads)
        self.text_column, self.id_column, self.type_names = text_column, id_column, type_names
        self.tagger = Tagger(models, **(tagger_kwargs or {}))

    def __call__(self, batch):
        import pyarrow as pa

        texts = [text or "" for text in batch.column(self.text_column).to_pylist()]
        found = self.tagger.tag(texts)
        entities = [[entity.to_dict() for entity in rename_types(doc, self.type_names)] for doc in found]
        ids = [str(value) for value in batch.column(self.id_column).to_pylist()]
        return pa.table({"id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.string()),
                         "entities": pa.array(entities, entity_type())})


def shard_paths(patterns: list[str]) -> list[str]:
    """Local glob patterns expanded (sorted); remote URIs (s3://, gs://...) passed to Ray as they are."""
    paths = []
    for pattern in patterns:
        if "://" in pattern:
            paths.append(pattern)
            continue
        matched = sorted(glob.glob(pattern)) or ([pattern] if os.path.exists(pattern) else [])
        if not matched:
            raise FileNotFoundError(f"{pattern}: no input shard matches")
        paths += matched
    return paths


def shard_format(paths: list[str], given: str | None) -> str:
    if given:
        return given
    kinds = {"parquet" if path.rstrip("/").endswith(".parquet") else "jsonl" for path in paths}
    if len(kinds) > 1:
        raise ValueError("the inputs mix parquet and JSONL shards; give --input-format")
    return kinds.pop()


def tag_with_ray(inputs: list[str], output_dir: str, *, models: list[str] | None = None, text_column: str = "text",
                 id_column: str = "id", input_format: str | None = None, output_format: str = "jsonl",
                 actors: int = 2, threads: int = 1, batch_size: int = 64, type_names: str = "model",
                 address: str | None = None, num_cpus: int | None = None, tagger_kwargs: dict | None = None) -> int:
    """Tags the shards into `output_dir`; returns the number of documents written. Connects to the cluster at
    `address` (or RAY_ADDRESS), else starts a local one with `num_cpus` logical CPUs (default: this machine's)."""
    import ray

    paths = shard_paths(inputs)
    kind = shard_format(paths, input_format)
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address)
        else:
            # Ray schedules by logical CPUs: the actors hold actors x threads of them for the whole run, and the read
            # and write tasks need one more, or the pipeline waits forever for a free CPU (those tasks mostly wait
            # on I/O, so one logical CPU beyond the cores costs little).
            ray.init(num_cpus=num_cpus or max(os.cpu_count() or 1, actors * threads + 1), include_dashboard=False)
    rows = ray.data.read_parquet(paths) if kind == "parquet" else ray.data.read_json(paths, lines=True)
    columns = rows.columns() if kind == "parquet" else None
    if columns is not None and text_column not in columns:
        raise ValueError(f"the shards have no column {text_column!r} (columns: {', '.join(columns)})")
    tagged = rows.map_batches(
        TaggerActor,
        fn_constructor_kwargs=dict(models=models or [default_ner_model()], text_column=text_column, id_column=id_column,
                                   threads=threads, type_names=type_names, tagger_kwargs=tagger_kwargs),
        batch_size=batch_size, batch_format="pyarrow", concurrency=actors, num_cpus=threads,
    )
    if output_format == "parquet":
        tagged.write_parquet(output_dir)
    else:
        tagged.write_json(output_dir, force_ascii=False)
    return sum(1 for _ in _written_rows(output_dir, output_format))


def _written_rows(output_dir: str, output_format: str):
    """Counts what was written (local outputs only; a remote output is not read back)."""
    if "://" in output_dir:
        return iter(())
    import pyarrow.parquet as pq

    for path in sorted(glob.glob(os.path.join(output_dir, "*"))):
        if output_format == "parquet" and path.endswith(".parquet"):
            yield from range(pq.ParquetFile(path).metadata.num_rows)
        elif output_format == "jsonl" and path.endswith(".json"):
            with open(path, encoding="utf-8") as handle:
                yield from (line for line in handle if line.strip())


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="bioalbert tag-ray", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", action="append", required=True,
                        help="Shards: a file, a glob ('shards/*.jsonl') or a remote URI; repeat for several.")
    parser.add_argument("--output-dir", required=True, help="Where the tagged shards go (local folder or remote URI).")
    parser.add_argument("--input-format", choices=("jsonl", "parquet"), help="Default: from the file names.")
    parser.add_argument("--format", choices=("jsonl", "parquet"), default="jsonl", help="Output shards (default jsonl).")
    parser.add_argument("--text-column", default="text", help="Column holding the text (default: text).")
    parser.add_argument("--id-column", default="id", help="Column holding the document id (default: id).")
    parser.add_argument("--model", action="append", help="Fine-tuned folder or Hub id, on every node; repeat for "
                        "several (default: the shipped all-types model).")
    parser.add_argument("--actors", type=int, default=2, help="Tagger actors, each with its own model (default 2).")
    parser.add_argument("--threads", type=int, default=1, help="Torch threads (and Ray CPUs) per actor (default 1).")
    parser.add_argument("--batch-size", type=int, default=64, help="Documents per batch sent to an actor (default 64).")
    parser.add_argument("--type-names", choices=tuple(TYPE_NAMES), default="model", help="As for bioalbert tag.")
    parser.add_argument("--address", help="A running Ray cluster (default: RAY_ADDRESS, else a local Ray).")
    parser.add_argument("--num-cpus", type=int, help="Logical CPUs of the local Ray (default: this machine's, and at "
                        "least actors x threads + 1 for the read and write tasks).")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import ray.data  # noqa: F401
    except ImportError:
        print("bioalbert tag-ray: error: Ray Data is not installed: pip install 'bioalbert[ray]'", file=sys.stderr)
        return 2
    count = tag_with_ray(args.input, args.output_dir, models=args.model, text_column=args.text_column,
                         id_column=args.id_column, input_format=args.input_format, output_format=args.format,
                         actors=args.actors, threads=args.threads, batch_size=args.batch_size,
                         type_names=args.type_names, address=args.address, num_cpus=args.num_cpus)
    print(f"bioalbert tag-ray: {count} documents tagged into {args.output_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
