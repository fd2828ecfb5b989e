"""PDF/A-2b for every printout that may be filed: metadata, colour space, language.

A record's printouts go into the paper or electronic file, where they must stay
readable for years (docs/architecture.md, reports). PDF/A-2b (ISO 19005-2, level B) asks
for: every font embedded (``fonts.py`` embeds subsets, and the canvas starts in the
embedded font instead of reportlab's Helvetica), XMP metadata that repeats the document
information (title, author, dates, producer), an output intent with an ICC profile for
the device colours used (sRGB, ``resources/color/sRGB.icc``), the document language and
no encryption. :func:`apply` adds the metadata and the output intent to a reportlab
canvas just before it writes the file; nothing is post-processed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

from reportlab.pdfbase import pdfdoc

from intake_app.assets import resource

ICC_FILE = ("color", "sRGB.icc")
OUTPUT_CONDITION = "sRGB IEC61966-2.1"
#: What this module declares: PDF/A part 2, conformance level B.
PART, CONFORMANCE = "2", "B"

_XMP = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:pdf="http://ns.adobe.com/pdf/1.3/"
    xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{title}</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq><rdf:li>{author}</rdf:li></rdf:Seq></dc:creator>
   <dc:description><rdf:Alt>
    <rdf:li xml:lang="x-default">{subject}</rdf:li>
   </rdf:Alt></dc:description>
   <dc:language><rdf:Bag><rdf:li>{lang}</rdf:li></rdf:Bag></dc:language>
   <xmp:CreatorTool>{creator}</xmp:CreatorTool>
   <xmp:CreateDate>{date}</xmp:CreateDate>
   <xmp:ModifyDate>{date}</xmp:ModifyDate>
   <xmp:MetadataDate>{date}</xmp:MetadataDate>
   <pdf:Producer>{producer}</pdf:Producer>
   <pdf:Keywords>{keywords}</pdf:Keywords>
   <pdf:Trapped>{trapped}</pdf:Trapped>
   <pdfaid:part>{part}</pdfaid:part>
   <pdfaid:conformance>{conformance}</pdfaid:conformance>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


@lru_cache(maxsize=1)
def icc_profile() -> bytes:
    """The sRGB ICC profile shipped in ``resources/color`` (see its README)."""
    return resource(*ICC_FILE).read_bytes()


def _xmp_date(stamp: Any) -> str:
    """reportlab's document time stamp in ISO 8601, as the Info dictionary states it."""
    year, month, day, hour, minute, second = stamp.YMDhms
    return (
        f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
        f"{stamp.dhh:+03d}:{abs(stamp.dmm):02d}"
    )


def xmp(info: Any, *, lang: str, stamp: Any) -> bytes:
    """The XMP packet for a document with reportlab's ``info`` (kept identical to it)."""
    text = _XMP.format(
        title=escape(str(info.title)),
        author=escape(str(info.author)),
        subject=escape(str(info.subject)),
        lang=escape(lang or "de"),
        creator=escape(str(info.creator)),
        producer=escape(str(info.producer)),
        keywords=escape(str(info.keywords)),
        trapped=escape(str(info.trapped)),
        date=_xmp_date(stamp),
        part=PART,
        conformance=CONFORMANCE,
    )
    return text.encode("utf-8")


class _Metadata(pdfdoc.PDFStream):  # type: ignore[misc]
    """The XMP stream, left unfiltered so that archive tools can read it directly."""

    def __init__(self, content: bytes) -> None:
        super().__init__(
            dictionary=pdfdoc.PDFDictionary(
                {"Type": pdfdoc.PDFName("Metadata"), "Subtype": pdfdoc.PDFName("XML")}
            ),
            content=content,
            filters=[],
        )

    def format(self, document: pdfdoc.PDFDocument) -> bytes:
        self.filters: list[Any] = []  # the document's compression must not touch it
        self.dictionary["Length"] = len(self.content)
        return b"".join(
            [self.dictionary.format(document), b"\nstream\n", self.content, b"\nendstream"]
        )


def apply(canvas: Any, *, lang: str) -> None:
    """Make the document of ``canvas`` declare PDF/A-2b (call right before ``save``)."""
    doc = canvas._doc
    catalog = doc.Catalog
    if getattr(catalog, "OutputIntents", None) is not None:
        return
    profile = pdfdoc.PDFStream(
        dictionary=pdfdoc.PDFDictionary({"N": 3}), content=icc_profile(), filters=None
    )
    if doc.compression:
        profile.filters = [pdfdoc.PDFZCompress]
    intent = pdfdoc.PDFDictionary(
        {
            "Type": pdfdoc.PDFName("OutputIntent"),
            "S": pdfdoc.PDFName("GTS_PDFA1"),
            "OutputConditionIdentifier": pdfdoc.PDFString(OUTPUT_CONDITION),
            "Info": pdfdoc.PDFString(OUTPUT_CONDITION),
            "DestOutputProfile": doc.Reference(profile, "IntakeSRGBProfile"),
        }
    )
    catalog.OutputIntents = pdfdoc.PDFArray([intent])
    catalog.__NoDefault__ = [*catalog.__NoDefault__, "OutputIntents"]
    catalog.Metadata = _Metadata(xmp(doc.info, lang=lang, stamp=doc._timeStamp))
    if not getattr(catalog, "Lang", None):
        catalog.Lang = pdfdoc.PDFString(lang or "de")
