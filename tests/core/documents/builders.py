"""Document files for tests, written by real libraries (fpdf2, python-docx)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
from fpdf import FPDF
from PIL import Image

JAPANESE = (
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所で"
    "ニャーニャー泣いていた事だけは記憶している。吾輩はここで始めて人間というものを見た。\n"
) * 5
CHINESE = (
    "道可道，非常道。名可名，非常名。无名天地之始；有名万物之母。故常无欲，以观其妙；常有欲，以观其徼。"
    "此两者，同出而异名，同谓之玄。玄之又玄，众妙之门。\n"
) * 5
FRENCH = (
    "Le café était délicieux — « très bon », disait-il. Naïve façon de penser; l’été dernier, "
    "à Noël, où était-il? Œuvre complète.\n"
) * 5


def _pdf() -> FPDF:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.set_auto_page_break(False)
    return pdf


def make_pdf(path: Path, pages: list[str], user_password: str | None = None) -> Path:
    """One PDF page per string, each string's lines as text lines."""
    pdf = _pdf()
    for text in pages:
        pdf.add_page()
        pdf.set_xy(10, 10)
        for line in text.split("\n"):
            pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    if user_password is not None:
        pdf.set_encryption(owner_password="owner-" + user_password, user_password=user_password)
    path.write_bytes(bytes(pdf.output()))
    return path


def make_image_pdf(path: Path, pages: int = 2) -> Path:
    """A 'scan': pages holding only a picture, no text layer."""
    pdf = _pdf()
    for i in range(pages):
        pdf.add_page()
        img = Image.new("RGB", (200, 100), (255, 255, 255 - 40 * i))
        pdf.image(img, x=10, y=10, w=100)
    path.write_bytes(bytes(pdf.output()))
    return path


def make_docx(path: Path, paragraphs: list[str], table: list[list[str]] | None = None) -> Path:
    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    if table:
        t = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                t.cell(r, c).text = value
    document.add_paragraph("The end.")
    document.save(str(path))
    return path


def make_docx_bomb(path: Path, unpacked_mb: int = 210) -> Path:
    """A valid .docx plus a part of zeros that unpacks to `unpacked_mb` MB from ~0.2 MB."""
    buf = io.BytesIO()
    docx.Document().save(buf)
    with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("word/media/padding.bin", "w", force_zip64=True) as member:
            block = bytes(1 << 20)
            for _ in range(unpacked_mb):
                member.write(block)
    path.write_bytes(buf.getvalue())
    return path


def make_docx_xml_edit(path: Path, paragraphs: list[str], table: list[list[str]], edit) -> Path:
    """A .docx made by python-docx whose document.xml is then passed through `edit`
    (str -> str), for markup python-docx would never write itself."""
    made = make_docx(path.with_suffix(".orig.docx"), paragraphs, table)
    with zipfile.ZipFile(made) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "word/document.xml":
                data = edit(data.decode("utf-8")).encode("utf-8")
            dst.writestr(info.filename, data)
    made.unlink()
    return path


def make_many_pages_pdf(path: Path, pages: int) -> Path:
    """A valid PDF of `pages` empty pages written by hand (fpdf2 would take minutes):
    about 50 bytes a page, as a hostile file can make them."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages, b" ".join(b"%d 0 R" % (i + 3) for i in range(pages)))]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>"] * pages
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path
