"""Binding a PDF from parts without drawing anything: pages already set (by matplotlib, in this
process or another) and chart PNGs, whose compressed pixels go into the PDF as they are.

No matplotlib here: the process that only binds (e.g. the run command's main process, while
helpers draw) never imports it. pypdf is imported when a PDF is bound.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

#: Page size of every report page, in points (reports.style.FIGSIZE, 12 x 6.75 inches).
PAGE = (12.0 * 72, 6.75 * 72)


@dataclass(frozen=True)
class PngPage:
    """A page that shows a PNG over the whole page (a chart, drawn once for its PNG file and the
    PDF alike): its compressed pixels go into the PDF as they are, not encoded again."""

    png: bytes


def bind(order: list, title: str) -> bytes:
    """One PDF of ``order``: ``("pdf", (bytes, page index))`` pages of other PDFs and ``("png",
    bytes)`` chart pages, in that order (deterministic: no dates, no random file ID)."""
    from pypdf import PdfReader, PdfWriter
    readers: dict = {}
    writer = PdfWriter()
    for kind, what in order:
        if kind == "png":
            _png_page(writer, what)
            continue
        data, k = what
        if id(data) not in readers:
            readers[id(data)] = (data, PdfReader(io.BytesIO(data)))
        writer.add_page(readers[id(data)][1].pages[k])
    writer.add_metadata({"/Title": title, "/Creator": "Rotation Lab", "/Producer": "Rotation Lab (matplotlib, pypdf)"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _png_rgb(png: bytes) -> tuple[int, int, bytes]:
    """``(width, height, zlib stream)`` of an 8-bit RGB, non-interlaced PNG (the IDAT chunks, whose
    rows carry their PNG filters: a PDF reads them with the PNG predictor). Any other PNG is
    converted to one first."""
    if png[:8] == b"\x89PNG\r\n\x1a\n":
        pos, width, height, rgb, idat = 8, 0, 0, False, []
        while pos + 8 <= len(png):
            length, kind = struct.unpack(">I4s", png[pos:pos + 8])
            data = png[pos + 8:pos + 8 + length]
            if kind == b"IHDR":
                width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", data)
                rgb = depth == 8 and color == 2 and interlace == 0
            elif kind == b"IDAT":
                idat.append(data)
            elif kind == b"IEND":
                break
            pos += 12 + length
        if rgb and idat:
            return width, height, b"".join(idat)
    from PIL import Image
    img = Image.open(io.BytesIO(png)).convert("RGB")
    raw = img.tobytes()
    row = img.width * 3
    rows = b"".join(b"\x00" + raw[y * row:(y + 1) * row] for y in range(img.height))  # filter 0: none
    return img.width, img.height, zlib.compress(rows, 1)


def _png_page(writer, png: bytes) -> None:
    """Append to ``writer`` a page of the report's size covered by ``png``."""
    from pypdf.generic import DecodedStreamObject, DictionaryObject, EncodedStreamObject, NameObject, NumberObject
    width, height, stream = _png_rgb(png)
    image = EncodedStreamObject()  # the PNG's stream, already compressed: written as it is
    image._data = stream
    image.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Image"),
                  NameObject("/Width"): NumberObject(width), NameObject("/Height"): NumberObject(height),
                  NameObject("/ColorSpace"): NameObject("/DeviceRGB"), NameObject("/BitsPerComponent"): NumberObject(8),
                  NameObject("/Filter"): NameObject("/FlateDecode"),
                  NameObject("/DecodeParms"): DictionaryObject({
                      NameObject("/Predictor"): NumberObject(15), NameObject("/Colors"): NumberObject(3),
                      NameObject("/BitsPerComponent"): NumberObject(8), NameObject("/Columns"): NumberObject(width)})})
    w, h = PAGE
    content = DecodedStreamObject()
    content.set_data(f"q {w:g} 0 0 {h:g} 0 0 cm /Im0 Do Q".encode())
    page = writer.add_blank_page(w, h)
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/XObject"): DictionaryObject(
        {NameObject("/Im0"): writer._add_object(image)})})
    page[NameObject("/Contents")] = writer._add_object(content)
