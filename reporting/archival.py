"""Decision documents as PDF/A-2a and PDF/UA-1 in one file: archival and accessible.

WeasyPrint writes the PDF/A-2a file (`pdf_variant="pdf/a-2a"`): fonts embedded, an sRGB
output intent, a trailer ID, and the tagged structure (headings, paragraphs, lists, tables
with their header cells) that level "a" and PDF/UA both ask for. WeasyPrint claims one
standard per file, so `finish` replaces its XMP packet with one that claims both and says
what the document is: title, author, language, the grant, the diarienummer and the date.
The packet is left uncompressed, as PDF/A requires of the document's metadata stream.

Every property outside XMP's own schemas (PDF/UA's identification, ours) is declared in a
PDF/A extension schema, without which a PDF/A validator refuses the packet.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

import pydyf

PDF_VARIANT = "pdf/a-2a"
# What `reporting.pdf` passes to WeasyPrint's write_pdf, with `finish` as the finisher.
WRITE_OPTIONS = {"pdf_variant": PDF_VARIANT}
# The levels the file claims, as `page-validation` names its profiles (tests validate both).
PROFILES = ("2a", "ua1")

# What the templates put in <meta name="…"> for `finish` to carry into the XMP and /Info.
META_GRANT = "stimulans.grant"
META_REFERENCE = "stimulans.reference"
META_DATE = "stimulans.date"
META_KIND = "stimulans.kind"

NS_STIMULANS = "urn:stimulans:ns:document:1.0/"
# (XMP name, meta name, /Info key, description) of our own properties.
PROPERTIES = (
    ("grant", META_GRANT, "Grant", "The grant (stimulansmedel) the document is about"),
    ("reference", META_REFERENCE, "Diarienummer", "The diarienummer of the matter"),
    ("date", META_DATE, "DecisionDate", "The date of the decision or the meeting"),
    ("kind", META_KIND, "DocumentKind", "What the document is, e.g. tjänsteutlåtande"),
)

XMP_HEADER = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
XMP_FOOTER = '<?xpacket end="r"?>'


def _extension_schemas() -> str:
    """The pdfaExtension declarations of the pdfuaid and stimulans schemas."""

    def schema(name: str, uri: str, prefix: str, properties: list[tuple[str, str, str]]) -> str:
        props = "".join(
            "<rdf:li rdf:parseType='Resource'>"
            f"<pdfaProperty:name>{prop}</pdfaProperty:name>"
            f"<pdfaProperty:valueType>{kind}</pdfaProperty:valueType>"
            "<pdfaProperty:category>internal</pdfaProperty:category>"
            f"<pdfaProperty:description>{escape(text)}</pdfaProperty:description>"
            "</rdf:li>"
            for prop, kind, text in properties
        )
        return (
            "<rdf:li rdf:parseType='Resource'>"
            f"<pdfaSchema:schema>{escape(name)}</pdfaSchema:schema>"
            f"<pdfaSchema:namespaceURI>{uri}</pdfaSchema:namespaceURI>"
            f"<pdfaSchema:prefix>{prefix}</pdfaSchema:prefix>"
            f"<pdfaSchema:property><rdf:Seq>{props}</rdf:Seq></pdfaSchema:property>"
            "</rdf:li>"
        )

    return (
        "<rdf:Description rdf:about=''"
        " xmlns:pdfaExtension='http://www.aiim.org/pdfa/ns/extension/'"
        " xmlns:pdfaSchema='http://www.aiim.org/pdfa/ns/schema#'"
        " xmlns:pdfaProperty='http://www.aiim.org/pdfa/ns/property#'>"
        "<pdfaExtension:schemas><rdf:Bag>"
        + schema(
            "PDF/UA identification schema",
            "http://www.aiim.org/pdfua/ns/id/",
            "pdfuaid",
            [("part", "Integer", "Part of ISO 14289 the file conforms to")],
        )
        + schema(
            "stimulans decision document",
            NS_STIMULANS,
            "stimulans",
            [(name, "Text", text) for name, _meta, _info, text in PROPERTIES],
        )
        + "</rdf:Bag></pdfaExtension:schemas></rdf:Description>"
    )


def xmp_packet(metadata, producer: str) -> bytes:
    """The XMP of a document: PDF/A-2a and PDF/UA-1, Dublin Core, dates and ours."""
    custom = metadata.custom
    dc = []
    if metadata.title:
        dc.append(
            "<dc:title><rdf:Alt><rdf:li xml:lang='x-default'>"
            f"{escape(metadata.title)}</rdf:li></rdf:Alt></dc:title>"
        )
    if metadata.authors:
        # /Info's Author is the authors joined; XMP must say the same in one item.
        dc.append(
            "<dc:creator><rdf:Seq>"
            f"<rdf:li>{escape(', '.join(metadata.authors))}</rdf:li></rdf:Seq></dc:creator>"
        )
    if metadata.description:
        dc.append(
            "<dc:description><rdf:Alt><rdf:li xml:lang='x-default'>"
            f"{escape(metadata.description)}</rdf:li></rdf:Alt></dc:description>"
        )
    if metadata.lang:
        dc.append(
            f"<dc:language><rdf:Bag><rdf:li>{escape(metadata.lang)}</rdf:li></rdf:Bag>"
            "</dc:language>"
        )
    if custom.get(META_REFERENCE):
        dc.append(f"<dc:identifier>{escape(custom[META_REFERENCE])}</dc:identifier>")
    if metadata.keywords:
        items = "".join(f"<rdf:li>{escape(k)}</rdf:li>" for k in metadata.keywords)
        dc.append(f"<dc:subject><rdf:Bag>{items}</rdf:Bag></dc:subject>")
    pdf = [f"pdf:Producer={quoteattr(producer)}"]
    if metadata.keywords:
        pdf.append(f"pdf:Keywords={quoteattr(', '.join(metadata.keywords))}")
    xmp = []
    if metadata.generator:
        xmp.append(f"xmp:CreatorTool={quoteattr(metadata.generator)}")
    if metadata.created:
        xmp.append(f"xmp:CreateDate={quoteattr(metadata.created)}")
    if metadata.modified:
        xmp.append(f"xmp:ModifyDate={quoteattr(metadata.modified)}")
        xmp.append(f"xmp:MetadataDate={quoteattr(metadata.modified)}")
    ours = [
        f"stimulans:{name}={quoteattr(custom[meta])}"
        for name, meta, _info, _text in PROPERTIES
        if custom.get(meta)
    ]
    body = (
        "<rdf:Description rdf:about='' xmlns:pdfaid='http://www.aiim.org/pdfa/ns/id/'"
        " pdfaid:part='2' pdfaid:conformance='A'/>"
        "<rdf:Description rdf:about='' xmlns:pdfuaid='http://www.aiim.org/pdfua/ns/id/'"
        " pdfuaid:part='1'/>"
        "<rdf:Description rdf:about='' xmlns:dc='http://purl.org/dc/elements/1.1/'>"
        + "".join(dc)
        + "</rdf:Description>"
        "<rdf:Description rdf:about='' xmlns:pdf='http://ns.adobe.com/pdf/1.3/' "
        + " ".join(pdf)
        + "/>"
        "<rdf:Description rdf:about='' xmlns:xmp='http://ns.adobe.com/xap/1.0/' "
        + " ".join(xmp)
        + "/>"
        + (
            f"<rdf:Description rdf:about='' xmlns:stimulans='{NS_STIMULANS}' "
            + " ".join(ours)
            + "/>"
            if ours
            else ""
        )
        + _extension_schemas()
    )
    return (
        f"{XMP_HEADER}\n<x:xmpmeta xmlns:x='adobe:ns:meta/'>"
        "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
        f"{body}</rdf:RDF></x:xmpmeta>\n{XMP_FOOTER}"
    ).encode()


class _SafeEnd:
    """A stream whose data is followed by CR LF before `endstream`.

    pydyf writes a bare LF there; compressed data that happens to end in a CR (one
    stream in 256) then reads as data + CR LF, one byte short of its /Length, and the
    file fails PDF/A's stream-length rule (6.1.7.1). After CR LF the data's own CR
    stays data.
    """

    @property
    def data(self):
        data = super().data
        if not data.endswith(b"\nendstream"):  # pydyf changed: this fix must be looked at
            raise RuntimeError("pydyf no longer ends a stream with LF endstream")
        return data[: -len(b"\nendstream")] + b"\r\nendstream"


_SAFE: dict[type, type] = {}


def _safe_end(stream: pydyf.Stream) -> None:
    cls = type(stream)
    if not issubclass(cls, _SafeEnd):
        if cls not in _SAFE:
            _SAFE[cls] = type(f"SafeEnd{cls.__name__}", (_SafeEnd, cls), {})
        stream.__class__ = _SAFE[cls]


class _PDF(pydyf.PDF):
    """pydyf's PDF, whose object and cross-reference streams (made as it writes) end safely."""

    def add_object(self, pdf_object):
        if isinstance(pdf_object, pydyf.Stream):
            _safe_end(pdf_object)
        super().add_object(pdf_object)


def finish(document, pdf: pydyf.PDF) -> None:
    """WeasyPrint's finisher: our XMP packet and /Info entries; every stream ends safely."""
    metadata = document.metadata
    for _name, meta, info, _text in PROPERTIES:
        if metadata.custom.get(meta):
            pdf.info[info] = pydyf.String(metadata.custom[meta])
    reference = pdf.catalog["Metadata"]  # b"12 0 R"
    if isinstance(reference, bytes):
        reference = reference.decode()
    number = int(reference.split()[0])
    stream = pdf.objects[number]
    producer = pdf.info["Producer"]
    producer = producer.string if isinstance(producer, pydyf.String) else str(producer)
    stream.stream = [xmp_packet(metadata, producer)]
    stream.compress = False  # PDF/A: the metadata stays readable without a filter
    for pdf_object in pdf.objects:
        if isinstance(pdf_object, pydyf.Stream):
            _safe_end(pdf_object)
    pdf.__class__ = _PDF
