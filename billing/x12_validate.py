"""pyx12 validation of X12 files, in this process or split over worker processes.

No Django here: worker processes (spawned) import only this module and pyx12. pyx12 walks the 835 map at
roughly 1,000-2,000 segments a second on this machine, so a 10,000-claim 835 takes ~10-20 s in one
process. One ST/SE transaction of many claim payments (CLP loops) is split into chunks that are each
a complete 835 (the same envelope and header, a share of the CLP loops, SE counted again) and validated
in parallel; the envelope of the original (SE, GE and IEA counts and control numbers) is checked here,
since no chunk contains it. Files with several interchanges, groups or transactions are validated whole.
"""

import io
import logging
import threading
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import pyx12.params
import pyx12.x12n_document

# pyx12 logs the segments it refuses, patient names among them: they go to the importer, not to the logs.
_log = logging.getLogger("pyx12")
_log.propagate = False
_log.addHandler(logging.NullHandler())
_captured = threading.local()


class _Capture(logging.Handler):
    def emit(self, record):
        found = getattr(_captured, "errors", None)
        if found is not None and record.levelno >= logging.ERROR:
            found.append(record.getMessage())


_log.addHandler(_Capture())


def validate_text(text: str) -> list[str]:
    """pyx12's findings on one X12 document (empty: valid)."""
    _captured.errors = []
    try:
        ok = pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text), None, None)
        errors = list(_captured.errors)
    finally:
        _captured.errors = None
    if ok:
        return []
    return errors or ["The file is not valid X12."]


def separators(text: str) -> tuple[str, str]:
    """(element separator, segment terminator) as the ISA segment declares them."""
    text = text.lstrip()
    if len(text) < 106 or not text.startswith("ISA"):
        raise ValueError("not an X12 interchange")
    return text[3], text[105]


def segments(text: str) -> list[str]:
    element, terminator = separators(text)
    return [s.strip() for s in text.strip().split(terminator) if s.strip()]


def _envelope_errors(segs: list[str], element: str) -> list[str]:
    ids = [s.split(element, 1)[0] for s in segs]
    errors = []
    st, se = segs[ids.index("ST")].split(element), segs[ids.index("SE")].split(element)
    counted = ids.index("SE") - ids.index("ST") + 1
    if se[1:2] != [str(counted)]:
        errors.append(f"SE01 says {se[1] if len(se) > 1 else '?'} segments; the transaction has {counted}.")
    if se[2:3] != st[2:3]:
        errors.append("SE02 is not the transaction's control number (ST02).")
    gs, ge = segs[ids.index("GS")].split(element), segs[ids.index("GE")].split(element)
    if ge[1:2] != ["1"] or ge[2:3] != gs[6:7]:
        errors.append("GE does not close its group (count or control number).")
    isa, iea = segs[0].split(element), segs[ids.index("IEA")].split(element)
    if iea[1:2] != ["1"] or iea[2:3] != isa[13:14]:
        errors.append("IEA does not close its interchange (count or control number).")
    return errors


def split(text: str, parts: int) -> list[str] | None:
    """The document as `parts` complete 835s over shares of its CLP loops, or None if it cannot be split."""
    element, terminator = separators(text)
    segs = segments(text)
    ids = [s.split(element, 1)[0] for s in segs]
    if parts < 2 or ids.count("ISA") != 1 or ids.count("GS") != 1 or ids.count("ST") != 1 or "CLP" not in ids:
        return None
    first_claim, se_at = ids.index("CLP"), ids.index("SE")
    trailer_at = next((i for i in range(first_claim, se_at) if ids[i] == "PLB"), se_at)
    header, trailer = segs[:first_claim], segs[trailer_at:se_at]  # the PLB adjustments go with the last share
    starts = [i for i in range(first_claim, trailer_at) if ids[i] == "CLP"]
    if len(starts) < parts * 500:  # small files: one process is quicker than starting others
        return None
    bounds = [starts[len(starts) * k // parts] for k in range(parts)] + [trailer_at]
    st_at = ids.index("ST")
    chunks = []
    for k in range(parts):
        body = header + segs[bounds[k] : bounds[k + 1]] + (trailer if k == parts - 1 else [])
        st = segs[st_at].split(element)
        count = len(body) - st_at + 1
        closing = [element.join(["SE", str(count), st[2]]), *segs[se_at + 1 :]]
        chunks.append((terminator + "\n").join(body + closing) + terminator + "\n")
    return chunks


def validate(text: str, *, workers: int = 1) -> list[str]:
    """Validate an X12 file, over `workers` processes when it is one large 835 transaction."""
    chunks = split(text, workers) if workers > 1 else None
    if chunks is None:
        return validate_text(text)
    element, _ = separators(text)
    errors = _envelope_errors(segments(text), element)
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        for found in pool.map(validate_text, chunks):
            errors += found
    return errors
