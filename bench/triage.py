"""Benchmark the triage core: quality on the labelled set, safety, throughput.

Run from the project root: ``python bench/triage.py``. No Django needed. The
last line printed is one JSON object for tracking results over time.

The evaluation set (bench/data/triage_eval.jsonl) has two splits: "tune", the
posts the lexicon was written against, and "heldout", written after the lexicon
was frozen and never used to change it. Only heldout numbers estimate quality.
"""

import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from sources.triage.classifier import CATEGORIES, classify  # noqa: E402
from sources.triage.rules import DEFAULT_RULES, MentionFacts, decide  # noqa: E402

EVAL_PATH = PROJECT_ROOT / "bench" / "data" / "triage_eval.jsonl"
THROUGHPUT_CALLS = 20_000


def load_eval_set(path: Path = EVAL_PATH) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def per_category_scores(pairs: list[tuple[str, str]]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support per category from (label, predicted)."""
    true_positive, predicted, actual = Counter(), Counter(), Counter()
    for label, guess in pairs:
        actual[label] += 1
        predicted[guess] += 1
        if label == guess:
            true_positive[label] += 1
    scores = {}
    for category in CATEGORIES:
        precision = (
            true_positive[category] / predicted[category]
            if predicted[category]
            else 0.0
        )
        recall = true_positive[category] / actual[category] if actual[category] else 0.0
        f1 = (
            2 * precision * recall / (precision + recall) if precision + recall else 0.0
        )
        scores[category] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": actual[category],
        }
    return scores


def facts_for(text: str) -> MentionFacts:
    result = classify(text)
    return MentionFacts(
        text=text,
        category=result.category,
        confidence=result.confidence,
        source_kind="twitter",
        author_flags=frozenset(),
        reach=0,
        language=result.language,
    )


def print_scores(title: str, rows: list[dict]) -> dict[str, dict[str, float]]:
    pairs = [(row["label"], classify(row["text"]).category) for row in rows]
    scores = per_category_scores(pairs)
    accuracy = sum(label == guess for label, guess in pairs) / len(pairs)
    print(f"\n{title}: {len(rows)} posts, accuracy {accuracy:.3f}")
    print(f"  {'category':<20} {'prec':>6} {'recall':>6} {'f1':>6} {'n':>4}")
    for category, score in scores.items():
        print(
            f"  {category:<20} {score['precision']:>6.2f} {score['recall']:>6.2f}"
            f" {score['f1']:>6.2f} {score['support']:>4}"
        )
    scores["_accuracy"] = {"value": accuracy}
    return scores


def print_confusion(rows: list[dict]) -> None:
    matrix = Counter((row["label"], classify(row["text"]).category) for row in rows)
    short = {c: c[:6] for c in CATEGORIES}
    print("\nconfusion matrix, heldout (rows: label, columns: predicted)")
    print(" " * 20 + "".join(f"{short[c]:>7}" for c in CATEGORIES))
    for label in CATEGORIES:
        cells = "".join(f"{matrix[(label, guess)]:>7}" for guess in CATEGORIES)
        print(f"  {label:<18}{cells}")


def measure_throughput(texts: list[str], calls: int) -> tuple[float, float]:
    """Mean microseconds per classify+decide, and mentions per second."""
    timings = []
    batch = len(texts)
    done = 0
    while done < calls:
        started = time.perf_counter()
        for text in texts:
            decide(DEFAULT_RULES, facts_for(text))
        timings.append((time.perf_counter() - started) / batch)
        done += batch
    mean_seconds = statistics.fmean(timings)
    return mean_seconds * 1e6, 1 / mean_seconds


def main() -> dict:
    rows = load_eval_set()
    tune = [row for row in rows if row["split"] == "tune"]
    heldout = [row for row in rows if row["split"] == "heldout"]
    print(
        f"evaluation set: {len(rows)} posts ({len(tune)} tune, {len(heldout)} heldout)"
    )

    print_scores("tune", tune)
    heldout_scores = print_scores("heldout", heldout)
    print_confusion(heldout)

    language_hits = sum(classify(r["text"]).language == r["lang"] for r in heldout)
    print(f"\nlanguage detection, heldout: {language_hits / len(heldout):.3f}")

    outcomes: Counter = Counter()
    by_label: dict[str, Counter] = {}
    abuse_auto_engaged = 0
    wrongly_acted = acted = 0
    for row in rows:
        classification = classify(row["text"])
        decision = decide(DEFAULT_RULES, facts_for(row["text"]))
        outcomes[decision.outcome] += 1
        by_label.setdefault(row["label"], Counter())[decision.outcome] += 1
        if row["label"] == "abuse" and decision.outcome in ("engage", "escalate"):
            abuse_auto_engaged += 1
        if decision.outcome != "review":
            acted += 1
            wrongly_acted += classification.category != row["label"]
    print("\ndecisions with DEFAULT_RULES, all posts:", dict(sorted(outcomes.items())))
    for label in CATEGORIES:
        print(f"  {label:<20} {dict(sorted(by_label.get(label, Counter()).items()))}")
    print(
        f"acted on automatically: {acted}/{len(rows)}, of which on a wrong "
        f"category: {wrongly_acted}"
    )
    print(f"abuse posts auto-engaged: {abuse_auto_engaged}")

    texts = [row["text"] for row in rows]
    mean_us, per_second = measure_throughput(texts, THROUGHPUT_CALLS)
    print(
        f"\nthroughput (classify + decide, {THROUGHPUT_CALLS} calls): "
        f"{per_second:,.0f} mentions/s, {mean_us:.1f} us per mention"
    )
    hostile = "a" * 50_000 + "!" * 50_000 + "\x00" * 1000 + "((((" * 5000
    started = time.perf_counter()
    decide(DEFAULT_RULES, facts_for(hostile))
    hostile_ms = (time.perf_counter() - started) * 1000
    print(f"hostile 120k-char input: {hostile_ms:.2f} ms")

    result = {
        "bench": "triage",
        "eval_posts": len(rows),
        "heldout_posts": len(heldout),
        "heldout_accuracy": round(heldout_scores["_accuracy"]["value"], 4),
        "precision_abuse": round(heldout_scores["abuse"]["precision"], 4),
        "precision_phishing": round(heldout_scores["phishing"]["precision"], 4),
        "precision_factual_inaccuracy": round(
            heldout_scores["factual_inaccuracy"]["precision"], 4
        ),
        "abuse_auto_engaged": abuse_auto_engaged,
        "auto_acted": acted,
        "auto_acted_wrong_category": wrongly_acted,
        "mean_us_per_mention": round(mean_us, 1),
        "mentions_per_s": round(per_second),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
