"""Documents: extraction throughput, and chunk + rank + budget time on a large corpus.

- PDF: pages/s reading a generated 300-page text PDF with PDFium (and with pypdf,
  when installed, for the choice of library).
- Text: MB/s reading a generated UTF-8 file and a cp1252 one (the second goes
  through charset-normalizer's detection).
- Corpus: a ~1M-token text (SmolLM2's tokenizer counts it when --model is given or the
  test model is cached): time to count it, to chunk and BM25-rank it, and a full
  passages decision for a 16k context.

`make_corpus(folder)` and `extraction_job(paths)` are the workload for a GUI stall
measure (extraction on a worker thread while the window repaints); --gui runs that
measure in a real window (bench/documents_gui.py) and --gui-only skips the rest.

    python bench/documents.py [--model PATH] [--pages 300] [--corpus-mb 6] [--gui | --gui-only]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.documents import ExtractionJob, extract_file, plan_context  # noqa: E402
from app.core.documents.chunking import chunk_documents  # noqa: E402
from app.core.documents.model import Document  # noqa: E402
from app.core.documents.ranking import rank  # noqa: E402

WORDS = ("harbour river lantern market engine garden letter window summer stone ledger account balance "
         "invoice shipment quarter revenue customer contract meeting budget forecast").split()


def prose(rng: random.Random, n_words: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n_words)]
    lines = [" ".join(words[i:i + 12]) + "." for i in range(0, len(words), 12)]
    return "\n".join(lines)


def make_pdf(path: Path, pages: int, seed: int = 0) -> Path:
    from fpdf import FPDF  # test extra: only the benchmark and tests write PDFs

    rng = random.Random(seed)
    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for p in range(pages):
        pdf.add_page()
        pdf.multi_cell(0, 5, f"Page {p + 1}\n" + prose(rng, 400))
    path.write_bytes(bytes(pdf.output()))
    return path


def make_text(path: Path, mb: float, encoding: str = "utf-8", seed: int = 1) -> Path:
    rng = random.Random(seed)
    extra = " café naïve façade — “quoted”"
    parts, size = [], 0
    while size < mb * 2**20:
        line = prose(rng, 60) + extra + "\n"
        parts.append(line)
        size += len(line)
    path.write_bytes("".join(parts).encode(encoding))
    return path


def make_corpus(folder: Path, pdf_pages: int = 300, text_mb: float = 8.0) -> list[Path]:
    """Files for an extraction workload: a long PDF, a UTF-8 and a cp1252 text file."""
    folder.mkdir(parents=True, exist_ok=True)
    return [make_pdf(folder / "long.pdf", pdf_pages), make_text(folder / "big.txt", text_mb),
            make_text(folder / "legacy.txt", text_mb / 4, "cp1252")]


def extraction_job(paths: list[Path], on_progress=None, cancel=None) -> list[Document]:
    """What the GUI runs on its worker thread, for a stall measure to call."""
    return ExtractionJob(paths, on_progress=on_progress, cancel=cancel).run()


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def bench_pdf(folder: Path, pages: int) -> dict:
    path = make_pdf(folder / "bench.pdf", pages)
    doc, seconds = _timed(lambda: extract_file(path))
    out = {"pages": doc.pages, "seconds": round(seconds, 3), "pages_per_s": round(doc.pages / seconds, 1)}
    try:
        import pypdf
    except ImportError:
        return out
    reader_pages, pypdf_s = _timed(lambda: [p.extract_text() for p in pypdf.PdfReader(path).pages])
    out["pypdf_pages_per_s"] = round(len(reader_pages) / pypdf_s, 1)
    return out


def bench_text(folder: Path, mb: float) -> dict:
    out = {}
    for encoding in ("utf-8", "cp1252"):
        path = make_text(folder / f"bench-{encoding}.txt", mb, encoding)
        doc, seconds = _timed(lambda: extract_file(path))
        assert doc.encoding == encoding, (doc.encoding, doc.error)
        out[encoding] = {"mb": round(path.stat().st_size / 2**20, 1), "seconds": round(seconds, 3),
                         "mb_per_s": round(path.stat().st_size / 2**20 / seconds, 1)}
    return out


def bench_corpus(mb: float, model: Path | None) -> dict:
    text = make_text(Path(tempfile.mkdtemp()) / "corpus.txt", mb).read_text(encoding="utf-8")
    doc = Document("corpus.txt", size=len(text), format="text", sha256="x" * 64, text=text)
    question = "What did the invoice say about the shipment for the harbour customer?"
    out = {"chars": len(text)}
    chunks, out["chunk_s"] = _timed(lambda: chunk_documents([text]))
    out["chunks"] = len(chunks)
    _, out["rank_s"] = _timed(lambda: rank([text[c.start:c.end] for c in chunks], question))
    engine = None
    if model is not None:
        from app.core.engine import LlamaEngine, LoadParams

        engine = LlamaEngine(model, LoadParams())  # tokenizing only: the context size does not matter
        count = lambda s: len(engine.tokenize(s, starts_prompt=False))  # noqa: E731
        out["tokenizer"] = model.name
    else:
        count = lambda s: len(s) // 4  # noqa: E731
        out["tokenizer"] = "chars/4 (no model)"
    try:
        out["tokens"], out["count_s"] = _timed(lambda: count(text))
        plan, out["plan_s"] = _timed(lambda: plan_context([doc], question, count, context_size=16384,
                                                          base_tokens=400, reply_reserve=4096))
        out["plan_passages"] = len(plan.documents[0].passages)
        out["plan_used_tokens"] = plan.used_tokens
    finally:
        if engine is not None:
            engine.close()
    for key in ("chunk_s", "rank_s", "count_s", "plan_s"):
        out[key] = round(out[key], 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="GGUF whose tokenizer counts (default: test model)")
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--text-mb", type=float, default=20.0)
    parser.add_argument("--corpus-mb", type=float, default=6.0, help="~6 MB of this text is ~1M SmolLM2 tokens")
    parser.add_argument("--gui", action="store_true", help="also: GUI stalls while the PDF is read in a window")
    parser.add_argument("--gui-only", action="store_true", help="only the GUI stall measure")
    args = parser.parse_args()
    model = args.model
    if model is None:
        cached = Path.home() / ".cache" / "ponder-tests" / "SmolLM2-135M-Instruct.Q4_1.gguf"
        model = cached if cached.is_file() else None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        result = {} if args.gui_only else {
            "pdf": bench_pdf(folder, args.pages),
            "text": bench_text(folder, args.text_mb),
            "corpus": bench_corpus(args.corpus_mb, model),
        }
        if args.gui or args.gui_only:
            from bench.documents_gui import gui_stalls

            result["gui"] = gui_stalls(folder, make_pdf(folder / "gui.pdf", args.pages, seed=2), model)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
