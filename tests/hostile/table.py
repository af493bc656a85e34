"""Print every case of the hostile-input corpus with what `stemdesk separate` made of it.

    PYTHONPATH=. python -m tests.hostile.table
"""

import tempfile
from pathlib import Path

from stemdesk.models import DEFAULT_MODEL, ModelRepo
from tests.hostile.batch import run_batch, short_segment_model


def outcome(result) -> str:
    if result.errors:
        return "error", result.errors[0].split(": ", 3)[-1]
    if result.warnings:
        return "warn", result.warnings[0].split("' ", 1)[-1]
    if result.done:
        return "stems", result.done[0].split(" -> ", 1)[-1]
    return "?", "nothing printed"


def main() -> None:
    card = ModelRepo().get(DEFAULT_MODEL)
    with tempfile.TemporaryDirectory() as temp:
        temp = Path(temp)
        (temp / "in").mkdir()
        (temp / "model").mkdir()
        batch = run_batch(temp / "in", temp / "out", short_segment_model(card.card_path, card.onnx_path, temp / "model"))
        print(f"exit status {batch.status}; {len(batch.results)} cases")
        print(f"| {'case':<26} | {'expected':<8} | {'got':<5} | what was printed")
        print(f"|{'-' * 28}|{'-' * 10}|{'-' * 7}|{'-' * 40}")
        for case_id, result in batch.results.items():
            got, text = outcome(result)
            mark = "" if got == result.case.outcome else " (MISMATCH)"
            print(f"| {case_id:<26} | {result.case.outcome:<8} | {got:<5} | {text[:110]}{mark}")


if __name__ == "__main__":
    main()
