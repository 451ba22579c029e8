"""The results table is generated from results files only, and spliced into a block of README.md or docs/."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

from bioalbert.training.report import build_table, splice, tag_speed_table, throughput_table, write_report
from bioalbert.training.report import main as report_main
from bioalbert.training.results import describe_machine, environment, load_results, write_result

from conftest import REPO


def record(model, dataset, entity_f1, token_f1, std=0.0):
    return {"model": model, "dataset": dataset, "split": "test", "seeds": [13, 42],
            "entity": {"f1": entity_f1, "f1_std": std}, "token": {"f1": token_f1},
            "runs": [{"seed": 13, "epochs": 3.0}], "training": {"train_wall_time_s": 150.0}}


def test_table_shows_each_models_scores_and_the_published_reference(tmp_path):
    write_result(record("ours", "ncbi_disease", 0.8123, 0.9011, std=0.0042), tmp_path)
    write_result(record("peer", "ncbi_disease", 0.7002, 0.8), tmp_path)
    write_result(record("ours", "s800", 0.5, 0.6), tmp_path)

    table, rows = build_table(tmp_path, ["ours"], "peer")

    lines = table.splitlines()
    assert lines[0].startswith("| dataset | ours entity F1 | ours token F1 | ours epochs / train min | peer entity F1 |")
    ncbi = next(line for line in lines if line.startswith("| ncbi_disease"))
    assert "81.23 ± 0.42" in ncbi and "90.11" in ncbi and "70.02" in ncbi and "88.30" in ncbi and "3 / 2.5" in ncbi
    assert "| +11.21 |" in ncbi  # how far ours is ahead of (or, negative, behind) the peer
    s800 = next(line for line in lines if line.startswith("| s800"))
    assert "| – |" in s800  # no peer result there: a dash, never a made-up number
    assert [row["dataset"] for row in rows] == ["ncbi_disease", "s800"]  # datasets nobody ran are left out

    table, rows = build_table(tmp_path, ["ours"], "peer", datasets=["s800"])  # --datasets: those rows only
    assert [row["dataset"] for row in rows] == ["s800"] and "ncbi_disease" not in table


def test_several_models_show_how_far_the_first_is_from_each_other(tmp_path):
    write_result(record("joint", "ncbi_disease", 0.70, 0.8), tmp_path)
    write_result(record("single", "ncbi_disease", 0.7250, 0.8), tmp_path)
    write_result(record("joint", "s800", 0.5, 0.6), tmp_path)
    table, _ = build_table(tmp_path, ["joint", "single"], "peer")
    header, _, ncbi, s800 = table.splitlines()
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    gap = columns.index("joint − single (entity F1 points)")
    assert gap < columns.index("peer entity F1")
    assert [cell.strip() for cell in ncbi.strip("|").split("|")][gap] == "-2.50"
    assert [cell.strip() for cell in s800.strip("|").split("|")][gap] == "–"  # no single-task result there


def test_dev_column_shows_what_model_selection_saw(tmp_path):
    result = record("ours", "ncbi_disease", 0.5, 0.6)
    result["runs"] = [{"seed": seed, "epochs": 3.0, "dev_entity_f1": f1} for seed, f1 in [(13, 0.40), (42, 0.44)]]
    write_result(result, tmp_path)
    table, _ = build_table(tmp_path, ["ours"], None, dev=True)
    header, _, ncbi = table.splitlines()
    assert header.startswith("| dataset | ours devel entity F1 | ours entity F1 |")
    assert ncbi.startswith("| ncbi_disease | 42.00 ± 2.83 | 50.00 |")


def test_machine_description_names_the_cpu_model_where_it_was_recorded():
    recorded = environment()["machine"]
    assert describe_machine(recorded).startswith(f"{recorded['cpu_count']} CPU cores (")
    if recorded["cpu_model"]:  # Linux: /proc/cpuinfo names it
        assert recorded["cpu_model"] in describe_machine(recorded)
    older = {"processor": "x86_64", "cpu_count": 2, "gpu": None}  # results written before the field existed
    assert describe_machine(older) == "2 CPU cores (x86_64), no GPU"
    assert describe_machine({**older, "cpu_model": "AMD EPYC"}) == "2 CPU cores (x86_64, AMD EPYC), no GPU"


def test_write_report_splices_only_its_block(tmp_path):
    write_result(record("ours", "bc5cdr_chem", 0.9, 0.95), tmp_path / "results")
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:begin -->\nold table\n<!-- results:end -->\noutro\n")

    write_report(tmp_path / "results", ["ours"], readme=readme, preamble="Recipe x.")

    text = readme.read_text()
    assert text.startswith("intro\n<!-- results:begin -->\nRecipe x.") and text.endswith("<!-- results:end -->\noutro\n")
    assert "old table" not in text and "90.00" in text
    assert (tmp_path / "results" / "results.png").stat().st_size > 0
    assert json.loads((tmp_path / "results" / "results.json").read_text())["rows"][0]["dataset"] == "bc5cdr_chem"


def test_links_point_from_the_file_written_and_only_its_own_figure_blocks_are_refreshed(tmp_path, monkeypatch):
    """The README holds the `results` block, docs/*.md the rest: a figure block is refreshed where it stands, and
    every image link is relative to the file it is written into (docs/ links climb to ../results/)."""
    monkeypatch.chdir(tmp_path)
    write_result(record("ours", "bc5cdr_chem", 0.9, 0.95), "results")
    run = {"name": "run", "variant": "tiny-pubmed", "global_step": 10, "train_batch_size_global": 32, "epochs": 0.1,
           "tokens_seen_non_padding": 40960, "train_runtime_s": 60.0, "final": {"eval_mlm_accuracy": 0.1}}
    Path("results/pretraining").mkdir()
    Path("results/pretraining/run.json").write_text(json.dumps(run))
    Path("docs").mkdir()
    research, readme = Path("docs/research.md"), Path("README.md")
    research.write_text("<!-- cpu:begin -->\n<!-- cpu:end -->\n<!-- pretraining:begin -->\nold\n<!-- pretraining:end -->\n")
    readme.write_text("<!-- results:begin -->\n<!-- results:end -->\n")

    write_report("results", ["ours"], out_dir="results/reproduce/x", readme=research, block="cpu")
    write_report("results", ["ours"], out_dir="results/reproduce/x", readme=readme)  # no figure block: not an error

    assert "(../results/reproduce/x/results.png)" in research.read_text()
    assert "(../results/pretraining/run.png)" in research.read_text() and "old" not in research.read_text()
    assert "(results/reproduce/x/results.png)" in readme.read_text() and "pretraining" not in readme.read_text()
    assert "(results.png)" in Path("results/reproduce/x/results.md").read_text()
    assert report_main(["--readme", "docs/research.md"]) == 0
    with pytest.raises(SystemExit):  # a file without figure blocks: nothing to refresh is an error, not a no-op
        report_main(["--readme", "README.md"])


def test_missing_block_is_an_error_naming_it(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="comparison:begin"):
        splice(readme, "table", "comparison")


def test_results_file_missing_a_key_is_named(tmp_path):
    with pytest.raises(ValueError, match="token"):
        write_result({"model": "m", "dataset": "d", "split": "test", "entity": {}}, tmp_path)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "d.json").write_text("{broken")
    with pytest.raises(ValueError, match="d.json"):
        load_results(tmp_path)


def test_tag_speed_table_gives_each_system_its_ratio_to_spacys_best_batch(tmp_path):
    rows = [{"system": "spacy", "batch_size": 1, "words_per_s": 800, "peak_mb": 300.0},
            {"system": "spacy", "batch_size": 32, "words_per_s": 1000, "peak_mb": 310.0},
            {"system": "bioalbert-tiny", "batch_size": 32, "words_per_s": 2500, "peak_mb": 420.4},
            {"system": "bioalbert-ncbi-int8", "batch_size": 32, "words_per_s": 3100, "peak_mb": 400.0, "entity_f1": 0.71234}]
    figures = tmp_path / "benchmarks" / "tag_speed.json"
    figures.parent.mkdir(parents=True)
    figures.write_text(json.dumps({"machine": "x86_64, 2 cores", "versions": {"torch": "2.13.0"}, "threads": 2,
                                   "texts": 940, "words": 24497, "rows": rows}))

    lines = tag_speed_table(tmp_path).splitlines()

    assert lines[0].startswith("24,497 words in 940 texts; x86_64, 2 cores; 2 torch threads; torch 2.13.0")
    assert "| bioalbert-tiny | 32 | 2,500 | 420 | 2.50x | – |" in lines
    assert "| spacy | 1 | 800 | 300 | 0.80x | – |" in lines
    assert "| bioalbert-ncbi-int8 | 32 | 3,100 | 400 | 3.10x | 71.23 |" in lines
    assert tag_speed_table(tmp_path / "nothing-here") == ""


def test_throughput_table_is_generated_from_a_real_benchmark_run(tmp_path):
    spec = importlib.util.spec_from_file_location("pretrain_throughput", REPO / "benchmarks" / "pretrain_throughput.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    figures = tmp_path / "benchmarks" / "pretrain_throughput" / "micro.json"

    benchmark.main(["--preset", "tiny", "--batch-size", "2", "--seq-len", "16", "--vocab-size", "500", "--steps", "1",
                    "--warmup", "0", "--compile", "off", "--device", "cpu", "--json", str(figures)])

    run = json.loads(figures.read_text())
    assert len(run["load_average"]) == 2 and run["machine"]["cpu_count"] >= 1
    ours, stock = run["results"]["bioalbert/compile=off"], run["results"]["stock/compile=off"]
    # The ratio is stored to 2 decimals: a small one (a loaded machine) is off by up to 0.005 from its rounding alone.
    assert run["results"]["ratio/compile=off"] == pytest.approx(stock["step_s"] / ours["step_s"], rel=0.05, abs=0.006)
    [row] = [line for line in throughput_table(tmp_path).splitlines() if line.startswith("| tiny")]
    assert row.startswith(f"| tiny (2 x 16) | fp32 | off | {ours['tokens_per_s']:,.0f} | {stock['tokens_per_s']:,.0f} | "
                          f"{run['results']['ratio/compile=off']:.2f}x | – | ")  # MFU only for a known bf16 peak
    assert throughput_table(tmp_path / "nothing-here") == ""


def test_benchmark_flops_per_token_match_torch_flop_counter():
    """MFU's numerator: the formula must count what the model really computes (eager attention, so that the
    attention products are visible to the counter), MLM head at the masked positions only."""
    from torch.utils.flop_counter import FlopCounterMode

    from bioalbert.modeling import BioAlbertConfig, BioAlbertForPreTraining

    spec = importlib.util.spec_from_file_location("pretrain_throughput", REPO / "benchmarks" / "pretrain_throughput.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    config = BioAlbertConfig.from_preset("tiny", vocab_size=500, attn_implementation="eager")
    batch = benchmark.make_batch(4, 64, 500, 0.15, "cpu")
    masked_share = (batch["labels"] != -100).float().mean().item()

    with FlopCounterMode(display=False) as counter:
        BioAlbertForPreTraining(config)(**batch)

    counted = counter.get_total_flops() / batch["input_ids"].numel()
    # The formula leaves out the pooler and SOP classifier (once per sequence): well under 0.1% here.
    assert benchmark.forward_flops_per_token(config, 64, masked_share) == pytest.approx(counted, rel=1e-3)


def test_tag_speed_builds_one_model_per_benchmark_with_its_own_labels(tmp_path, data_dir):
    spec = importlib.util.spec_from_file_location("tag_speed", REPO / "benchmarks" / "tag_speed.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)

    paths = benchmark.single_task_models(REPO / "models" / "bioalbert-tiny-pubmed-task", tmp_path, data_dir)

    labels = {Path(path).name: set(json.loads((Path(path) / "config.json").read_text())["id2label"].values())
              for path in paths}
    assert len(paths) == 7  # what a user runs one after another to get every type without the all-types model
    assert labels["single-bc5cdr_chem"] == {"O", "B-Chemical", "I-Chemical"}
    assert labels["single-jnlpba"] == {"O"} | {f"{p}-{t}" for p in "BI" for t in ("protein", "DNA", "RNA", "cell_line", "cell_type")}


def test_readme_results_fit_one_screen():
    """A reader looking for "how good is it" gets at most three sentences and one table of at most six columns, and
    the README stays short enough to read (other work goes to docs/)."""
    readme = Path("README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    block = readme.split("<!-- results:begin -->")[1].split("<!-- results:end -->")[0].strip()
    prose, _, table = block.partition("\n|")
    sentences = re.findall(r"[.!?](?:\s|$)", prose.strip())
    assert 1 <= len(sentences) <= 3, prose
    lines = ("|" + table).splitlines()
    assert all(line.startswith("|") for line in lines)  # one table, nothing after it
    assert len(lines[0].strip().strip("|").split("|")) <= 6
